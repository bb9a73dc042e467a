"""Greeting, main menu, help, language and cancel: what every person can do anywhere."""

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import LanguageCb, MenuCb, MenuItem
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.languages import SUPPORTED_LOCALES
from redgrid.models import Person, Role, Ticket
from redgrid.services import tickets
from redgrid.services.people import Actor, left_team_of, memberships, set_locale

router = Blueprint(__name__)
router.messages_only()  # commands only
router.callbacks_only(LanguageCb, MenuCb)

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
TEAM_ROLES = {Role.SECRETARY, Role.GRID_WORKER, Role.OFFICER, Role.ADMIN}


async def is_team_member(session: AsyncSession, actor: Actor) -> bool:
    if actor.is_admin:
        return True
    return any(m.role in TEAM_ROLES for m in await memberships(session, actor.person_id))


def private_state(state: FSMContext, user_id: int) -> FSMContext:
    """The conversation state of the person's private chat, where every conversation is
    kept (a team button pressed in a group goes on there), wherever they wrote from."""
    key = state.key
    if key.chat_id == user_id and key.thread_id is None:
        return state
    private = StorageKey(
        bot_id=key.bot_id,
        chat_id=user_id,
        user_id=user_id,
        business_connection_id=key.business_connection_id,
        destiny=key.destiny,
    )
    return FSMContext(storage=state.storage, key=private)


def anonymous_admin_text() -> str:
    """For a group admin who posts as the group: Telegram does not say who they are, so
    nothing that depends on the person (their queue, their tickets) can be answered."""
    return _(
        "You are posting anonymously as the group, so I cannot tell who you are. "
        'Turn off "Remain anonymous" in your admin rights, or send me this in a private chat.'
    )


def refuse_button(callback_answer: CallbackAnswer, text: str | None = None) -> None:
    """Answer a stale, foreign or forged button with an alert; the caller changes nothing.

    Every callback query is answered by aiogram's ``CallbackAnswerMiddleware`` after the
    handler: handlers set ``callback_answer`` instead of calling ``query.answer()``.
    """
    callback_answer.text = text or _("This button is no longer valid.")
    callback_answer.show_alert = True


async def show_in_place(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Show ``text`` in place of the message whose button was pressed, so the chat does not
    fill with stale copies of it; a new message in that chat when it cannot be edited (a
    photo's caption, a message deleted or no longer accessible, an edit Telegram refuses).
    """
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        try:
            await message.edit_text(text, reply_markup=reply_markup)
            return
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return  # it shows this already: a copy would be one more stale message
    await message.answer(text, reply_markup=reply_markup)


def left_team_text() -> str:
    return _(
        "You are no longer on this ticket's team, so you cannot act on it any more. "
        "If that is a mistake, ask the district admin."
    )


async def refuse_ticket_button(
    session: AsyncSession, actor: Actor, ticket: Ticket | None, callback_answer: CallbackAnswer
) -> None:
    """Refuse a ticket's team button to someone who may not act on it: one taken off its
    team is told so; anyone else learns nothing (not even that the ticket exists)."""
    if ticket is not None and await left_team_of(session, actor.person_id, ticket):
        refuse_button(callback_answer, left_team_text())
    else:
        refuse_button(callback_answer)


def main_menu(*, team: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("📝 Raise a complaint"), callback_data=MenuCb(item=MenuItem.COMPLAIN))
    builder.button(text=_("📋 My tickets"), callback_data=MenuCb(item=MenuItem.MY_TICKETS))
    if team:
        builder.button(text=_("🗂 Work queue"), callback_data=MenuCb(item=MenuItem.QUEUE))
    builder.button(text=_("🌐 Language"), callback_data=MenuCb(item=MenuItem.LANGUAGE))
    builder.button(text=_("❓ Help"), callback_data=MenuCb(item=MenuItem.HELP))
    builder.adjust(1, 1, *([1] if team else []), 2)
    return builder.as_markup()


async def show_menu(message: Message, session: AsyncSession, actor: Actor, text: str) -> None:
    await message.answer(text, reply_markup=main_menu(team=await is_team_member(session, actor)))


@router.message(CommandStart(deep_link=False), F.chat.type == "private")
async def start(message: Message, state: FSMContext, session: AsyncSession, actor: Actor) -> None:
    if await state.get_state() is not None:
        # As /cancel: say so, and take away a reply keyboard a step showed (the location
        # button), which would otherwise send its answer to no conversation.
        await message.answer(_("Cancelled. Nothing was sent."), reply_markup=ReplyKeyboardRemove())
    await state.clear()
    greeting = _(
        "Hello! This is the red grid service of Dongxiang District.\n\n"
        "Tell us about a problem in your neighbourhood: it goes straight to the grid team "
        "that looks after that spot, and you will hear back at every step."
    )
    team = await is_team_member(session, actor)
    waiting = await tickets.team_queue_size(session, actor) if team else 0
    if waiting:
        # Pushes cannot reach someone who never opened the bot (an admin named in
        # ADMIN_IDS, a member who joined late): what came meanwhile waits in the queue.
        greeting += "\n\n" + ngettext(
            "📋 {count} open ticket waits in your queue: send /queue to see it.",
            "📋 {count} open tickets wait in your queue: send /queue to see them.",
            waiting,
        ).format(count=waiting)
    await message.answer(greeting, reply_markup=main_menu(team=team))


async def help_text(session: AsyncSession, actor: Actor | None) -> str:
    """The commands of the person's roles, in one message: everyone's, then a team's (grid
    members, officers, admins), a red informant's, a community officer's and a district
    admin's, as they apply.
    ``actor`` None: an anonymous group admin, who gets everyone's."""
    roles = {m.role for m in await memberships(session, actor.person_id)} if actor else set()
    admin = actor is not None and actor.is_admin
    parts = [
        _(
            "<b>What I can do</b>\n"
            "/new: raise a complaint (photos and a location help the team)\n"
            "/mytickets: your complaints and their progress"
        )
    ]
    if admin or roles & TEAM_ROLES:
        parts.append(
            _(
                "<b>For the team</b>\n"
                "/queue: the open tickets of your queue\n"
                "/ticket NUMBER: one ticket with its history\n"
                "/grade NUMBER: grade a red informant's report"
            )
        )
    if Role.INFORMANT in roles:
        parts.append(
            _(
                "<b>For red informants</b>\n"
                "/report: report a problem from the road (or just send a photo)\n"
                "/mine: your reports and points\n"
                "/top: this month's leaderboard"
            )
        )
    if Role.OFFICER in roles and not admin:
        parts.append(
            _(
                "<b>For community officers</b>\n"
                "/invite: a red informant's invitation link for your community\n"
                "/informants: pause, resume or remove the informants you invited"
            )
        )
    if admin:
        parts.append(
            _(
                "<b>For district admins</b>\n"
                "/invite: an invitation link for a role\n"
                "/informants: pause, resume or remove red informants"
            )
        )
    parts.append(
        _(
            "/language: 中文 / English\n"
            "/mydata: a copy of the data we keep about you\n"
            "/forget: erase your personal data\n"
            "/cancel: stop what you are doing"
        )
    )
    return "\n\n".join(parts)


@router.message(Command("help"))
async def help_command(
    message: Message,
    session: AsyncSession,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    await message.answer(await help_text(session, actor))


@router.callback_query(MenuCb.filter(F.item == MenuItem.HELP))
async def help_button(query: CallbackQuery, session: AsyncSession, actor: Actor) -> None:
    await query.message.answer(await help_text(session, actor))


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for locale in SUPPORTED_LOCALES:
        builder.button(text=LANGUAGE_NAMES[locale], callback_data=LanguageCb(locale=locale))
    return builder.as_markup()


@router.message(Command("language"))
async def language_command(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard())


@router.callback_query(MenuCb.filter(F.item == MenuItem.LANGUAGE))
async def language_button(query: CallbackQuery) -> None:
    await query.message.answer(_("Choose your language:"), reply_markup=language_keyboard())


@router.callback_query(LanguageCb.filter())
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    actor: Actor,
    i18n: I18n,
) -> None:
    if callback_data.locale not in SUPPORTED_LOCALES:
        refuse_button(callback_answer)
        return
    await set_locale(session, person, callback_data.locale)
    await session.commit()
    with i18n.use_locale(callback_data.locale):
        text = _("Language: {language}").format(language=LANGUAGE_NAMES[callback_data.locale])
        if query.message.chat.type != "private":  # /language in a group: no menu there
            callback_answer.text = text
            return
        if await state.get_state() is not None:
            # Switched half-way through a draft or a step, which goes on: the menu's
            # buttons would lead away from it without a word.
            text += "\n" + _("Carry on where you left off, or send /cancel to stop.")
            await query.message.answer(text)
            return
        await show_menu(query.message, session, actor, text)


@router.message(Command("cancel"), StateFilter("*"))
async def cancel(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    if actor is None:
        await message.reply(anonymous_admin_text())
        return
    if message.chat.type != "private":
        # The conversation to end is the private one (a button pressed here goes on
        # there); the menu is for the private chat too, not for the whole group.
        state = private_state(state, actor.telegram_id)
        had_state = await state.get_state() is not None
        await state.clear()
        await message.reply(
            _("Cancelled. Nothing was sent.") if had_state else _("Nothing to cancel.")
        )
        return
    had_state = await state.get_state() is not None
    await state.clear()
    text = _("Cancelled. Nothing was sent.") if had_state else _("Nothing to cancel.")
    # Also takes away a reply keyboard a step may have shown (the location button).
    await message.answer(text, reply_markup=ReplyKeyboardRemove())
    await show_menu(message, session, actor, _("Choose what you would like to do:"))
