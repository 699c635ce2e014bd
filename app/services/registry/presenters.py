"""A facility as one viewer may see it: the only way a page, an API answer, an
export or a message reaches a facility's street or coordinates.

PRODUCT.md section 5, rule 1: a confidential address reaches only the
facility's own staff and admins, and the admin's explicit
`--include-confidential` backup. `access` decides who; the presented facility
simply has no street, lat or lon for anyone else (they are None, and
`shows_address` is False), and a confidential one no postcode either: the
municipality alone says where it is (API.md).

Rule 5: a confidential address read (`street`, `lat` or `lon`) from what
`present` gave someone other than the facility's own staff (an admin) sends
`address_revealed`; the web layer (app/web/reveals.py) audits it. A page that
lists such facilities without their address reveals nothing. The export
audits its own."""

from dataclasses import dataclass, field

from blinker import Namespace

from app.models import CapacityUnit, Facility, User
from app.services.core.access import can_see_address, export_shows_address, reveal_is_audited

# Sent with `facility` and `viewer` on each read of an address whose reveal is audited.
address_revealed = Namespace().signal("address-revealed")


@dataclass(frozen=True)
class PresentedFacility:
    id: int
    slug: str
    name: str
    type: str
    region_slug: str
    region_name: str
    organisation_slug: str | None
    municipality: str
    # With the municipality to everyone, but for a confidential facility only
    # with its address: in a town of several postcodes (Gent) it narrows down
    # where the refuge is.
    postcode: str | None
    confidential: bool
    intake_phone: str | None
    intake_hours: dict
    open_for_intake: bool
    closed_reason: str | None
    stale_after_hours: int
    genders: tuple[str, ...]
    children: bool
    max_children: int | None
    max_child_age: int | None
    max_boy_age: int | None
    wheelchair: bool
    pets: bool
    high_security: bool
    languages: tuple[str, ...]
    units: tuple[CapacityUnit, ...]
    # Whether this viewer may see where the facility is; when not, `street`,
    # `lat` and `lon` are None whatever the facility has.
    shows_address: bool
    _street: str | None
    _lat: float | None
    _lon: float | None
    # (facility, viewer) when reading the address is a reveal to audit.
    _audited_reveal: tuple[Facility, User] | None = field(default=None, repr=False, compare=False)

    @property
    def street(self) -> str | None:
        return self._revealed(self._street)

    @property
    def lat(self) -> float | None:
        return self._revealed(self._lat)

    @property
    def lon(self) -> float | None:
        return self._revealed(self._lon)

    def _revealed(self, value):
        if self._audited_reveal is not None:
            facility, viewer = self._audited_reveal
            address_revealed.send(facility=facility, viewer=viewer)
        return value


def present(facility: Facility, viewer: User | None) -> PresentedFacility:
    """`facility` as `viewer` (a signed-in user, or None) may see it."""
    return _presented(facility, shows_address=can_see_address(viewer, facility),
                      audited_reveal=(facility, viewer) if reveal_is_audited(viewer, facility) else None)


def present_for_export(facility: Facility, *, include_confidential: bool) -> PresentedFacility:
    """`facility` as the facility file export writes it: open addresses always,
    a confidential one only in the explicit `--include-confidential` backup."""
    return _presented(facility, shows_address=export_shows_address(facility, include_confidential=include_confidential))


def _presented(facility: Facility, *, shows_address: bool, audited_reveal: tuple | None = None) -> PresentedFacility:
    return PresentedFacility(
        id=facility.id,
        slug=facility.slug,
        name=facility.name,
        type=facility.type,
        region_slug=facility.region.slug,
        region_name=facility.region.name,
        organisation_slug=facility.organisation.slug if facility.organisation else None,
        municipality=facility.municipality,
        postcode=facility.postcode if shows_address or not facility.confidential else None,
        confidential=facility.confidential,
        intake_phone=facility.intake_phone,
        intake_hours=facility.intake_hours,
        open_for_intake=facility.open_for_intake,
        closed_reason=facility.closed_reason,
        stale_after_hours=facility.stale_after_hours,
        genders=tuple(facility.genders),
        children=facility.children,
        max_children=facility.max_children,
        max_child_age=facility.max_child_age,
        max_boy_age=facility.max_boy_age,
        wheelchair=facility.wheelchair,
        pets=facility.pets,
        high_security=facility.high_security,
        languages=tuple(facility.languages),
        units=tuple(facility.units),
        shows_address=shows_address,
        _street=facility.street if shows_address else None,
        _lat=facility.lat if shows_address else None,
        _lon=facility.lon if shows_address else None,
        _audited_reveal=audited_reveal,
    )
