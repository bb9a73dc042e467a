"""Every button's callback data, in one place so prefixes never collide.

Callback data carries ids and choices only, never a verdict: every handler re-checks the
actor's role and the ticket's state on the server. (``FollowCb`` adds a keyed hash, for a
right the server cannot re-check later: see there.) Prefixes carry a version (``v1``...):
a changed layout gets a new prefix, and buttons on old messages still decode or fall to
the stale-button handler instead of being misread. Telegram allows 64 bytes.
"""

import base64
import hashlib
import hmac
from enum import StrEnum
from typing import Annotated, Self

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from redgrid.models.base import MAX_ROW_ID

# A row id from a button: a forged one out of range does not even decode, so the button
# falls to the stale-button handler.
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class MenuItem(StrEnum):
    COMPLAIN = "complain"
    MY_TICKETS = "mine"
    QUEUE = "queue"
    LANGUAGE = "lang"
    HELP = "help"


class MenuCb(CallbackData, prefix="m1"):
    item: MenuItem


class LanguageCb(CallbackData, prefix="l1"):
    locale: str


class DraftAction(StrEnum):
    """Steps and answers inside the complaint conversation."""

    BACK = "back"
    CANCEL = "cancel"
    PHOTOS_DONE = "photos_done"
    SKIP_PHOTOS = "skip_photos"
    PLACE_LOCATION = "loc"
    PLACE_COMPOUND = "compound"
    PLACE_ADDRESS = "address"
    DISTRICT_DESK = "desk"
    CONSENT_SHARE = "share"
    CONSENT_ANONYMOUS = "anon"
    NO_PHONE = "nophone"
    CONFIRM = "confirm"
    EDIT = "edit"
    NEW_ANYWAY = "new"


class DraftCb(CallbackData, prefix="d1"):
    action: DraftAction


class CategoryCb(CallbackData, prefix="c1"):
    code: str


class ChoiceCb(CallbackData, prefix="p1"):
    """Pick the n-th of the options the bot just listed (grids, compounds, sections)."""

    kind: str
    index: int


class TicketAction(StrEnum):
    # the grid team
    ACCEPT = "acc"
    TRANSFER = "tr"
    CONSULT = "con"
    INVALID = "inv"
    RESOLVE = "res"
    EXTEND = "ext"
    ASK = "ask"
    DUPLICATE = "dup"
    # the reporter and followers
    DETAIL = "det"
    COMMENT = "com"
    PHOTO = "pho"
    ANSWER = "ans"


class TicketCb(CallbackData, prefix="t1"):
    action: TicketAction
    ticket_id: RowId


class FollowCb(CallbackData, prefix="o1"):
    """Follow the open ticket the nearby-duplicate hint showed, instead of filing the same
    problem. The hint was shown to one person, for the spot they sent, which the server no
    longer knows when the button is pressed (the draft may be long gone); ``proof`` is a
    keyed hash of the ticket and that person, so a button naming another ticket, or pressed
    by someone else, is refused: following shows the ticket's photos and history."""

    ticket_id: RowId
    proof: str

    @classmethod
    def offer(cls, secret: str, telegram_id: int, ticket_id: int) -> Self:
        return cls(ticket_id=ticket_id, proof=_follow_proof(secret, telegram_id, ticket_id))

    def offered_to(self, secret: str, telegram_id: int) -> bool:
        expected = _follow_proof(secret, telegram_id, self.ticket_id)
        return hmac.compare_digest(self.proof, expected)


def _follow_proof(secret: str, telegram_id: int, ticket_id: int) -> str:
    message = f"follow:{telegram_id}:{ticket_id}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()  # 12 characters, no ':'


class MergeCb(CallbackData, prefix="u1"):
    """Confirm merging a duplicate into the original the team member named. Both ids ride
    along so a Confirm left from another merge is told apart from the current one."""

    ticket_id: RowId
    original_id: RowId


class MyTicketsCb(CallbackData, prefix="y1"):
    """A page of My tickets (0: the newest)."""

    page: Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


class RateCb(CallbackData, prefix="r1"):
    ticket_id: RowId
    rating: str


class InviteStep(StrEnum):
    """The admin's /invite conversation: a role, then (for some roles) a scope."""

    ROLE = "role"  # value: the role
    COMMUNITY = "comm"  # value: the community id
    DISTRICT = "dist"  # informants: the whole district
    CANCEL = "cancel"


class InviteCb(CallbackData, prefix="i1"):
    step: InviteStep
    value: str = ""


class ForgetAction(StrEnum):
    CONFIRM = "yes"
    CANCEL = "no"


class ForgetCb(CallbackData, prefix="f1"):
    """/forget's answer; it always acts on the person who pressed, never on an id."""

    action: ForgetAction


# Red informants ---------------------------------------------------------------------------


class JoinStep(StrEnum):
    """The informant's profile after joining: the name, work type and home community."""

    NAME = "name"  # keep the Telegram name
    WORK = "work"  # value: the WorkType
    HOME = "home"  # value: the community id, "0" for none in the district
    BACK = "back"


class JoinCb(CallbackData, prefix="w1"):
    step: JoinStep
    value: str = ""


class ReportAction(StrEnum):
    """Steps of an informant's report from the road."""

    CATEGORY = "cat"  # code: the category
    SEND = "send"  # send without a note
    BACK = "back"
    CANCEL = "cancel"


class ReportCb(CallbackData, prefix="k1"):
    action: ReportAction
    code: str = ""


class GradeCb(CallbackData, prefix="g1"):
    """The team's 评单 of an informant report: valid, duplicate or invalid."""

    ticket_id: RowId
    grade: str


class InformantAdminAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    REMOVE = "rm"  # asks to confirm
    REMOVE_CONFIRMED = "rmy"
    PAGE = "page"


class InformantAdminCb(CallbackData, prefix="n1"):
    action: InformantAdminAction
    person_id: Annotated[int, Field(ge=0, le=MAX_ROW_ID)] = 0  # 0: none (paging)
    page: int = 0


class VoiceCb(CallbackData, prefix="a1"):
    """Play the voice note of an informant report."""

    ticket_id: RowId
