"""Organisations (providers and referrers): the admin's list, create and edit."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Organisation, Region
from app.models.geography import ORGANISATION_KINDS
from app.services.core import audit, validation
from app.services.core.access import Actor
from app.services.core.errors import Conflict, InvalidInput, NotFound


def all_organisations() -> list[Organisation]:
    return list(db.session.scalars(
        select(Organisation).options(selectinload(Organisation.region)).order_by(Organisation.name)
    ))


def get_organisation(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {organisation_id}")
    return organisation


def save(
    actor: Actor,
    now: datetime,
    *,
    organisation: Organisation | None = None,
    slug: str,
    name: str,
    kind: str,
    region_slug: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> Organisation:
    """Create an organisation (`organisation` None) or update one."""
    slug = validation.slug(slug, "slug", 120)
    name = validation.text(name, "name", 200, required=True)
    kind = (kind or "").strip()
    if kind not in ORGANISATION_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(ORGANISATION_KINDS)}", field="kind")
    region = None
    region_slug = (region_slug or "").strip()
    if region_slug:
        region = db.session.scalar(select(Region).where(Region.slug == region_slug))
        if region is None:
            raise InvalidInput(f"unknown region {region_slug!r}", field="region")
    phone = validation.phone(phone, "phone")
    email = validation.email(email, "email", limit=200)
    clash = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if clash is not None and clash is not organisation:
        raise Conflict(f"an organisation with the slug {slug} exists", field="slug")

    creating = organisation is None
    if creating:
        organisation = Organisation()
        db.session.add(organisation)
    organisation.slug = slug
    organisation.name = name
    organisation.kind = kind
    organisation.region = region
    organisation.phone = phone
    organisation.email = email
    db.session.flush()
    audit.record(actor, "organisation.create" if creating else "organisation.update", now, organisation,
                 slug=slug, kind=kind, region=region.slug if region else None)
    return organisation
