"""Admin pages: thin views over the services, which validate and audit.

An invalid form is shown again with the service's message next to its field,
status 400 (409 when someone else changed the same counts first), and
nothing written."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app import clock
from app.admin import bp
from app.admin.forms import (
    FacilityForm,
    KindForm,
    OrganisationForm,
    RegionForm,
    RiskItemForm,
    RiskScaleForm,
    UserForm,
    hours_from_form,
    hours_from_model,
    hours_value,
    units_from_form,
    units_from_model,
)
from app.extensions import db
from app.labels import CLIENT_TYPE_LABELS, COUNTS_LABELS, DAY_LABELS, FACILITY_TYPE_LABELS, ORGANISATION_KIND_LABELS
from app.models import ApiToken, CapacityKind, Facility, Organisation, Region, RiskItem, User
from app.services.accounts import users as accounts
from app.services.core.access import RISK_INSTRUMENT_EDITORS
from app.services.core.errors import Conflict, InvalidInput, ServiceError
from app.services.hotline import risk_instrument
from app.services.registry import capacity, facilities, kinds, organisations, regions
from app.services.registry.presenters import present
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.numbers import positive_int


def _saved(message: str, endpoint: str, **values):
    flash(message, "success")
    return redirect(url_for(endpoint, **values), 303)


def _invalid(exc: ServiceError, template: str, **context):
    """The form again, with the error; whatever the attempt wrote is undone
    (unit_of_work.change)."""
    status = 409 if isinstance(exc, Conflict) and exc.current else 400
    return render_template(template, error=exc, **context), status


@bp.route("/")
@roles_required("admin")
def index():
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (("users", User), ("regions", Region), ("organisations", Organisation),
                            ("facilities", Facility), ("kinds", CapacityKind), ("risk_items", RiskItem))
    }
    return render_template("admin/index.html", counts=counts)


# Users -------------------------------------------------------------------


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user) if user is not None and request.method == "GET" else UserForm()
    if user is not None and request.method == "GET":
        form.roles.data = sorted(user.roles)
        form.regions.data = [region.slug for region in user.regions]
        form.facilities.data = [facility.slug for facility in user.facilities]
        form.password.data = ""
    form.set_choices(regions.all_regions(), db.session.scalars(select(Facility).order_by(Facility.name)))
    return form


def _save_user(form: UserForm, user: User | None) -> User:
    return accounts.save_user(
        current_actor(),
        clock.now(),
        user=user,
        email=form.email.data or "",
        name=form.name.data or "",
        roles=form.roles.data or [],
        region_slugs=form.regions.data or [],
        facility_slugs=form.facilities.data or [],
        phone=form.phone.data,
        language=form.language.data or "",
        password=form.password.data or None,
        alert_channels=form.alert_channels.data or [],
    )


@bp.route("/users")
@roles_required("admin")
def users():
    listed = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=listed)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user():
    form = _user_form()
    if request.method == "POST":
        try:
            with unit_of_work.change():
                user = _save_user(form, None)
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/user_form.html", form=form, user=None)
        return _saved(_("User %(email)s created.", email=user.email), "admin.edit_user", user_id=user.id)
    return render_template("admin/user_form.html", form=form, user=None, error=None)


def _tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_user(user_id: int):
    user = accounts.get_user(user_id)
    form = _user_form(user)
    if request.method == "POST":
        try:
            with unit_of_work.change():
                _save_user(form, user)
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/user_form.html", form=form, user=user, tokens=_tokens(user))
        return _saved(_("User %(email)s saved.", email=user.email), "admin.edit_user", user_id=user.id)
    return render_template("admin/user_form.html", form=form, user=user, tokens=_tokens(user), error=None)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required("admin")
def set_user_active(user_id: int):
    user = accounts.get_user(user_id)
    choice = request.form.get("active")
    if choice not in ("0", "1"):
        raise InvalidInput("active must be 0 or 1", field="active")
    if choice == "0" and user.id == current_user.id:
        raise Conflict("you cannot deactivate your own account")
    accounts.set_active(current_actor(), user, choice == "1", clock.now())
    message = _("%(email)s is active again.", email=user.email) if choice == "1" else _(
        "%(email)s is deactivated: signed out everywhere, API tokens revoked.", email=user.email)
    return _saved(message, "admin.edit_user", user_id=user.id)


@bp.route("/users/<int:user_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke_user(user_id: int):
    user = accounts.get_user(user_id)
    revoked = accounts.revoke_sessions_and_tokens(current_actor(), user, clock.now())
    return _saved(_("%(email)s is signed out everywhere; %(n)d API tokens revoked.", email=user.email, n=revoked),
                  "admin.edit_user", user_id=user.id)


@bp.route("/users/<int:user_id>/token", methods=["POST"])
@roles_required("admin")
def create_token(user_id: int):
    """The token is in this answer only: it is not kept, and the answer is
    not cached, so that it cannot be shown again."""
    user = accounts.get_user(user_id)
    with unit_of_work.change():
        token = accounts.create_token(current_actor(), user, clock.now())
    response = render_template("admin/token.html", user=user, token=token)
    return response, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


# Regions -----------------------------------------------------------------


@bp.route("/regions")
@roles_required("admin")
def regions_list():
    return render_template("admin/regions.html", regions=regions.all_regions())


def _region_page(region: Region | None):
    form = RegionForm(obj=region) if region is not None and request.method == "GET" else RegionForm()
    if request.method == "POST":
        try:
            with unit_of_work.change():
                region = regions.save(current_actor(), clock.now(), region=region, slug=form.slug.data,
                                      name=form.name.data)
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/region_form.html", form=form, region=region)
        return _saved(_("Region %(name)s saved.", name=region.name), "admin.regions_list")
    return render_template("admin/region_form.html", form=form, region=region, error=None)


@bp.route("/regions/new", methods=["GET", "POST"])
@roles_required("admin")
def new_region():
    return _region_page(None)


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_region(region_id: int):
    return _region_page(regions.get_region(region_id))


# Organisations -----------------------------------------------------------


@bp.route("/organisations")
@roles_required("admin")
def organisations_list():
    return render_template("admin/organisations.html", organisations=organisations.all_organisations(),
                           kind_labels=ORGANISATION_KIND_LABELS)


def _organisation_page(organisation: Organisation | None):
    if organisation is not None and request.method == "GET":
        form = OrganisationForm(obj=organisation)
        form.region.data = organisation.region.slug if organisation.region else ""
    else:
        form = OrganisationForm()
    form.set_choices(regions.all_regions())
    if request.method == "POST":
        try:
            with unit_of_work.change():
                organisation = organisations.save(
                    current_actor(), clock.now(), organisation=organisation, slug=form.slug.data, name=form.name.data,
                    kind=form.kind.data, region_slug=form.region.data, phone=form.phone.data, email=form.email.data,
                )
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/organisation_form.html", form=form, organisation=organisation)
        return _saved(_("Organisation %(name)s saved.", name=organisation.name), "admin.organisations_list")
    return render_template("admin/organisation_form.html", form=form, organisation=organisation, error=None)


@bp.route("/organisations/new", methods=["GET", "POST"])
@roles_required("admin")
def new_organisation():
    return _organisation_page(None)


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_organisation(organisation_id: int):
    return _organisation_page(organisations.get_organisation(organisation_id))


# Capacity kinds ----------------------------------------------------------


@bp.route("/kinds")
@roles_required("admin")
def kinds_list():
    return render_template("admin/kinds.html", kinds=capacity.all_kinds(), unit_counts=kinds.unit_counts(),
                           counts_labels=COUNTS_LABELS, client_type_labels=CLIENT_TYPE_LABELS)


def _labelled_form(form_class, record, languages):
    """The form of a record with labels per language (a kind, a risk item):
    filled from the record on GET, from the request on POST."""
    if record is None or request.method != "GET":
        return form_class()
    form = form_class(obj=record)
    for language in languages:
        form[f"label_{language}"].data = record.labels.get(language, "")
    return form


def _labels(form, languages) -> dict:
    return {language: form[f"label_{language}"].data for language in languages}


def _kind_page(kind: CapacityKind | None):
    form = _labelled_form(KindForm, kind, kinds.LABEL_LANGUAGES)
    if request.method == "POST":
        try:
            with unit_of_work.change():
                kind = kinds.save(
                    current_actor(), clock.now(), kind=kind, code=form.code.data,
                    labels=_labels(form, kinds.LABEL_LANGUAGES),
                    counts=form.counts.data, serves=form.serves.data or [], position=form.position.data,
                    requires_acceptance=form.requires_acceptance.data,
                )
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/kind_form.html", form=form, kind=kind)
        return _saved(_("Capacity kind %(code)s saved.", code=kind.code), "admin.kinds_list")
    if kind is None:
        form.position.data = str(max((k.position for k in capacity.all_kinds()), default=0) + 1)
    return render_template("admin/kind_form.html", form=form, kind=kind, error=None)


@bp.route("/kinds/new", methods=["GET", "POST"])
@roles_required("admin")
def new_kind():
    return _kind_page(None)


@bp.route("/kinds/<int:kind_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_kind(kind_id: int):
    return _kind_page(kinds.get_kind(kind_id))


# The risk instrument ------------------------------------------------------


@bp.route("/risk")
@roles_required(*RISK_INSTRUMENT_EDITORS)
def risk_items():
    return render_template("admin/risk_items.html", items=risk_instrument.all_items(), scale=risk_instrument.scale())


def _risk_item_page(item: RiskItem | None):
    form = _labelled_form(RiskItemForm, item, risk_instrument.LABEL_LANGUAGES)
    if request.method == "POST":
        try:
            with unit_of_work.change():
                item = risk_instrument.save_item(
                    current_actor(), clock.now(), item=item, key=form.key.data,
                    labels=_labels(form, risk_instrument.LABEL_LANGUAGES),
                    weight=form.weight.data, critical=form.critical.data, child_at_risk=form.child_at_risk.data,
                    active=form.active.data, position=form.position.data,
                )
        except (InvalidInput, Conflict) as exc:
            return _invalid(exc, "admin/risk_item_form.html", form=form, item=item)
        return _saved(_("Risk item %(key)s saved.", key=item.key), "admin.risk_items")
    if item is None:
        form.active.data = True
        form.position.data = str(max((i.position for i in risk_instrument.all_items()), default=0) + 1)
    return render_template("admin/risk_item_form.html", form=form, item=item, error=None)


@bp.route("/risk/items/new", methods=["GET", "POST"])
@roles_required(*RISK_INSTRUMENT_EDITORS)
def new_risk_item():
    return _risk_item_page(None)


@bp.route("/risk/items/<int:risk_item_id>", methods=["GET", "POST"])
@roles_required(*RISK_INSTRUMENT_EDITORS)
def edit_risk_item(risk_item_id: int):
    return _risk_item_page(risk_instrument.get_item(risk_item_id))


@bp.route("/risk/scale", methods=["GET", "POST"])
@roles_required(*RISK_INSTRUMENT_EDITORS)
def risk_scale():
    scale = risk_instrument.scale()
    if request.method == "GET":
        form = RiskScaleForm(obj=scale)
        form.validated.data = not scale.demonstration
    else:
        form = RiskScaleForm()
        try:
            with unit_of_work.change():
                risk_instrument.save_scale(current_actor(), clock.now(), name=form.name.data,
                                           elevated_at=form.elevated_at.data, high_at=form.high_at.data,
                                           validated=form.validated.data)
        except InvalidInput as exc:
            return _invalid(exc, "admin/risk_scale_form.html", form=form)
        return _saved(_("Risk scale saved."), "admin.risk_items")
    return render_template("admin/risk_scale_form.html", form=form, error=None)


# Facilities --------------------------------------------------------------


@bp.route("/facilities")
@roles_required("admin")
def facilities_list():
    all_regions = regions.all_regions()
    slug = request.args.get("region", "")
    region = next((r for r in all_regions if r.slug == slug), None)
    if slug and region is None:
        raise InvalidInput(f"unknown region {slug!r}", field="region")
    query = capacity.facilities_query({region.id} if region else None).order_by(Facility.name, Facility.id)
    pagination = db.paginate(query, page=request.args.get("page", 1, type=positive_int), per_page=100, error_out=False)
    return render_template("admin/facilities.html",
                           facilities=[present(facility, current_user) for facility in pagination.items],
                           pagination=pagination, regions=all_regions, region=region, type_labels=FACILITY_TYPE_LABELS)


def _facility_data(form: FacilityForm, hours: dict, units: dict) -> dict:
    data = {name: form[name].data for name in FacilityForm.FIELDS}
    data["intake_hours"] = hours_value(hours)
    for code, parts in units.items():
        for part in ("total", "available", "room_size"):
            data[f"{code}_{part}"] = parts[part]
    return data


def _facility_page(facility: Facility | None):
    all_kinds = capacity.all_kinds()
    # The address reaches the form through the presenter, which audits its reveal.
    shown = present(facility, current_user) if facility else None
    if request.method == "POST":
        form = FacilityForm()
        hours = hours_from_form(request.form)
        units = units_from_form(request.form, all_kinds)
    elif facility is not None:
        form = FacilityForm(obj=shown)
        form.region.data = facility.region.slug
        form.organisation.data = facility.organisation.slug if facility.organisation else ""
        hours = hours_from_model(facility.intake_hours)
        units = units_from_model(facility)
    else:
        form = FacilityForm(data={"open_for_intake": True, "stale_after_hours": "12", "languages": ["nl"]})
        hours = hours_from_model({"always": True})
        units = {}
    form.set_choices(regions.all_regions(), organisations.all_organisations())
    context = {"form": form, "facility": shown,
               "kinds": all_kinds, "hours": hours, "units": units, "days": DAY_LABELS,
               "existing": {u.kind.code for u in facility.units} if facility else set()}
    if request.method == "POST":
        try:
            with unit_of_work.change():
                clean = facilities.validate(_facility_data(form, hours, units), all_kinds)
                now = clock.now()
                if facility is None:
                    facility = facilities.create(current_actor(), clean, now)
                else:
                    versions = {code: parts["version"] for code, parts in units.items() if parts["version"]}
                    facilities.save(current_actor(), clean, now, facility=facility, versions=versions)
        except (InvalidInput, Conflict) as exc:
            unit = exc.current.get("unit")
            if unit is not None:
                # Show what the counts are now, with their version, so that saving again is a choice.
                units[unit.kind.code] = units_from_model(unit.facility)[unit.kind.code]
            return _invalid(exc, "admin/facility_form.html", **context)
        return _saved(_("Facility %(name)s saved.", name=facility.name), "admin.edit_facility",
                      facility_id=facility.id)
    return render_template("admin/facility_form.html", error=None, **context)


@bp.route("/facilities/new", methods=["GET", "POST"])
@roles_required("admin")
def new_facility():
    return _facility_page(None)


@bp.route("/facilities/<int:facility_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_facility(facility_id: int):
    return _facility_page(facilities.get_facility(facility_id))
