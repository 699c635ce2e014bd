"""Care regions: the admin's list, create and edit."""

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Region
from app.services.core import audit, validation
from app.services.core.access import Actor
from app.services.core.errors import Conflict, NotFound


def all_regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def get_region(region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(f"no region {region_id}")
    return region


def save(actor: Actor, now: datetime, *, region: Region | None = None, slug: str, name: str) -> Region:
    """Create a region (`region` None) or update one."""
    slug = validation.slug(slug, "slug", 64)
    name = validation.text(name, "name", 120, required=True)
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
