"""SQLModel tables and the database session. Importing this package registers every table."""

from redgrid.models.deadlines import AlarmKind, DeadlineAlarm, ScheduledRun
from redgrid.models.district import Community, Compound, DistrictRevision, Grid
from redgrid.models.fsm import FsmRecord
from redgrid.models.informants import (
    Grade,
    InformantProfile,
    InformantStatus,
    ReportGrade,
    WorkType,
)
from redgrid.models.invites import Invite
from redgrid.models.outbox import OutboxMessage, OutboxStatus
from redgrid.models.people import Membership, Person, Role, Scope
from redgrid.models.tickets import (
    OPEN_STATUSES,
    EventKind,
    PhotoKind,
    Priority,
    Rating,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
    TicketSource,
    TicketStatus,
)

__all__ = [
    "OPEN_STATUSES",
    "AlarmKind",
    "Community",
    "Compound",
    "DeadlineAlarm",
    "DistrictRevision",
    "EventKind",
    "FsmRecord",
    "Grade",
    "Grid",
    "InformantProfile",
    "InformantStatus",
    "Invite",
    "Membership",
    "OutboxMessage",
    "OutboxStatus",
    "Person",
    "PhotoKind",
    "Priority",
    "Rating",
    "ReportGrade",
    "Role",
    "ScheduledRun",
    "Scope",
    "Ticket",
    "TicketEvent",
    "TicketFollower",
    "TicketPhoto",
    "TicketSource",
    "TicketStatus",
    "WorkType",
]
