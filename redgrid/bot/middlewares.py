"""Outer middlewares: one transaction per update, and who is talking.

Order matters and is set in ``factory.create_dispatcher``: the update middleware first
(lock, session, conversation state, notifier), then, per event type, the person
middleware (needs the session), then i18n (needs the person's saved language).
"""

import logging
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramForbiddenError
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.storage import update_scope
from redgrid.models.base import utcnow
from redgrid.services.people import Actor, identify, mark_unreachable

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UpdateMiddleware(FSMContextMiddleware):
    """Runs each update as one transaction, inside its sender's event-isolation lock.

    It takes the place of aiogram's FSM middleware (the dispatcher is built with
    ``disable_fsm=True``) so that the conversation state that picks the handler is read in
    the update's own session: one transaction per update instead of two. The FSM storage
    joins this session, so a conversation step and the writes it makes commit together
    (every commit carries the state changed so far, see ``redgrid.bot.storage``). A
    handler that replies about something it wrote commits first (``await
    session.commit()``), then answers: a reply must never announce what a failed commit
    lost. Pushes staged by the notifier are committed with the update's last commit and
    sent right after it.

    The commit happens before the lock is released, so the sender's next update sees this
    one's conversation state.
    """

    def __init__(
        self,
        storage: BaseStorage,
        events_isolation: BaseEventIsolation,
        session_factory: async_sessionmaker[AsyncSession],
        sender: OutboxSender,
    ) -> None:
        super().__init__(storage=storage, events_isolation=events_isolation)
        self.session_factory = session_factory
        self.sender = sender

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        lock = self.events_isolation.lock(context.key) if context is not None else nullcontext()
        async with lock, self.session_factory() as session:
            with update_scope(session):
                notifier = Notifier(session)
                data["session"] = session
                data["notifier"] = notifier
                try:
                    if context is not None:
                        data["state"] = context
                        data["raw_state"] = await context.get_state()
                    result = await handler(event, data)
                except TelegramForbiddenError as error:
                    # Nobody to mark unreachable here (the person middleware does that).
                    logger.info("reply refused, the work stands: %s", error.message)
                    result = None
                except BaseException:
                    await session.rollback()
                    raise
                await session.commit()  # with the conversation state's changes
        if notifier.staged:
            self.sender.deliver_soon([row.id for row in notifier.staged])
        return result


class PersonMiddleware(BaseMiddleware):
    """Loads (or creates) the person behind the update and says whether they are an admin."""

    def __init__(self, admin_telegram_ids: frozenset[int], default_locale: str) -> None:
        self.admin_telegram_ids = admin_telegram_ids
        self.default_locale = default_locale

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return await handler(event, data)
        session: AsyncSession = data["session"]
        # A new person's language is their client's, so pushes reach them in it too.
        locale = negotiate_locale(None, user.language_code, self.default_locale)
        person, admin = await identify(
            session, user.id, user.full_name, locale, self.admin_telegram_ids
        )
        data["person"] = person
        data["actor"] = Actor(person_id=person.id, telegram_id=user.id, is_admin=admin)
        try:
            return await handler(event, data)
        except TelegramForbiddenError as error:
            # They blocked the bot: what the handler did still stands (a ticket must not
            # vanish, nor a finished conversation come back, because its confirmation
            # could not be delivered), and their pushes now go to someone else.
            logger.info("reply refused, the work stands: %s", error.message)
            await mark_unreachable(session, person, utcnow())
            return None
