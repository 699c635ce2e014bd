"""The hotline simulator page, `/hotline-simulator`: in development only
(app.debug, or HOTLINE_SIMULATOR_PAGE), for operators and admins. It places a
simulated call or sends a simulated text through app.web.simulator, as
`flask hotline simulate` does. Not under /hotline/, where every route needs
Twilio's signature. Anywhere else (production) it does not exist: 404.
"""

from flask import Blueprint, abort, current_app

bp = Blueprint("simulator", __name__, url_prefix="/hotline-simulator")


def enabled() -> bool:
    return bool(current_app.debug or current_app.config.get("HOTLINE_SIMULATOR_PAGE"))


@bp.before_request
def only_in_development():
    if not enabled():
        abort(404)


from app.simulator import routes  # noqa: E402,F401
