"""SQLModel tables and the database session. Importing this package registers every table."""

from redgrid.models.district import Community, Compound, DistrictRevision, Grid
from redgrid.models.people import Membership, Person, Role, Scope

__all__ = [
    "Community",
    "Compound",
    "DistrictRevision",
    "Grid",
    "Membership",
    "Person",
    "Role",
    "Scope",
]
