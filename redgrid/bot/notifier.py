"""Pushes: messages the bot sends on its own initiative, through the outbox.

A handler that changes a ticket calls ``notifier.message(...)`` / ``photos(...)`` /
``location(...)``; each becomes an ``OutboxMessage`` row in the same transaction as the
change. After the commit the database middleware hands the new rows to the
``OutboxSender``, which sends them in the background within Telegram's limits; rows it
could not send stay pending for the ticker's next drain. So a push is never lost to a
crash, and at worst sent twice (a crash between the send and marking it sent).
"""

import asyncio
import logging
import secrets
from asyncio import FIRST_COMPLETED
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendLocation, SendMediaGroup, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, InputMediaPhoto
from aiogram.utils.i18n import I18n
from sqlalchemy import bindparam, case, func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.lost_chats import (
    LEFT_OUT_KEY,
    LOCALE_KEY,
    OTHER_LOCALES_KEY,
    PUSH_KEY,
    UndeliveredNotice,
    person_lost,
    tell_undelivered,
)
from redgrid.bot.pacing import Limits, SendPacer
from redgrid.bot.team_chat import team_chat_lost, team_chat_moved
from redgrid.models import OutboxMessage, OutboxStatus, Person
from redgrid.models.base import UTCDateTime, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# A claimed row is not offered to another sender for this long; a sender that dies
# mid-send leaves the row to be retried after it.
CLAIM_LEASE = timedelta(minutes=2)
MAX_ALBUM = 10
# Telegram's answer to a send to a chat that does not exist (any more) or that the bot may
# not know: for a person, as good as having blocked the bot; for a group, as being removed.
CHAT_NOT_FOUND = "chat not found"
# The params of a message row that are its text in one language (``Notifier.localized``).
RENDERED_KEYS = ("text", "reply_markup")


def message_params(text: str, reply_markup: InlineKeyboardMarkup | None = None) -> dict:
    """A message's text and buttons as an outbox row keeps them."""
    params: dict = {"text": text}
    if reply_markup is not None:
        params["reply_markup"] = reply_markup.model_dump(mode="json", exclude_none=True)
    return params


@dataclass
class Notifier:
    """Collects the pushes of one unit of work as outbox rows in its session."""

    session: AsyncSession
    staged: list[OutboxMessage] = field(default_factory=list)
    _push: str | None = field(default=None, init=False, repr=False)
    _left_out: int | None = field(default=None, init=False, repr=False)

    @contextmanager
    def push(self, *, leaving_out: int | None = None) -> Iterator[None]:
        """The rows staged inside make one push: a ticket's album, map pin and card, to
        each of its readers. Should a reader be out of reach, the push is handed over
        whole and once, and not to someone who got it (``bot/lost_chats.py``), nor to the
        person it leaves out (``leaving_out``: the member whose own action it reports). A
        block inside another joins it; a row staged outside any is a push of its own."""
        left_out = self._left_out
        self._left_out = leaving_out
        try:
            if self._push is not None:
                yield
                return
            self._push = secrets.token_hex(8)
            try:
                yield
            finally:
                self._push = None
        finally:
            self._left_out = left_out

    def _push_params(self) -> dict:
        """What every row of the current push carries besides what Telegram is sent."""
        params = {PUSH_KEY: self._push or secrets.token_hex(8)}
        if self._left_out is not None:
            params[LEFT_OUT_KEY] = self._left_out
        return params

    def copy(self, row: OutboxMessage, chat_id: int, person_id: int | None, locale: str) -> None:
        """``row`` again, as part of the same push, for another reader (a hand-over): in
        their ``locale`` when the row keeps its text in it (``localized``), else as it
        is (a photo, a map pin, a row written before rows kept their languages)."""
        params = dict(row.params)
        others = params.get(OTHER_LOCALES_KEY) or {}
        if params.get(LOCALE_KEY) != locale and locale in others:
            own = {key: params.pop(key) for key in RENDERED_KEYS if key in params}
            params[OTHER_LOCALES_KEY] = {
                **{other: text for other, text in others.items() if other != locale},
                params[LOCALE_KEY]: own,
            }
            params.update(others[locale], **{LOCALE_KEY: locale})
        self._stage(chat_id, row.method, params, person_id, row.ticket_id)

    def moved(self, rows: Sequence[OutboxMessage]) -> None:
        """Rows written earlier that now go to another chat (a group became a supergroup):
        sent after the commit with the rows staged here."""
        self.staged.extend(rows)

    def _stage(
        self,
        chat_id: int,
        method: str,
        params: dict,
        person_id,
        ticket_id,
        if_undelivered: UndeliveredNotice | None = None,
    ) -> None:
        now = utcnow()
        # Every column given: filling in defaults is most of what building the row costs.
        row = OutboxMessage(
            chat_id=chat_id,
            method=method,
            params=params,
            person_id=person_id,
            ticket_id=ticket_id,
            status=OutboxStatus.PENDING,
            attempts=0,
            last_error=None,
            next_attempt_at=now,
            created_at=now,
            sent_at=None,
            if_undelivered=if_undelivered.as_json() if if_undelivered else None,
        )
        self.session.add(row)
        self.staged.append(row)

    def message(
        self,
        chat_id: int,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        person_id: int | None = None,
        ticket_id: int | None = None,
        if_undelivered: UndeliveredNotice | None = None,
    ) -> None:
        """``if_undelivered``: what to tell whom should this message never arrive."""
        params = {**message_params(text, reply_markup), **self._push_params()}
        self._stage(chat_id, "message", params, person_id, ticket_id, if_undelivered)

    def localized(
        self,
        chat_id: int,
        locale: str,
        renderings: Mapping[str, dict],
        *,
        person_id: int | None = None,
        ticket_id: int | None = None,
    ) -> None:
        """A message rendered in every language (``renderings``: each locale's
        ``message_params``), sent in the reader's ``locale``; it keeps the others, so
        that, handed over, it reaches its new reader in theirs (``copy``)."""
        others = {other: params for other, params in renderings.items() if other != locale}
        params = {
            **renderings[locale],
            **self._push_params(),
            LOCALE_KEY: locale,
            OTHER_LOCALES_KEY: others,
        }
        self._stage(chat_id, "message", params, person_id, ticket_id)

    def photos(
        self,
        chat_id: int,
        file_ids: Sequence[str],
        *,
        caption: str | None = None,
        person_id: int | None = None,
        ticket_id: int | None = None,
    ) -> None:
        """One photo, or an album of up to ten, by Telegram file id."""
        push = self._push_params()
        for start in range(0, len(file_ids), MAX_ALBUM):
            chunk = list(file_ids[start : start + MAX_ALBUM])
            params = {"file_ids": chunk, "caption": caption if start == 0 else None, **push}
            self._stage(chat_id, "photos", params, person_id, ticket_id)

    def location(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        *,
        person_id: int | None = None,
        ticket_id: int | None = None,
    ) -> None:
        params = {"latitude": latitude, "longitude": longitude, **self._push_params()}
        self._stage(chat_id, "location", params, person_id, ticket_id)


def build_method(row: OutboxMessage) -> TelegramMethod:
    """The Bot API call an outbox row stands for."""
    params = row.params
    if row.method == "message":
        markup = params.get("reply_markup")
        return SendMessage(
            chat_id=row.chat_id,
            text=params["text"],
            reply_markup=InlineKeyboardMarkup.model_validate(markup) if markup else None,
        )
    if row.method == "photos":
        file_ids, caption = params["file_ids"], params.get("caption")
        if len(file_ids) == 1:
            return SendPhoto(chat_id=row.chat_id, photo=file_ids[0], caption=caption)
        media = [
            InputMediaPhoto(media=file_id, caption=caption if i == 0 else None)
            for i, file_id in enumerate(file_ids)
        ]
        return SendMediaGroup(chat_id=row.chat_id, media=media)
    if row.method == "location":
        return SendLocation(
            chat_id=row.chat_id, latitude=params["latitude"], longitude=params["longitude"]
        )
    raise ValueError(f"unknown outbox method {row.method!r}")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2**attempts, 3600))


@dataclass(slots=True)
class _Outcome:
    """What became of one claimed row's send, to be written with the others of its turn."""

    row: OutboxMessage
    lease: datetime  # the claim it was sent under
    status: OutboxStatus
    attempts: int = 0
    error: str | None = None
    retry_at: datetime | None = None
    go_on: bool = True  # the chat's later rows may follow
    unreachable: bool = False  # blocked, kicked, or no such chat: see _consequences
    moved_to: int | None = None  # the group became this supergroup: send it there

    @property
    def has_consequences(self) -> bool:
        """Whether writing it calls for more (a hand-over, an unbinding, a notice, a
        move), which must be written with it."""
        undelivered = self.status is OutboxStatus.FAILED and self.row.if_undelivered
        return bool(self.unreachable or self.moved_to is not None or undelivered)

    def values(self, now: datetime) -> dict:
        return {
            "row_id": self.row.id,
            "lease": self.lease,
            "new_status": self.status,
            "new_attempts": self.attempts,
            "error": self.error and self.error[:500],
            "retry_at": self.retry_at,
            "sent_at": now if self.status is OutboxStatus.SENT else None,
        }


_outbox = OutboxMessage.__table__
# The sender's statements run for every push; they are built once (building one costs
# more than running it) and take their values as bind parameters.
# A row is taken for CLAIM_LEASE if it is still pending and due, and no older row of its
# chat is still pending (waiting for a retry-after, or claimed by another sender): one
# conditional UPDATE, which two senders cannot both win (on PostgreSQL the second waits
# for the first's row lock, then finds the condition false). The sender writes a send's
# outcome before claiming the chat's next row, so its own earlier rows never hold it up.
_older = _outbox.alias("older")
_CLAIM = (
    update(_outbox)
    .where(
        _outbox.c.id == bindparam("row_id"),
        _outbox.c.status == OutboxStatus.PENDING,
        _outbox.c.next_attempt_at <= bindparam("now", type_=UTCDateTime),
        ~select(_older.c.id)
        .where(
            _older.c.chat_id == _outbox.c.chat_id,
            _older.c.status == OutboxStatus.PENDING,
            _older.c.id < _outbox.c.id,
        )
        .exists(),
    )
    .values(next_attempt_at=bindparam("lease", type_=UTCDateTime))
)
# One row's outcome (an executemany writes the plain outcomes of a turn). A row that is not
# to be retried keeps its next_attempt_at. Written only while the row is still claimed
# under the lease it was sent with: a send that outlived its lease (another sender took the
# row, and may have finished it) has no say, so no outcome is written, and no failure
# counted or announced, twice.
_FINISH = (
    update(_outbox)
    .where(
        _outbox.c.id == bindparam("row_id"),
        _outbox.c.status == OutboxStatus.PENDING,
        _outbox.c.next_attempt_at == bindparam("lease", type_=UTCDateTime),
    )
    .values(
        status=bindparam("new_status", type_=_outbox.c.status.type),
        attempts=bindparam("new_attempts"),
        last_error=bindparam("error", type_=_outbox.c.last_error.type),
        next_attempt_at=func.coalesce(
            bindparam("retry_at", type_=UTCDateTime), _outbox.c.next_attempt_at
        ),
        sent_at=bindparam("sent_at", type_=UTCDateTime),
    )
)
# Pending rows by turns: the oldest of every chat, then the second, ...; only chats whose
# pending rows are all due ("clear") take part, so a waiting row holds its chat's later ones.
_in_chat = {"partition_by": OutboxMessage.chat_id, "order_by": col(OutboxMessage.id)}
_pending = (
    select(
        col(OutboxMessage.id).label("id"),
        func.row_number().over(**_in_chat).label("turn"),
        func.min(
            case(
                (col(OutboxMessage.next_attempt_at) <= bindparam("now", type_=UTCDateTime), 1),
                else_=0,
            )
        )
        .over(**_in_chat)
        .label("clear"),
    )
    .where(OutboxMessage.status == OutboxStatus.PENDING)
    .subquery()
)
_DUE = (
    select(OutboxMessage)
    .join(_pending, _pending.c.id == OutboxMessage.id)
    .where(_pending.c.clear == 1)
    .order_by(_pending.c.turn, _pending.c.id)
    .limit(bindparam("limit"))
)


class OutboxSender:
    """Sends outbox rows within Telegram's limits, each claimed first so that two senders
    (two bot instances) never send one row twice.

    Rows of one chat go strictly in order, one at a time; different chats go in parallel,
    up to ``max_in_flight`` requests, paced by a ``SendPacer``. The sender works in turns,
    each one transaction: write the outcomes of the sends that have ended (together), and
    claim the next row that may start. The first turn shares the session that read the
    rows.

    One row is claimed per turn, so sends start one claim apart. Claiming several in one
    statement and starting them together was tried and gave 429s in
    ``benchmarks/outbox.py``: a burst frees its slots in the overall limit together a
    second later and so comes back, and requests that leave together arrive spread out.

    A send's outcome is written with what follows from it, in one transaction: a person
    who cannot be reached is marked so, a team chat the bot is out of is unbound and its
    team told, and either chat's pending rows are given up, each push handed over once
    (``bot/lost_chats.py``); a row that finally failed sends its ``UndeliveredNotice``.
    ``i18n`` renders those in their readers' languages.
    """

    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        i18n: I18n,
        pacer: SendPacer | None = None,
        max_in_flight: int = 8,
        admin_telegram_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.bot = bot
        self.session_factory = session_factory
        self.i18n = i18n
        self.admin_telegram_ids = admin_telegram_ids
        # A little over a second between two messages to one chat: requests that leave a
        # second apart can arrive closer, and Telegram counts arrivals.
        self.pacer = pacer or SendPacer(Limits(private_chat_interval=1.05))
        self.max_in_flight = max_in_flight
        self._background: set[asyncio.Task] = set()

    def deliver_soon(self, rows: Sequence[OutboxMessage]) -> None:
        """Deliver in the background, so a handler never waits for the pacing of pushes."""
        task = asyncio.create_task(self.deliver(rows))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_idle(self) -> None:
        """Wait for background deliveries (tests, and a clean shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def drain(self, *, limit: int = 500) -> int:
        """Send pending rows whose time has come (after a restart, a retry-after, an error).

        Rows go by turns: the oldest pending row of every chat, then the second, and so on,
        so a batch spreads over many chats instead of waiting on the one-a-second limit of
        each. A chat whose oldest pending row must still wait (a retry-after, a backoff, a
        claim by another sender) gives none of its later rows: its messages never go out
        of order.
        """
        async with self.session_factory() as session:
            rows = (await session.exec(_DUE, params={"now": utcnow(), "limit": limit})).all()
            queues, in_flight = self._queues(rows), {}
            await self._turn(session, [], queues, in_flight)
        await self._run(queues, in_flight)
        return len(rows)

    async def deliver(self, rows: Sequence[OutboxMessage]) -> None:
        """Send rows just staged and committed (``Notifier.staged``, as they were written:
        they are not read again); a chat whose row cannot go (sent or claimed elsewhere,
        must wait) keeps its later rows pending, so its messages never arrive out of
        order."""
        async with self.session_factory() as session:
            queues, in_flight = self._queues(rows), {}
            await self._turn(session, [], queues, in_flight)
        await self._run(queues, in_flight)

    @staticmethod
    def _queues(rows: Sequence[OutboxMessage]) -> dict[int, deque[OutboxMessage]]:
        """Each chat's rows in id order; chats in the order of their first row."""
        queues: dict[int, deque[OutboxMessage]] = defaultdict(deque)
        for row in sorted(rows, key=lambda row: row.id):
            queues[row.chat_id].append(row)
        return queues

    async def _run(
        self, queues: dict[int, deque[OutboxMessage]], in_flight: dict[asyncio.Task, int]
    ) -> None:
        """Turn after turn until every chat is done or stopped: wait for a send to end (or
        a chat's pacing to allow its next row) unless a row may start now, then record what
        ended and claim and start what may."""
        while True:
            if not (queues or in_flight):
                return
            delay = self._next_delay(queues, in_flight)
            if in_flight and delay != 0:
                await asyncio.wait(in_flight, timeout=delay, return_when=FIRST_COMPLETED)
            else:
                # Also with no delay: the send started last turn must leave now, as the
                # pacer counted it, not in a burst with the next ones (a turn's statements
                # may never suspend: SQLite runs in this thread).
                await asyncio.sleep(delay or 0)
            outcomes: list[_Outcome] = []
            for task in [task for task in in_flight if task.done()]:
                chat_id = in_flight.pop(task)
                outcome = task.result()
                if not outcome.go_on:
                    queues.pop(chat_id, None)
                outcomes.append(outcome)
            async with self.session_factory() as session:
                await self._turn(session, outcomes, queues, in_flight)

    async def _turn(
        self,
        session: AsyncSession,
        outcomes: list[_Outcome],
        queues: dict[int, deque[OutboxMessage]],
        in_flight: dict[asyncio.Task, int],
    ) -> None:
        """Record the outcomes of ended sends, with their consequences, and claim the next
        row that may start, in one transaction; start sending it if claimed, and what the
        consequences staged."""
        row = self._next_row(queues, in_flight)
        now = utcnow()
        plain = [outcome.values(now) for outcome in outcomes if not outcome.has_consequences]
        weighty = [outcome for outcome in outcomes if outcome.has_consequences]
        if not (plain or weighty or row):
            return
        if plain:
            await session.exec(_FINISH, params=plain)
        notifier = Notifier(session)
        for outcome in weighty:
            await self._finish_with_consequences(session, notifier, outcome, now)
        claimed = False
        if row is not None:
            lease = now + CLAIM_LEASE
            params = {"row_id": row.id, "now": now, "lease": lease}
            claimed = (await session.exec(_CLAIM, params=params)).rowcount == 1
        await session.commit()
        if claimed:
            self.pacer.record(row.chat_id)
            in_flight[asyncio.create_task(self._send(row, lease))] = row.chat_id
        elif row is not None:  # another sender has it, or it must wait: the chat stops here
            queues.pop(row.chat_id, None)
        if notifier.staged:
            self.deliver_soon(notifier.staged)

    def _idle_chats(
        self, queues: dict[int, deque[OutboxMessage]], in_flight: dict[asyncio.Task, int]
    ) -> list[int]:
        """Chats with rows waiting and none in flight, in order; none if ``max_in_flight``
        sends are already out."""
        if len(in_flight) >= self.max_in_flight:
            return []
        busy = set(in_flight.values())
        return [chat_id for chat_id in queues if chat_id not in busy]

    def _next_row(
        self, queues: dict[int, deque[OutboxMessage]], in_flight: dict[asyncio.Task, int]
    ) -> OutboxMessage | None:
        """The next row of the first chat that may send now."""
        for chat_id in self._idle_chats(queues, in_flight):
            if self.pacer.delay(chat_id) == 0:
                row = queues[chat_id].popleft()
                if not queues[chat_id]:
                    del queues[chat_id]
                return row
        return None

    def _next_delay(
        self, queues: dict[int, deque[OutboxMessage]], in_flight: dict[asyncio.Task, int]
    ) -> float | None:
        """Seconds until a waiting chat may send (0: now); None: not before a send ends."""
        delays = [self.pacer.delay(chat_id) for chat_id in self._idle_chats(queues, in_flight)]
        if not delays:
            return None
        delay = min(delays)
        return 0.0 if delay == 0 else max(0.001, delay)

    async def _send(self, row: OutboxMessage, lease: datetime) -> _Outcome:
        """Send one row, claimed under ``lease``; the outcome says what to write and whether
        the chat may go on."""
        try:
            await self.bot(build_method(row))
        except TelegramRetryAfter as error:
            self.pacer.pause(error.retry_after)
            retry_at = utcnow() + timedelta(seconds=error.retry_after)
            return _Outcome(
                row, lease, OutboxStatus.PENDING, row.attempts, "retry after", retry_at, False
            )
        except TelegramMigrateToChat as error:
            logger.info("chat %s is now %s", row.chat_id, error.migrate_to_chat_id)
            return _Outcome(
                row,
                lease,
                OutboxStatus.PENDING,  # not sent: it goes again at once, to the new chat
                row.attempts,
                error.message,
                retry_at=utcnow(),
                go_on=False,
                moved_to=error.migrate_to_chat_id,
            )
        except TelegramForbiddenError as error:
            return self._unreachable(row, lease, error.message)
        except TelegramBadRequest as error:
            if CHAT_NOT_FOUND in error.message.lower():
                return self._unreachable(row, lease, error.message)
            logger.warning("outbox row %s refused: %s", row.id, error.message)
            return _Outcome(row, lease, OutboxStatus.FAILED, row.attempts + 1, error.message)
        except (TelegramServerError, TelegramNetworkError) as error:
            attempts = row.attempts + 1
            status = OutboxStatus.FAILED if attempts >= MAX_ATTEMPTS else OutboxStatus.PENDING
            retry_at = utcnow() + _backoff(attempts)
            return _Outcome(row, lease, status, attempts, str(error), retry_at, go_on=False)
        except Exception as error:
            # Not Telegram's answer: the request may have left. It goes again when a claim
            # would have run out, as after a crash, and fails after MAX_ATTEMPTS.
            logger.exception("outbox row %s: sending failed", row.id)
            attempts = row.attempts + 1
            status = OutboxStatus.FAILED if attempts >= MAX_ATTEMPTS else OutboxStatus.PENDING
            retry_at = utcnow() + CLAIM_LEASE
            return _Outcome(row, lease, status, attempts, repr(error), retry_at, go_on=False)
        return _Outcome(row, lease, OutboxStatus.SENT, row.attempts + 1)

    @staticmethod
    def _unreachable(row: OutboxMessage, lease: datetime, error: str) -> _Outcome:
        """A 403 (the person blocked the bot, the bot is out of the group) or "chat not
        found" (the account or the group is gone): the row fails, and more follows. The
        chat stops here: its other pending rows are given up with it."""
        logger.info("chat %s is unreachable: %s", row.chat_id, error)
        return _Outcome(
            row, lease, OutboxStatus.FAILED, row.attempts + 1, error, go_on=False, unreachable=True
        )

    async def _finish_with_consequences(
        self, session: AsyncSession, notifier: Notifier, outcome: _Outcome, now: datetime
    ) -> None:
        """Write one outcome and what follows from it, in a savepoint: both or neither.
        Nothing follows when the row was no longer this sender's to write (see
        ``_FINISH``), so a failure is announced once. What is to be sent after the commit
        (pushes staged, rows of a group that moved) is in ``notifier``.

        Consequences that cannot be made (a bug) are logged, and the outcome is written
        alone: the row must not go out again and again for them."""
        staged = len(notifier.staged)
        try:
            async with session.begin_nested():
                finished = await session.exec(_FINISH, params=outcome.values(now))
                if finished.rowcount == 1:
                    await self._consequences(session, notifier, outcome, now)
        except Exception:
            logger.exception("outbox row %s: what follows from its outcome failed", outcome.row.id)
            del notifier.staged[staged:]  # rolled back with the savepoint
            await session.exec(_FINISH, params=outcome.values(now))

    async def _consequences(
        self, session: AsyncSession, notifier: Notifier, outcome: _Outcome, now: datetime
    ) -> None:
        row = outcome.row
        if outcome.moved_to is not None:
            # The group became a supergroup: its grid and its pending rows (the refused
            # one among them) follow, in order.
            await team_chat_moved(session, notifier, row.chat_id, outcome.moved_to, now)
            return
        if outcome.unreachable and row.chat_id < 0:  # groups have negative ids
            await team_chat_lost(
                session,
                notifier,
                self.i18n,
                row.chat_id,
                now,
                self.admin_telegram_ids,
                refused=row,
            )
        elif outcome.unreachable:
            person = await session.get(Person, row.person_id) if row.person_id else None
            await person_lost(
                session,
                notifier,
                self.i18n,
                person,
                row.chat_id,
                now,
                self.admin_telegram_ids,
                refused=row,
            )
        if outcome.status is OutboxStatus.FAILED and row.if_undelivered:
            await tell_undelivered(session, notifier, self.i18n, row)
