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
from asyncio import FIRST_COMPLETED
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendLocation, SendMediaGroup, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, InputMediaPhoto
from sqlalchemy import case, func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pacing import Limits, SendPacer
from redgrid.models import OutboxMessage, OutboxStatus, Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import people
from redgrid.services.tickets import ticket_audience

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# A claimed row is not offered to another sender for this long; a sender that dies
# mid-send leaves the row to be retried after it.
CLAIM_LEASE = timedelta(minutes=2)
MAX_ALBUM = 10


@dataclass
class Notifier:
    """Collects the pushes of one unit of work as outbox rows in its session."""

    session: AsyncSession
    staged: list[OutboxMessage] = field(default_factory=list)

    def _stage(self, chat_id: int, method: str, params: dict, person_id, ticket_id) -> None:
        row = OutboxMessage(
            chat_id=chat_id, method=method, params=params, person_id=person_id, ticket_id=ticket_id
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
    ) -> None:
        params: dict = {"text": text}
        if reply_markup is not None:
            params["reply_markup"] = reply_markup.model_dump(mode="json", exclude_none=True)
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
        for start in range(0, len(file_ids), MAX_ALBUM):
            chunk = list(file_ids[start : start + MAX_ALBUM])
            params = {"file_ids": chunk, "caption": caption if start == 0 else None}
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
        params = {"latitude": latitude, "longitude": longitude}
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


async def _was_told_alongside(session: AsyncSession, row: OutboxMessage, chat_id: int) -> bool:
    """Whether ``chat_id`` got its own copy of ``row`` (staged with it, for the same ticket)."""
    window = timedelta(seconds=5)
    found = await session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.ticket_id == row.ticket_id,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.method == row.method,
            col(OutboxMessage.created_at).between(row.created_at - window, row.created_at + window),
        )
    )
    return found.first() is not None


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2**attempts, 3600))


class OutboxSender:
    """Sends outbox rows within Telegram's limits, each claimed first so that two senders
    (two bot instances) never send one row twice.

    Rows of one chat go strictly in order, one at a time; different chats go in parallel,
    up to ``max_in_flight`` requests, paced by a ``SendPacer``.
    """

    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        pacer: SendPacer | None = None,
        max_in_flight: int = 8,
        admin_telegram_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.bot = bot
        self.session_factory = session_factory
        self.admin_telegram_ids = admin_telegram_ids
        # A little over a second between two messages to one chat: requests that leave a
        # second apart can arrive closer, and Telegram counts arrivals.
        self.pacer = pacer or SendPacer(Limits(private_chat_interval=1.05))
        self.max_in_flight = max_in_flight
        self._background: set[asyncio.Task] = set()

    def deliver_soon(self, ids: Sequence[int]) -> None:
        """Deliver in the background, so a handler never waits for the pacing of pushes."""
        task = asyncio.create_task(self.deliver(ids))
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
        now = utcnow()
        in_chat = {"partition_by": OutboxMessage.chat_id, "order_by": col(OutboxMessage.id)}
        ready = case((col(OutboxMessage.next_attempt_at) <= now, 1), else_=0)
        pending = (
            select(
                col(OutboxMessage.id).label("id"),
                func.row_number().over(**in_chat).label("turn"),
                func.min(ready).over(**in_chat).label("clear"),
            )
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .subquery()
        )
        async with self.session_factory() as session:
            ids = (
                await session.exec(
                    select(pending.c.id)
                    .where(pending.c.clear == 1)
                    .order_by(pending.c.turn, pending.c.id)
                    .limit(limit)
                )
            ).all()
        await self.deliver(ids)
        return len(ids)

    async def deliver(self, ids: Sequence[int]) -> None:
        """Send these rows; a chat whose row cannot go (claimed elsewhere, must wait) keeps
        its later rows pending, so its messages never arrive out of order."""
        async with self.session_factory() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(list(ids)))
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        queues: dict[int, deque[OutboxMessage]] = defaultdict(deque)
        for row in rows:
            queues[row.chat_id].append(row)
        in_flight: dict[asyncio.Task, int] = {}
        while queues or in_flight:
            started = await self._start_ready(queues, in_flight)
            if in_flight and not started:
                done, _ = await asyncio.wait(
                    in_flight, timeout=self._next_delay(queues), return_when=FIRST_COMPLETED
                )
                for task in done:
                    chat_id = in_flight.pop(task)
                    if not task.result():
                        queues.pop(chat_id, None)
            elif not in_flight and queues and not started:
                await asyncio.sleep(self._next_delay(queues))

    async def _start_ready(
        self, queues: dict[int, deque[OutboxMessage]], in_flight: dict[asyncio.Task, int]
    ) -> int:
        busy = set(in_flight.values())
        started = 0
        for chat_id in list(queues):
            if len(in_flight) >= self.max_in_flight:
                break
            if chat_id in busy or self.pacer.delay(chat_id) > 0:
                continue
            row = queues[chat_id].popleft()
            if not queues[chat_id]:
                del queues[chat_id]
            if not await self._claim(row.id):
                queues.pop(chat_id, None)
                continue
            self.pacer.record(chat_id)
            in_flight[asyncio.create_task(self._send(row))] = chat_id
            started += 1
        return started

    def _next_delay(self, queues: dict[int, deque[OutboxMessage]]) -> float:
        delays = [self.pacer.delay(chat_id) for chat_id in queues]
        return max(0.001, min(delays, default=0.05))

    async def _claim(self, row_id: int) -> bool:
        now = utcnow()
        async with self.session_factory() as session, session.begin():
            result = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .where(OutboxMessage.next_attempt_at <= now)
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
            return result.rowcount == 1

    async def _send(self, row: OutboxMessage) -> bool:
        """Send one claimed row and record the outcome; True when the chat may go on."""
        try:
            await self.bot(build_method(row))
        except TelegramRetryAfter as error:
            self.pacer.pause(error.retry_after)
            retry_at = utcnow() + timedelta(seconds=error.retry_after)
            await self._finish(row.id, OutboxStatus.PENDING, row.attempts, "retry after", retry_at)
            return False
        except TelegramForbiddenError as error:
            logger.info("chat %s is unreachable: %s", row.chat_id, error.message)
            await self._finish(row.id, OutboxStatus.FAILED, row.attempts + 1, error.message)
            await self._hand_over(row)
            return True
        except TelegramBadRequest as error:
            logger.warning("outbox row %s refused: %s", row.id, error.message)
            await self._finish(row.id, OutboxStatus.FAILED, row.attempts + 1, error.message)
            return True
        except (TelegramServerError, TelegramNetworkError) as error:
            attempts = row.attempts + 1
            status = OutboxStatus.FAILED if attempts >= MAX_ATTEMPTS else OutboxStatus.PENDING
            await self._finish(row.id, status, attempts, str(error), utcnow() + _backoff(attempts))
            return False
        await self._finish(row.id, OutboxStatus.SENT, row.attempts + 1, None, sent=True)
        return True

    async def _hand_over(self, row: OutboxMessage) -> None:
        """The person blocked the bot: mark them unreachable, and give what they were told
        about an open ticket to whoever can act on it now (another member of the team, else
        the community's officers, else the district admins), unless those already have it."""
        if row.person_id is None:
            return
        async with self.session_factory() as session:
            notifier = Notifier(session)
            person = await session.get(Person, row.person_id)
            await people.mark_unreachable(session, person, utcnow())
            ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
            if ticket is not None and ticket.status.is_open and ticket.reporter_id != person.id:
                audience = await ticket_audience(session, ticket, self.admin_telegram_ids)
                if person not in audience.followers:
                    for member in audience.team:
                        if not await _was_told_alongside(session, row, member.telegram_id):
                            notifier._stage(
                                member.telegram_id, row.method, row.params, member.id, ticket.id
                            )
            await session.commit()
        if notifier.staged:
            self.deliver_soon([staged.id for staged in notifier.staged])

    async def _finish(
        self,
        row_id: int,
        status: OutboxStatus,
        attempts: int,
        error: str | None,
        next_attempt_at: datetime | None = None,
        *,
        sent: bool = False,
    ) -> None:
        values: dict = {"status": status, "attempts": attempts, "last_error": error and error[:500]}
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if sent:
            values["sent_at"] = utcnow()
        async with self.session_factory() as session, session.begin():
            await session.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values)
            )
