"""The update middleware: one transaction per update, and who is talking.

It runs on every update, after aiogram's errors and user-context middlewares; the i18n
middleware runs after it, per event type (it needs the person's saved language).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.lost_chats import person_lost
from redgrid.bot.notifier import CHAT_NOT_FOUND, Notifier, OutboxSender
from redgrid.bot.storage import ROW_COLUMNS, CommitBoundStorage, DatabaseStorage, update_scope
from redgrid.models import Person
from redgrid.models.base import utcnow
from redgrid.services.people import Actor, identify, identify_query

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UpdateMiddleware(FSMContextMiddleware):
    """Runs each update as one transaction, inside its sender's event-isolation lock.

    It takes the place of aiogram's FSM middleware (the dispatcher is built with
    ``disable_fsm=True``) so that the conversation state that picks the handler is read in
    the update's own transaction, in the same query as the person behind the update. The
    FSM storage joins this session, so a conversation step and the writes it makes commit
    together (every commit carries the state changed so far, see ``redgrid.bot.storage``).
    A handler that replies about something it wrote commits first (``await
    session.commit()``), then answers: a reply must never announce what a failed commit
    lost. Pushes staged by the notifier are committed with the update's last commit and
    sent right after it. The commit happens before the lock is released, so the sender's
    next update sees this one's conversation state.

    When Telegram refuses a reply because the person blocked the bot (403) or their account
    is gone (400 "chat not found"), what the handler did still stands (it is committed,
    and the person marked unreachable and their pending pushes handed over, as for a
    refused push): a ticket must not
    vanish, nor a finished conversation come back, because its confirmation could not be
    delivered.
    """

    def __init__(
        self,
        storage: BaseStorage,
        events_isolation: BaseEventIsolation,
        session_factory: async_sessionmaker[AsyncSession],
        sender: OutboxSender,
        *,
        admin_telegram_ids: frozenset[int],
        default_locale: str,
    ) -> None:
        super().__init__(storage=storage, events_isolation=events_isolation)
        self.session_factory = session_factory
        self.sender = sender
        self.admin_telegram_ids = admin_telegram_ids
        self.default_locale = default_locale
        self._updates_running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # With the state in the database, the person and the state come in one query.
        self._with_state = (
            identify_query(*ROW_COLUMNS) if isinstance(storage, DatabaseStorage) else None
        )

    async def wait_idle(self) -> None:
        """Wait for the updates being handled: Telegram will not offer them again."""
        await self._idle.wait()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self._updates_running += 1
        self._idle.clear()
        try:
            return await self._in_update_lock(handler, event, data)
        finally:
            self._updates_running -= 1
            if not self._updates_running:
                self._idle.set()

    async def _in_update_lock(
        self, handler: Handler, event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        """The update inside its sender's lock and its own session; Redis's share of the
        conversation state is written after the commit."""
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        if context is not None:
            data["state"] = context
        lock = self.events_isolation.lock(context.key) if context is not None else nullcontext()
        committed = False
        try:
            async with lock, self.session_factory() as session:
                with update_scope(session) as scope:
                    notifier = Notifier(session)
                    try:
                        result = await self._handle(handler, event, data, session, notifier)
                        committed = True
                    finally:
                        if isinstance(self.storage, CommitBoundStorage):
                            await self.storage.write_committed(scope)
        except Exception:
            if not committed:
                raise
            # Redis failed after the commit (writing the state, or releasing a lock it
            # lost): the update's work is committed and announced, so no apology.
            logger.warning("update committed; Redis failed after it", exc_info=True)
        if notifier.staged:
            self.sender.deliver_soon(notifier.staged)
        return result

    async def _handle(
        self,
        handler: Handler,
        event: TelegramObject,
        data: dict[str, Any],
        session: AsyncSession,
        notifier: Notifier,
    ) -> Any:
        """Run the handler in the session and commit (with the conversation state's
        changes), or roll back and raise."""
        data["session"] = session
        data["notifier"] = notifier
        context: FSMContext | None = data.get("state")
        person = None
        try:
            person = await self._identify(session, context, data)
            if context is not None:
                data["raw_state"] = await context.get_state()
            result = await handler(event, data)
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            if not _chat_refused(error):
                await session.rollback()
                raise
            logger.info("reply refused, the work stands: %s", error.message)
            chat = data.get("event_chat")
            refused_chat_id = getattr(error.method, "chat_id", None)
            if chat is not None and chat.type == "private" and refused_chat_id == chat.id:
                # Not a group that left: the person, whose pending pushes go to others now.
                await person_lost(
                    session,
                    notifier,
                    self.sender.i18n,
                    person,
                    chat.id,
                    utcnow(),
                    self.admin_telegram_ids,
                )
            result = None
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        return result

    async def _identify(
        self, session: AsyncSession, context: FSMContext | None, data: dict[str, Any]
    ) -> Person | None:
        """Load (or create) the person behind the update and say whether they are an admin;
        with the database storage, read their conversation state in the same query."""
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        # A new person's language is their client's, so pushes reach them in it too.
        locale = negotiate_locale(None, user.language_code, self.default_locale)
        who = (user.id, user.full_name, locale, self.admin_telegram_ids)
        if self._with_state is None or context is None:
            identified = await identify(session, *who)
        else:
            record_key = self.storage.record_key(context.key)
            params = {"fsm_key": record_key}
            identified = await identify(session, *who, query=self._with_state, params=params)
            # Someone met for the first time (no row to read the state with) has no
            # conversation yet; nor does someone back after /forget: they start afresh.
            self.storage.preload(record_key, *(identified.also or (None, None)))
        data["person"] = identified.person
        # Read now: after a failed handler's rollback the person can no longer be read, and
        # the apology must still speak their saved language.
        data["saved_locale"] = identified.person.locale
        data["actor"] = Actor(identified.person.id, user.id, identified.is_admin)
        return identified.person


def _chat_refused(error: TelegramAPIError) -> bool:
    """Telegram will not deliver to the chat at all: the person blocked the bot or the bot
    left the group (403), or the account or group is gone (400 "chat not found"), as the
    outbox judges a push (``bot/notifier.py``)."""
    if isinstance(error, TelegramForbiddenError):
        return True
    return CHAT_NOT_FOUND in error.message.lower()
