"""Care regions: the admin's list, create and edit."""

import re
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Region
from app.services.core import audit
from app.services.core.access import Actor
from app.services.core.errors import Conflict, InvalidInput, NotFound

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def all_regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def get_region(region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(f"no region {region_id}")
    return region


def clean_slug(value, *, max_length: int, field: str = "slug") -> str:
    slug = (value or "").strip()
    if not slug:
        raise InvalidInput(f"{field} is required", field=field)
    if len(slug) > max_length:
        raise InvalidInput(f"{field} is too long (at most {max_length} characters)", field=field)
    if not SLUG.match(slug):
        raise InvalidInput(f"{field}: lowercase letters, digits and dashes only", field=field)
    return slug


def clean_text(value, field: str, *, max_length: int, required: bool = True) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is too long (at most {max_length} characters)", field=field)
    return text or None


def save(actor: Actor, now: datetime, *, region: Region | None = None, slug: str, name: str) -> Region:
    """Create a region (`region` None) or update one."""
    slug = clean_slug(slug, max_length=64)
    name = clean_text(name, "name", max_length=120)
    clash = db.session.scalar(select(Region).where(Region.slug == slug))
    if clash is not None and clash is not region:
        raise Conflict(f"a region with the slug {slug} exists", field="slug")
    creating = region is None
    if creating:
        region = Region()
        db.session.add(region)
    before = {} if creating else {"slug": region.slug, "name": region.name}
    region.slug = slug
    region.name = name
    db.session.flush()
    audit.record(actor, "region.create" if creating else "region.update", now, region,
                 slug=slug, name=name, **({"before": before} if before else {}))
    return region
