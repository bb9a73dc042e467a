"""Invitations: a deep link gives a person a role, ``/bind`` gives a grid its team chat,
and admins create links with ``/invite``; so do community officers, for red informants of
their communities only (``invites.invite_rights``, asked again at every step).

This router comes before ``common``: ``/start <code>`` is a deep link, a plain ``/start``
is the greeting. The rules (which code is valid, what it grants, who may bind) live in
``services/invites.py``.
"""

import html
import logging
from datetime import timedelta

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import local_time
from redgrid.bot.settings import Settings
from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import InviteCb, InviteStep
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.informant import start_profile
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Community, Grid, Invite, Person, Role
from redgrid.models.base import MAX_ROW_ID, utcnow
from redgrid.services.invites import (
    GRID_ROLES,
    INVITABLE_ROLES,
    BindSender,
    ChatAlreadyBound,
    InviteAlreadyUsed,
    InviteExpired,
    InviteNotAllowed,
    InviteNotFound,
    InviteRights,
    InviteScope,
    NotAGridInvite,
    NotAGroupAdmin,
    ScopeNotFound,
    bind_team_chat,
    create_invite,
    invite_rights,
    invite_scope,
    redeem_invite,
    spent_in_group,
)
from redgrid.services.people import Actor

logger = logging.getLogger(__name__)

router = Blueprint(__name__)

GROUP_CHATS = {"group", "supergroup"}


class InviteForm(StatesGroup):
    role = State()
    grid = State()
    community = State()


router.messages_only(InviteForm)
router.callbacks_only(InviteCb)


async def not_command(message: Message) -> bool:
    """Catch-alls of this router let commands through: it runs before ``/cancel``'s."""
    return not (message.text or "").startswith("/")


# Names, in the reader's language -----------------------------------------------------------


def role_name(role: Role) -> str:
    return {
        Role.SECRETARY: _("party branch secretary"),
        Role.GRID_WORKER: _("grid worker"),
        Role.OFFICER: _("community officer"),
        Role.INFORMANT: _("red informant"),
        Role.ADMIN: _("district admin"),
    }[role]


def scope_name(scope: InviteScope) -> str:
    if scope.grid is not None:
        return _("grid {name} ({code})").format(
            name=html.escape(scope.grid.name), code=html.escape(scope.grid.code)
        )
    if scope.community is not None:
        return html.escape(scope.community.name)
    return _("the whole district")


def welcome_text(role: Role, scope: InviteScope) -> str:
    where = scope_name(scope)
    if role is Role.SECRETARY:
        text = _("You are now the party branch secretary of {scope}.")
    elif role is Role.GRID_WORKER:
        text = _("You are now a grid worker of {scope}.")
    elif role is Role.OFFICER:
        text = _("You are now a community officer of {scope}.")
    else:
        text = _("You are now a red informant of {scope}.")
    text = text.format(scope=where)
    if role in GRID_ROLES:
        text += "\n" + _("New tickets of the grid will reach you here.")
    elif role is Role.OFFICER:
        text += "\n" + _("Escalations and overdue tickets of the community will reach you here.")
    return text


def farewell_text(role: Role, scope: InviteScope) -> str:
    """What a person removed from a team is told (``redgrid members --remove``), rendered
    in their language by the caller."""
    return _(
        "You are no longer a {role} of {scope}: its tickets will no longer reach you here, "
        "and their buttons no longer work for you. Thank you for your work! If this is a "
        "mistake, ask the district admin."
    ).format(role=role_name(role), scope=scope_name(scope))


# Deep links: /start <code> -----------------------------------------------------------------


@router.message(CommandStart(deep_link=True), F.chat.type == "private")
async def start_with_code(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    actor: Actor,
) -> None:
    await state.clear()
    try:
        membership = await redeem_invite(session, (command.args or "").strip(), person, utcnow())
    except InviteNotFound:
        text = _(
            "This link is not valid. Check that you opened or copied it whole, "
            "or ask for a new one."
        )
    except InviteExpired:
        text = _("This invitation has expired. Ask the district admin for a new link.")
    except InviteAlreadyUsed as used:
        if await spent_in_group(session, used.invite):
            text = _(
                "This invitation's code was shown in a group chat, so it no longer works "
                "(anyone there could have used it). Ask the district admin for a new link."
            )
        elif used.used_by_id == person.id:
            text = _("You have already used this invitation; your role is unchanged.")
        else:
            text = _(
                "This invitation has already been used: each link works once. "
                "Ask the district admin for a new one."
            )
    else:
        await session.commit()
        scope = InviteScope(
            grid=await session.get(Grid, membership.grid_id) if membership.grid_id else None,
            community=(
                await session.get(Community, membership.community_id)
                if membership.community_id
                else None
            ),
        )
        text = welcome_text(membership.role, scope)
        if membership.role is Role.INFORMANT:  # on to the informant's profile
            await start_profile(message, state, session, person, text)
            return
    await show_menu(message, session, actor, text)


# /bind <code> in a team's group ------------------------------------------------------------


async def bind_sender(message: Message, bot: Bot, actor: Actor | None) -> BindSender:
    """The standing in the group of whoever sent ``/bind``, asked of Telegram.

    A message sent as the group (an anonymous administrator) or as a channel carries
    ``sender_chat`` and names nobody (its ``from_user`` is a stand-in such as
    GroupAnonymousBot), so it is ANONYMOUS without asking; so is one with no person behind
    it (``actor`` None)."""
    if message.sender_chat is not None or actor is None:
        return BindSender.ANONYMOUS
    try:
        member = await bot.get_chat_member(message.chat.id, message.from_user.id)
    except TelegramAPIError as error:
        logger.warning("getChatMember failed in chat %s: %s", message.chat.id, error)
        return BindSender.UNKNOWN
    if isinstance(member, ChatMemberAdministrator | ChatMemberOwner):
        return BindSender.ADMIN
    return BindSender.MEMBER


def not_admin_text(sender: BindSender) -> str:
    """Why the group was not bound, and what to do, for a sender who is not a known admin."""
    if sender is BindSender.ANONYMOUS:
        text = _(
            "This /bind was sent on behalf of the group or a channel, so I cannot tell who "
            "is binding the group, and the group was not bound. An administrator must send "
            '/bind as themselves: turn off "Remain anonymous" in your administrator rights '
            "first."
        )
    elif sender is BindSender.UNKNOWN:
        text = _(
            "I could not check with Telegram that you are an administrator of this group, "
            "so the group was not bound. Try again in a moment; if it keeps failing, make me "
            "an administrator of the group."
        )
    else:
        text = _(
            "Only an administrator of this group can make it a grid's team chat, because "
            "the grid's tickets, and the contacts residents agree to share, will be posted "
            "here. Ask an administrator of the group to send /bind."
        )
    return (
        text
        + "\n"
        + _(
            "The code was shown here, so it no longer works (anyone in the group could have "
            "used it): ask the district admin for a new one."
        )
    )


@router.message(Command("bind"), F.chat.type.in_(GROUP_CHATS))
async def bind_group(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    bot: Bot,
    actor: Actor | None = None,  # None: sent as the group or a channel
) -> None:
    code = (command.args or "").strip()
    if not code:
        await message.reply(
            _("Send /bind followed by the code of an invitation for your grid's team.")
        )
        return
    sender = await bind_sender(message, bot, actor)
    try:
        binding = await bind_team_chat(session, code, message.chat.id, actor, sender, utcnow())
    except InviteNotFound:
        text = _("This code is not valid. Check it, or ask the district admin for a new one.")
    except InviteExpired:
        text = _("This code has expired. Ask the district admin for a new one.")
    except InviteAlreadyUsed:
        text = _("This code has already been used. Ask the district admin for a new one.")
    except NotAGroupAdmin as refused:
        await session.commit()  # the code was shown to the group: it stays spent
        text = not_admin_text(refused.sender)
    except NotAGridInvite as refused:
        await session.commit()  # the code was shown to the group: it stays spent
        text = _(
            "This code invites a {role}; only a code for a grid's secretary or grid worker "
            "can bind a team chat. It was shown here, so it no longer works: ask the "
            "district admin for a new one."
        ).format(role=role_name(refused.invite.role))
    except ChatAlreadyBound as bound:
        await session.commit()  # the code was shown to the group: it stays spent
        text = _(
            "This group is already the team chat of grid {name} ({code}); a group serves "
            "one grid. The code was shown here, so it no longer works: ask the district "
            "admin for a new one, and use it in the other grid's group."
        ).format(name=html.escape(bound.grid.name), code=html.escape(bound.grid.code))
    else:
        grid = binding.grid
        name, code = html.escape(grid.name), html.escape(grid.code)
        if binding.replaced_chat_id is not None:
            # Else the old group would just fall silent, with nobody there knowing why.
            with i18n.use_locale(settings.default_locale):
                notice = _(
                    "This group is no longer the team chat of grid {name} ({code}): another "
                    "group was bound to the grid, and its new tickets go there now. If that "
                    "is a mistake, tell the district admin."
                ).format(name=name, code=code)
            notifier.message(binding.replaced_chat_id, notice)
        await session.commit()
        text = _(
            "This group is now the team chat of grid {name} ({code}). "
            "New tickets of the grid will be posted here."
        ).format(name=name, code=code)
    await message.reply(text)


@router.message(Command("bind"), F.chat.type == "private")
async def bind_private(message: Message) -> None:
    await message.answer(
        _(
            "/bind connects a grid team's group chat: add me to your team's group "
            "and send /bind with the code there."
        )
    )


# /invite: admins, and officers for informants, create a link in chat ----------------------


def cancel_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("✖️ Cancel"), callback_data=InviteCb(step=InviteStep.CANCEL))
    return builder.as_markup()


def role_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for role in INVITABLE_ROLES:
        builder.button(
            text=role_name(role), callback_data=InviteCb(step=InviteStep.ROLE, value=role.value)
        )
    builder.button(text=_("✖️ Cancel"), callback_data=InviteCb(step=InviteStep.CANCEL))
    builder.adjust(2, 2, 1)
    return builder.as_markup()


async def community_keyboard(
    session: AsyncSession, rights: InviteRights, role: Role
) -> InlineKeyboardMarkup:
    """The communities ``rights`` allow (an officer's own), and the district for an admin's
    informant invite."""
    communities = rights.communities
    if communities is None:
        communities = (await session.exec(select(Community).order_by(col(Community.name)))).all()
    district = rights.allows(role, None) and role is Role.INFORMANT
    builder = InlineKeyboard()
    if district:
        builder.button(
            text=_("The whole district"), callback_data=InviteCb(step=InviteStep.DISTRICT)
        )
    for community in communities:
        builder.button(
            text=community.name,
            callback_data=InviteCb(step=InviteStep.COMMUNITY, value=str(community.id)),
        )
    builder.button(text=_("✖️ Cancel"), callback_data=InviteCb(step=InviteStep.CANCEL))
    sizes = ([1] if district else []) + [2] * ((len(communities) + 1) // 2) + [1]
    builder.adjust(*sizes)
    return builder.as_markup()


async def community_prompt(
    message: Message, session: AsyncSession, rights: InviteRights, role: Role
) -> None:
    if rights.communities is not None:
        text = _(
            "An invitation for a red informant: which of your communities? Choose one, "
            "or type its name:"
        )
    elif role is Role.INFORMANT:
        text = _("For the whole district or one community? Choose, or type a community's name:")
    else:
        text = _("Which community? Choose one, or type its name:")
    await message.answer(text, reply_markup=await community_keyboard(session, rights, role))


async def grid_prompt(message: Message, session: AsyncSession) -> None:
    example = (
        await session.exec(
            select(Grid.code).where(col(Grid.active)).order_by(col(Grid.code)).limit(1)
        )
    ).first()
    if example is None:
        text = _("Type the grid's code:")
    else:
        text = _("Type the grid's code (for example {example}):").format(
            example=html.escape(example)
        )
    await message.answer(text, reply_markup=cancel_keyboard())


def not_allowed_text() -> str:
    return _(
        "Only district admins, and community officers for red informants of their "
        "community, can create invitations. If you should have a role, ask the district "
        "admin for a link."
    )


@router.message(Command("invite"), F.chat.type == "private")
async def invite_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    bot: Bot,
) -> None:
    """An admin chooses a role; an officer may only invite a red informant, so that step
    is skipped, and so is the community's when they serve one."""
    rights = await invite_rights(session, actor)
    if rights is None:
        await message.answer(not_allowed_text())
        return
    await state.clear()
    if rights.communities is None:
        await state.set_state(InviteForm.role)
        await message.answer(
            _("Who is the invitation for? Choose a role:"), reply_markup=role_keyboard()
        )
        return
    if len(rights.communities) == 1:
        community_name = rights.communities[0].name
        await issue(
            message, state, session, actor, settings, bot, Role.INFORMANT, None, community_name
        )
        return
    await state.set_state(InviteForm.community)
    await state.update_data(role=Role.INFORMANT.value)
    await community_prompt(message, session, rights, Role.INFORMANT)


@router.message(Command("invite"), F.chat.type.in_(GROUP_CHATS))
async def invite_in_group(
    message: Message, session: AsyncSession, actor: Actor | None = None
) -> None:
    if actor is not None and await invite_rights(session, actor) is not None:
        await message.reply(
            _("Use /invite in a private chat with me, so the link is not seen by the whole group.")
        )


async def _in_state(state: FSMContext, *states: State) -> bool:
    return await state.get_state() in {s.state for s in states}


@router.callback_query(InviteCb.filter(F.step == InviteStep.ROLE))
async def role_chosen(
    query: CallbackQuery,
    callback_data: InviteCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    rights = await invite_rights(session, actor)
    if rights is None or not await _in_state(state, InviteForm.role):
        refuse_button(callback_answer)
        return
    try:
        role = Role(callback_data.value)
    except ValueError:
        role = None
    if role not in rights.roles:
        refuse_button(callback_answer)
        return
    await state.update_data(role=role.value)
    callback_answer.text = role_name(role)
    if role in GRID_ROLES:
        await state.set_state(InviteForm.grid)
        await grid_prompt(query.message, session)
    else:
        await state.set_state(InviteForm.community)
        await community_prompt(query.message, session, rights, role)


@router.callback_query(InviteCb.filter(F.step.in_({InviteStep.COMMUNITY, InviteStep.DISTRICT})))
async def community_chosen(
    query: CallbackQuery,
    callback_data: InviteCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    bot: Bot,
) -> None:
    rights = await invite_rights(session, actor)
    if rights is None or not await _in_state(state, InviteForm.community):
        refuse_button(callback_answer)
        return
    role = Role((await state.get_data())["role"])
    community_name = None
    if callback_data.step is InviteStep.COMMUNITY:
        # A forged id beyond the id column's range must not reach the database.
        value = callback_data.value
        community = (
            await session.get(Community, int(value))
            if value.isdigit() and int(value) <= MAX_ROW_ID
            else None
        )
        if community is None or not rights.allows(role, community.id):
            refuse_button(callback_answer)
            return
        community_name = community.name
    elif role is not Role.INFORMANT or not rights.allows(role, None):
        refuse_button(callback_answer)
        return
    await issue(query.message, state, session, actor, settings, bot, role, None, community_name)


@router.message(InviteForm.grid, F.text, not_command)
async def grid_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    bot: Bot,
) -> None:
    role = Role((await state.get_data())["role"])
    await issue(message, state, session, actor, settings, bot, role, message.text, None)


@router.message(InviteForm.community, F.text, not_command)
async def community_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    bot: Bot,
) -> None:
    role = Role((await state.get_data())["role"])
    await issue(message, state, session, actor, settings, bot, role, None, message.text)


async def issue(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    bot: Bot,
    role: Role,
    grid_code: str | None,
    community_name: str | None,
) -> None:
    """Create the invite (the service checks the actor's rights again), commit, then show
    the link."""
    rights = await invite_rights(session, actor)
    if rights is None:
        await state.clear()
        await message.answer(not_allowed_text())
        return
    me = await bot.me()  # aiogram caches it: one getMe per process
    try:
        invite, code = await create_invite(
            session,
            role,
            grid_code=grid_code,
            community_name=community_name,
            by=actor,
            ttl=timedelta(days=settings.invite_ttl_days),
            now=utcnow(),
        )
    except InviteNotAllowed:
        # An officer typed another community, or was an admin when the form began.
        await state.set_state(InviteForm.community)
        await state.set_data({"role": Role.INFORMANT.value})
        await message.answer(
            _(
                "As a community officer you can invite red informants of your own "
                "community only. Choose one:"
            ),
            reply_markup=await community_keyboard(session, rights, Role.INFORMANT),
        )
        return
    except ScopeNotFound:
        if grid_code is not None:
            await message.answer(
                _("There is no grid with the code {code}. Check it and type it again:").format(
                    code=html.escape(grid_code.strip())
                ),
                reply_markup=cancel_keyboard(),
            )
        else:
            await message.answer(
                _("There is no community named {name}. Choose one, or type the name again:").format(
                    name=html.escape((community_name or "").strip())
                ),
                reply_markup=await community_keyboard(session, rights, role),
            )
        return
    await state.clear()
    await session.commit()
    await message.answer(
        invite_text(invite, await invite_scope(session, invite), code, me, settings)
    )


def invite_text(invite: Invite, scope: InviteScope, code: str, me: User, settings: Settings) -> str:
    who = _("{role} of {scope}").format(role=role_name(invite.role), scope=scope_name(scope))
    link = f"https://t.me/{me.username}?start={code}"
    text = _(
        "Invitation for: {who}\n"
        "It works once, until {until}.\n\n"
        "Send this link to the person:\n{link}"
    ).format(who=who, until=local_time(invite.expires_at, settings), link=link)
    if invite.role in GRID_ROLES:
        text += "\n\n" + _(
            "Or, to make a group the grid's team chat, add me to the group; then an "
            "administrator of the group sends <code>/bind {code}</code> there."
        ).format(code=code)
    return text


@router.callback_query(InviteCb.filter(F.step == InviteStep.CANCEL))
async def invite_cancelled(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    if not await _in_state(state, InviteForm.role, InviteForm.grid, InviteForm.community):
        refuse_button(callback_answer)
        return
    await state.clear()
    await show_menu(query.message, session, actor, _("Cancelled. No invitation was created."))


# Catch-alls: wrong input in each step gets a hint ------------------------------------------


@router.message(InviteForm.role, not_command)
async def role_hint(message: Message) -> None:
    await message.answer(
        _("Choose a role with the buttons, or /cancel."), reply_markup=role_keyboard()
    )


@router.message(InviteForm.grid, not_command)
async def grid_hint(message: Message) -> None:
    await message.answer(
        _("Type the grid's code as text, or /cancel."), reply_markup=cancel_keyboard()
    )


@router.message(InviteForm.community, not_command)
async def community_hint(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    rights = await invite_rights(session, actor)
    if rights is None:
        await state.clear()
        await message.answer(not_allowed_text())
        return
    role = Role((await state.get_data())["role"])
    await message.answer(
        _("Choose a community with the buttons or type its name, or /cancel."),
        reply_markup=await community_keyboard(session, rights, role),
    )
