"""The last router: whatever no feature claimed gets a hint, never silence; whatever
failed gets an apology. Also what happens to chats themselves: a person blocking the bot,
a team's group becoming a supergroup, the bot removed from a team's group or muted there."""

import logging

from aiogram import Bot, F
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    ChatMemberRestricted,
    ChatMemberUpdated,
    ErrorEvent,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.lost_chats import person_lost
from redgrid.bot.notifier import Notifier
from redgrid.bot.settings import Settings
from redgrid.bot.team_chat import team_chat_lost, team_chat_moved, team_chat_muted
from redgrid.handlers import albums
from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.my_tickets.shared import by_queue
from redgrid.handlers.team.ask import answer_keyboard
from redgrid.models import Person
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor

logger = logging.getLogger(__name__)
router = Blueprint(__name__)

GROUP_CHATS = {"group", "supergroup"}


@router.message(StateFilter(None), F.chat.type == "private")
async def unknown_message(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    """Something no feature takes, with no conversation going: the menu, once per album.
    Text from a reporter whose team's question waits is most likely the answer typed
    without pressing Answer: they are shown that button (not taken as the answer, which
    it may not be)."""
    if await albums.answered(message, state):
        return
    typed = message.text is not None and not message.text.startswith("/")
    waiting = await tickets.awaiting_answer(session, actor.person_id) if typed else None
    if waiting is not None:
        hint = by_queue(
            waiting,
            grid=_(
                "Is this your answer to the grid team's question about {number}? Press "
                "Answer, then send it again: what is sent without pressing it does not "
                "reach them."
            ),
            community=_(
                "Is this your answer to the community officers' question about {number}? "
                "Press Answer, then send it again: what is sent without pressing it does not "
                "reach them."
            ),
            district=_(
                "Is this your answer to the district office's question about {number}? "
                "Press Answer, then send it again: what is sent without pressing it does not "
                "reach them."
            ),
        )
        await message.answer(
            hint.format(number=waiting.number), reply_markup=answer_keyboard(waiting)
        )
        return
    await show_menu(
        message, session, actor, _("I did not understand that. Choose what you would like to do:")
    )


@router.message(F.migrate_to_chat_id | F.migrate_from_chat_id)
async def group_became_supergroup(
    message: Message, session: AsyncSession, notifier: Notifier
) -> None:
    """Telegram gives a group that becomes a supergroup a new id, and says so in the old
    chat and in the new one: a team chat's grid follows, and so do the group's pending
    pushes, or they would be refused."""
    if message.migrate_to_chat_id:
        old_chat_id, new_chat_id = message.chat.id, message.migrate_to_chat_id
    else:
        old_chat_id, new_chat_id = message.migrate_from_chat_id, message.chat.id
    await team_chat_moved(session, notifier, old_chat_id, new_chat_id, utcnow())


@router.message(F.chat.type == "private")
async def unclaimed_in_a_step(message: Message) -> None:
    """A message in a conversation step no handler knows: a step of an older version of
    the bot, still saved for the person. Without this they would hear nothing at all."""
    await message.answer(
        _("I did not understand that. Send /cancel to stop what you were doing, then try again.")
    )


@router.callback_query()
async def stale_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """Old, foreign or forged buttons: a polite refusal, and nothing changes."""
    refuse_button(callback_answer)


@router.errors()
async def apologise(
    event: ErrorEvent,
    bot: Bot,
    i18n: I18n,
    saved_locale: str | None = None,
    raw_state: str | None = None,
) -> None:
    """A handler failed: its transaction was rolled back, so nothing half-done remains;
    the person is told to try again, in their language (the one they chose, else their
    client's), instead of hearing nothing. In a conversation they are also shown /cancel:
    a step that fails on every try (a draft an older version saved without something the
    step now expects) would otherwise answer "try again" for ever."""
    logger.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    context = UserContextMiddleware.resolve_event_context(event.update)
    user, chat = context.user, context.chat
    if user is None or chat is None or chat.type != "private":
        return
    locale = negotiate_locale(saved_locale, user.language_code, i18n.default_locale)
    if raw_state is None:
        text = i18n.gettext(
            "Sorry, something went wrong on our side and nothing was changed. Please try again.",
            locale=locale,
        )
    else:
        text = i18n.gettext(
            "Sorry, something went wrong on our side and nothing was changed. Please try "
            "again; if it keeps happening, send /cancel and start over.",
            locale=locale,
        )
    try:
        await bot.send_message(chat.id, text)
    except TelegramAPIError:
        logger.warning("could not tell chat %s about the failure", chat.id)


@router.my_chat_member(F.chat.type == "private")
async def blocked_or_back(
    event: ChatMemberUpdated,
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    person: Person | None = None,
) -> None:
    """Telegram says the person blocked the bot (or unblocked it): from now on their pushes
    go to someone else in their team until they are back (``identify`` clears the mark),
    and those still pending are given up and handed over now, not refused one by one."""
    if event.new_chat_member.status == ChatMemberStatus.KICKED:
        await person_lost(
            session, notifier, i18n, person, event.chat.id, utcnow(), settings.admin_ids
        )


@router.my_chat_member(F.chat.type.in_(GROUP_CHATS))
async def removed_or_muted_in_group(
    event: ChatMemberUpdated,
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
) -> None:
    """The bot was removed from a team's group, or may no longer post there: every push to
    it would fail, so the grid's members are told that its tickets now reach them in
    private only. A removed group is unbound (binding again takes a new code); a muted one
    stays bound, and gets the pushes again once it lets the bot post."""
    member = event.new_chat_member
    removed = member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED) or (
        isinstance(member, ChatMemberRestricted) and not member.is_member
    )
    muted = isinstance(member, ChatMemberRestricted) and not member.can_send_messages
    if removed:
        await team_chat_lost(session, notifier, i18n, event.chat.id, utcnow(), settings.admin_ids)
    elif muted:
        await team_chat_muted(session, notifier, i18n, event.chat.id)
