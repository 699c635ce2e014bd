"""Who may do what: one place for every permission rule."""

from dataclasses import dataclass

from app.models import Facility, Region, User


@dataclass(frozen=True)
class Actor:
    """Who acts, by which channel, and from where: recorded in history and audit."""

    user: User | None
    source: str  # web, api, sms, import, system
    ip: str | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    def has_role(self, *roles: str) -> bool:
        return self.user is not None and self.user.has_role(*roles)


SYSTEM = Actor(user=None, source="system")


def can_update_facility(user: User | None, facility: Facility) -> bool:
    """Admins, and shelter staff of this very facility."""
    if user is None:
        return False
    if user.has_role("admin"):
        return True
    return user.has_role("shelter_staff") and facility in user.facilities


def can_see_address(user: User | None, facility: Facility) -> bool:
    """PRODUCT.md section 5, rule 1: a confidential address reaches only the
    facility's own staff and admins. Partners never see an address."""
    if user is None:
        return False
    if user.has_role("admin"):
        return True
    if user.has_role("shelter_staff") and facility in user.facilities:
        return True
    return not facility.confidential and user.has_role("operator", "manager", "shelter_staff")


def sees_every_region(user: User) -> bool:
    return user.has_role("operator", "manager", "partner", "admin")


def visible_region_ids(user: User) -> set[int] | None:
    """The regions whose counts this user sees; None means all of them."""
    if sees_every_region(user):
        return None
    ids = {region.id for region in user.regions}
    ids.update(facility.region_id for facility in user.facilities)
    return ids


def may_see_region(user: User, region: Region) -> bool:
    ids = visible_region_ids(user)
    return ids is None or region.id in ids


def export_shows_address(facility: Facility, *, include_confidential: bool) -> bool:
    """The facility file export: open addresses always; a confidential one only
    in the admin's explicit `--include-confidential` backup (PRODUCT.md
    section 5, rule 1), which audits each reveal."""
    return include_confidential or not facility.confidential
