import math
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.auth import bp
from app.auth.forms import LoginForm
from app.services.accounts import users
from app.services.core import audit
from app.web import unit_of_work
from app.web.auth import current_actor, login_required, sign_in, sign_out


def _safe_next(target: str | None) -> str:
    # Only local paths: never send a user on to another site after sign-in.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        now = clock.now()
        try:
            user = users.authenticate(form.email.data, form.password.data, now, ip=request.remote_addr)
        except users.LoginRefused as refused:
            # Failed attempts count even though the login is refused (answered 401 or 429).
            unit_of_work.commit_now()
            if refused.retry_after is None:
                return render_template("auth/login.html", form=form,
                                       error=_("Wrong e-mail address or password.")), 401
            # The same answer whether the e-mail address has an account or not.
            message = _("Too many failed attempts. Try again after %(time)s.",
                        time=format_datetime(now + refused.retry_after, "short"))
            return render_template("auth/login.html", form=form, error=message), 429, {
                "Retry-After": str(math.ceil(refused.retry_after.total_seconds()))}
        sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record(current_actor(), "logout", clock.now(), current_user._get_current_object())
    sign_out()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():
    """Switch the interface language; remembered on the account."""
    choice = request.form.get("language")
    if choice not in current_app.config["LANGUAGES"]:
        abort(400, f"language must be one of {', '.join(current_app.config['LANGUAGES'])}")
    if current_user.is_authenticated:
        current_user.language = choice
    session["language"] = choice
    return redirect(_safe_next(request.form.get("next")))
