"""Chats the bot can no longer reach, and the pushes still owed to them.

A person who blocked the bot or whose account is gone, a group the bot was removed from
or that was deleted: every row still pending for the chat would be refused in its turn.
``give_up_chat`` fails them at once, in the transaction that learns of it (with a refused
row's outcome, or with the my_chat_member update), and hands over each push among them
once, in order: to whoever can act on its ticket now, unless one of them has it already.

A push is the rows staged together for one message to its readers (``Notifier.push``): a
new ticket's album, map pin and card, to each team member and the team's group. They share
a key (``PUSH_KEY`` in the row's params), so a push is handed over whole, and a reader who
got it in their own chat is known to have it. A push may leave someone out (``LEFT_OUT_KEY``:
the member whose action it reports); it is never handed over to them. Its messages keep
their text in every language (``Notifier.localized``), so a copy reaches its new reader in
theirs.
"""

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.models import OutboxMessage, OutboxStatus, Person, Ticket
from redgrid.services.people import mark_unreachable
from redgrid.services.tickets import ticket_audience

if TYPE_CHECKING:  # the notifier gives chats up through here
    from redgrid.bot.notifier import Notifier

logger = logging.getLogger(__name__)

# Keys in an outbox row's params that are not sent to Telegram: the push it belongs to;
# the person the push leaves out (the member whose own action it reports); the language
# its text is in, and its text in the other languages (``Notifier.localized``).
PUSH_KEY = "push"
LEFT_OUT_KEY = "left_out"
LOCALE_KEY = "locale"
OTHER_LOCALES_KEY = "other_locales"
# What a row given up with its chat says in ``last_error``.
GIVEN_UP = "not sent: the chat cannot be reached"


@dataclass(frozen=True, slots=True)
class UndeliveredNotice:
    """What to tell other people if a row finally fails: ``msgid`` (marked with ``N_``),
    rendered in each reader's language when the failure is recorded, with ``params``
    HTML-escaped into it. Kept with the row as JSON (``OutboxMessage.if_undelivered``)."""

    person_ids: tuple[int, ...]
    msgid: str
    params: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"person_ids": list(self.person_ids), "msgid": self.msgid, "params": self.params}

    @classmethod
    def from_json(cls, value: dict) -> "UndeliveredNotice":
        # Rows written before notices had several readers name one ``person_id``.
        readers = value.get("person_ids") or [value["person_id"]]
        return cls(tuple(readers), value["msgid"], dict(value.get("params") or {}))


def push_key(row: OutboxMessage) -> str:
    """The push the row belongs to; a row written before pushes had keys is its own."""
    return row.params.get(PUSH_KEY) or f"row-{row.id}"


async def person_lost(
    session: AsyncSession,
    notifier: "Notifier",
    i18n: I18n,
    person: Person | None,
    chat_id: int,
    now: datetime,
    admin_telegram_ids: frozenset[int],
    *,
    refused: OutboxMessage | None = None,
) -> None:
    """The person behind the private chat ``chat_id`` blocked the bot, or their account is
    gone: they are marked unreachable (pushes skip them until they write again), and their
    chat's pending rows are given up and handed over, in the same transaction."""
    await mark_unreachable(session, person, now)
    await give_up_chat(session, notifier, i18n, chat_id, admin_telegram_ids, refused=refused)


async def give_up_chat(
    session: AsyncSession,
    notifier: "Notifier",
    i18n: I18n,
    chat_id: int,
    admin_telegram_ids: frozenset[int],
    *,
    refused: OutboxMessage | None = None,
) -> list[OutboxMessage]:
    """The chat cannot be reached: fail its pending rows, hand over each push among them
    (and ``refused``'s, the row whose failure told us) once, in order, and send the
    undelivered notices of the rows failed here. Returns the rows failed here."""
    failed = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.chat_id) == chat_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error=GIVEN_UP)
        .returning(OutboxMessage)
        .execution_options(populate_existing=True)
    )
    given_up = sorted(failed.scalars().all(), key=lambda row: row.id)
    if given_up:
        logger.info("chat %s: %d pending pushes given up", chat_id, len(given_up))
    lost = sorted([*given_up, *([refused] if refused is not None else [])], key=lambda r: r.id)
    handed: set[str] = set()
    for row in lost:
        if push_key(row) not in handed:
            handed.add(push_key(row))
            await _hand_over(session, notifier, i18n, row, admin_telegram_ids)
    for row in given_up:
        if row.if_undelivered:
            await tell_undelivered(session, notifier, i18n, row)
    return given_up


def log_push_nobody_takes(ticket: Ticket, chat_id: int | None = None) -> None:
    """The one way a push about a ticket ends unread with nobody told: the operator reads
    which ticket's in the log. ``chat_id``: the chat it was for, when it had one."""
    logger.error(
        "ticket %s: a push%s is lost: nobody who can act on it can be reached (the team, "
        "the community's officers and the district admins blocked the bot, never opened "
        "it, are gone, or there are none)",
        ticket.number,
        f" to chat {chat_id}" if chat_id is not None else "",
    )


async def _hand_over(
    session: AsyncSession,
    notifier: "Notifier",
    i18n: I18n,
    row: OutboxMessage,
    admin_telegram_ids: frozenset[int],
) -> None:
    """Give the push ``row`` belongs to, about an open ticket, to whoever can act on it now
    (the team's reachable members, else the community's officers, else the district
    admins), each in their language, unless one of them has it already. The reporter's and
    followers' news is theirs alone, and news of a member's own action is not theirs (a
    push that left them out); a push nobody can take is logged as an error."""
    if row.ticket_id is None:
        return
    ticket = await session.get(Ticket, row.ticket_id)
    if ticket is None or not ticket.status.is_open:
        return
    if row.person_id is not None and row.person_id == ticket.reporter_id:
        return
    audience = await ticket_audience(session, ticket, admin_telegram_ids)
    if any(follower.id == row.person_id for follower in audience.followers):
        return
    if not audience.team:
        log_push_nobody_takes(ticket, row.chat_id)
        return
    # Left out, they did what it reports: with nobody else to take it, nobody needs it.
    readers = [member for member in audience.team if member.id != row.params.get(LEFT_OUT_KEY)]
    key = push_key(row)
    if not readers or await _has_push(session, key, [member.telegram_id for member in readers]):
        return
    in_chat = await session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.chat_id == row.chat_id, _in_push(key))
        .order_by(col(OutboxMessage.id))
    )
    parts = in_chat.all() or [row]  # the row is its own push
    for member in readers:
        locale = negotiate_locale(member.locale, None, i18n.default_locale)
        for part in parts:
            notifier.copy(part, member.telegram_id, member.id, locale)


def _in_push(key: str):
    return OutboxMessage.params[PUSH_KEY].as_string() == key


async def _has_push(session: AsyncSession, key: str, chat_ids: Sequence[int]) -> bool:
    found = await session.exec(
        select(OutboxMessage.id).where(col(OutboxMessage.chat_id).in_(chat_ids), _in_push(key))
    )
    return found.first() is not None


async def tell_undelivered(
    session: AsyncSession, notifier: "Notifier", i18n: I18n, row: OutboxMessage
) -> None:
    """The row will never arrive: send its ``UndeliveredNotice`` to each of its readers in
    their language, but not to one who is gone or cannot be reached either."""
    notice = UndeliveredNotice.from_json(row.if_undelivered)
    params = {name: html.escape(value) for name, value in notice.params.items()}
    for person_id in notice.person_ids:
        person = await session.get(Person, person_id)
        if person is None or person.forgotten_at is not None or person.unreachable_at is not None:
            continue
        locale = negotiate_locale(person.locale, None, i18n.default_locale)
        text = i18n.gettext(notice.msgid, locale=locale).format(**params)
        notifier.message(person.telegram_id, text, person_id=person.id)
