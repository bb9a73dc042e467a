"""The grid team's side of a ticket: accept, transfer, consultation, invalid, duplicate,
resolve, extend, ask the reporter; the queue and one ticket by number.

Every button re-checks on the server who presses it and where the ticket stands (the
services raise NotAllowed / IllegalTransition / AlreadyTaken). A team may press buttons in
its group chat; a step that needs typing then continues in the member's private chat,
where the bot reads plain text, so the conversation state is kept under that chat.
"""

import html
from dataclasses import replace
from datetime import timedelta
from enum import IntEnum

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import N_
from redgrid.bot.lost_chats import UndeliveredNotice
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import (
    escape_clipped,
    local_time,
    push_to_followers,
    push_to_reporter,
    push_to_team,
    queue_name,
    rating_keyboard,
    status_name,
    team_keyboard,
    ticket_card,
)
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.blueprint import Blueprint, CallbackPrefix
from redgrid.handlers.callbacks import (
    ChoiceCb,
    MenuCb,
    MenuItem,
    MergeCb,
    TicketAction,
    TicketCb,
)
from redgrid.handlers.common import (
    anonymous_admin_text,
    is_team_member,
    left_team_text,
    private_state,
    refuse_button,
)
from redgrid.handlers.informant import offer_grade
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets import (
    current_status,
    is_team_chat_of,
    load_ticket,
    no_longer_applies,
    queue_label,
    queue_of,
    shown_in_chat,
    tell_team,
    ticket_view,
)
from redgrid.models import OPEN_STATUSES, Person, Ticket, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor, can_handle, left_team_of
from redgrid.services.tickets import (
    AlreadyTaken,
    ExtensionLimitReached,
    IllegalTransition,
    NotAllowed,
    OriginalNotOpen,
    SameTicket,
    TicketNotFound,
)

router = Blueprint(__name__)

QUEUE_LIMIT = 30
EXTENSION_DAYS = (1, 3, 7)
# ChoiceCb kinds of this module.
TRANSFER_GRID = "tr"
TRANSFER_UP = "tru"
TRANSFER_CODE = "trc"
EXTEND_DAYS = "ext"
TEAM_NAV = "tn"
# A question that never reached the reporter comes back to its asker, this much of it.
QUESTION_ECHO = 300
QUESTION_UNDELIVERED = N_(
    "❗ Your question on {number} could not be delivered to the reporter, so no answer "
    "will come:\n\n{question}"
)

RATING_UNDELIVERED = N_(
    "❗ {number} is resolved, but the reporter could not be reached to rate it. It will "
    "close unrated in {days} days."
)


class Nav(IntEnum):
    BACK = 0
    CANCEL = 1
    SKIP = 2


class TeamForm(StatesGroup):
    transfer_target = State()
    transfer_code = State()
    transfer_note = State()
    invalid_reason = State()
    resolve_note = State()
    resolve_photo = State()
    extend_days = State()
    extend_reason = State()
    question = State()
    duplicate_of = State()
    duplicate_confirm = State()


router.messages_only(TeamForm)
router.callbacks_only(ChoiceCb, MenuCb, MergeCb, TicketCb)


# Helpers ----------------------------------------------------------------------------------


async def say(
    bot: Bot,
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> bool:
    """Answer a team button in the member's private chat; False when that chat is closed
    (a member who pressed in the group but never started the bot)."""
    try:
        await bot.send_message(query.from_user.id, text, reply_markup=reply_markup)
    except (TelegramForbiddenError, TelegramBadRequest):
        callback_answer.text = _("Please open a private chat with me (press Start) to continue.")
        callback_answer.show_alert = True
        return False
    return True


def nav_keyboard(
    *, back: bool = False, skip: bool = False, builder: InlineKeyboard | None = None
) -> InlineKeyboardMarkup:
    builder = builder or InlineKeyboard()
    if skip:
        builder.button(text=_("⏭ Skip"), callback_data=ChoiceCb(kind=TEAM_NAV, index=Nav.SKIP))
    if back:
        builder.button(text=_("⬅️ Back"), callback_data=ChoiceCb(kind=TEAM_NAV, index=Nav.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=ChoiceCb(kind=TEAM_NAV, index=Nav.CANCEL))
    builder.adjust(1)
    return builder.as_markup()


async def team_ticket(
    session: AsyncSession,
    actor: Actor,
    query: CallbackQuery,
    ticket_id: int,
    callback_answer: CallbackAnswer,
    allowed: frozenset[TicketStatus] | set[TicketStatus],
) -> Ticket | None:
    """The ticket a team button names, if the presser may act on it now; else a refusal."""
    ticket = await load_ticket(session, ticket_id)
    if ticket is None or not await can_handle(session, actor, ticket):
        await refuse_outsider(session, actor, query, callback_answer, ticket)
        return None
    if ticket.status not in allowed:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return None
    return ticket


async def refuse_outsider(
    session: AsyncSession,
    actor: Actor,
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    ticket: Ticket | None,
) -> None:
    """Refuse someone who may not act on the ticket. Someone taken off its team is told
    so, on the card they were sent; in its team's group, where the card is for everyone in
    the group to read, others are told why; elsewhere a stranger learns nothing (not even
    that the ticket exists)."""
    in_group = query.message is not None and query.message.chat.type != "private"
    if ticket is not None and await left_team_of(session, actor.person_id, ticket):
        refuse_button(callback_answer, left_team_text())
    elif (
        in_group
        and ticket is not None
        and await is_team_chat_of(session, ticket, query.message.chat.id)
    ):
        refuse_button(
            callback_answer,
            _(
                "Only the grid's team can act on its tickets. If you are on the team, ask "
                "the district admin for an invitation."
            ),
        )
    else:
        refuse_button(callback_answer)


async def start_step(
    bot: Bot,
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    step: State,
    data: dict,
    text: str,
    reply_markup: InlineKeyboardMarkup,
) -> None:
    """Enter a typing step in the member's private chat."""
    private = private_state(state, query.from_user.id)
    await private.set_state(step)
    await private.set_data(data)
    if not await say(bot, query, callback_answer, text, reply_markup):
        await private.clear()


async def step_ticket(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> tuple[Ticket | None, dict]:
    """The ticket the conversation is about, re-read (it may have moved meanwhile), while
    the person may still act on it; else None, and the step ends before asking for more."""
    data = await state.get_data()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    if ticket is None or not await can_handle(session, actor, ticket):
        await state.clear()
        await message.answer(await cannot_act_text(session, actor, ticket))
        return None, data
    return ticket, data


async def cannot_act_text(session: AsyncSession, actor: Actor, ticket: Ticket | None) -> str:
    if ticket is not None and await left_team_of(session, actor.person_id, ticket):
        return left_team_text()
    return _("You can no longer act on this ticket.")


async def step_button_ticket(
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    callback_answer: CallbackAnswer,
    allowed: frozenset[TicketStatus] | set[TicketStatus],
) -> Ticket | None:
    """The ticket a step's button is about, if the step still applies to it; else a refusal,
    and the step ends when someone else moved the ticket on meanwhile or the presser was
    taken off its team (rather than asking for a note or a reason the service would then
    refuse)."""
    ticket = await load_ticket(session, (await state.get_data()).get("ticket_id", 0))
    if ticket is None:
        refuse_button(callback_answer)
        return None
    if not await can_handle(session, actor, ticket):
        await state.clear()
        refuse_button(callback_answer, await cannot_act_text(session, actor, ticket))
        return None
    if ticket.status not in allowed:
        await state.clear()
        refuse_button(callback_answer, no_longer_applies(ticket))
        return None
    return ticket


async def refused(message: Message, state: FSMContext, ticket: Ticket, error: Exception) -> None:
    """A step ended by a service refusal: say why, end the conversation."""
    await state.clear()
    if isinstance(error, AlreadyTaken | IllegalTransition):
        await message.answer(no_longer_applies(ticket))
    else:
        await message.answer(_("You can no longer act on this ticket."))


def typed_text(message: Message) -> str | None:
    """The text of a step, or None when it is empty or too long (the caller re-asks)."""
    text = (message.text or "").strip()
    if not text or len(text) > tickets.MAX_TEXT:
        return None
    return text


async def too_long(message: Message, *, back: bool = False) -> None:
    length = len((message.text or "").strip())
    await message.answer(
        _("Please keep it to {limit} characters (yours has {length}).").format(
            limit=tickets.MAX_TEXT, length=length
        ),
        reply_markup=nav_keyboard(back=back),
    )


def member_name(person: Person) -> str:
    return html.escape(person.display_name or "?")


# Accept -----------------------------------------------------------------------------------


@router.callback_query(TicketCb.filter(F.action == TicketAction.ACCEPT))
async def accept_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None:
        refuse_button(callback_answer)
        return
    try:
        await tickets.accept(session, ticket, actor, utcnow())
    except AlreadyTaken as taken:
        # Read the winner now: nothing after this may touch an expired object.
        winner = taken.assignee
        if winner is not None and winner.id == actor.person_id:
            refuse_button(callback_answer, _("You have already accepted this ticket."))
        else:
            name = winner.display_name if winner is not None else "?"
            refuse_button(
                callback_answer,
                _("{name} accepted {number} first.").format(name=name, number=ticket.number),
            )
        return
    except IllegalTransition:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    except (NotAllowed, TicketNotFound):
        await refuse_outsider(session, actor, query, callback_answer, ticket)
        return
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "✅ Ticket {number} was accepted by the grid team. They will resolve it by {time}."
        ).format(number=ticket.number, time=local_time(ticket.resolve_by, settings)),
        audience=audience,
    )
    others = replace(audience, team=tuple(m for m in audience.team if m.id != actor.person_id))
    name = member_name(person)
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _("✅ Accepted by {name}").format(name=name),
        audience=others,
    )
    await session.commit()
    callback_answer.text = _("Accepted.")
    card = await ticket_card(
        session, ticket, catalogue, settings, i18n.current_locale, for_team=True
    )
    accepted = _("✅ You accepted {number}.").format(number=ticket.number)
    if not await say(bot, query, callback_answer, accepted + "\n\n" + card, team_keyboard(ticket)):
        # The ticket is theirs all the same: say so, or they would think the press failed.
        callback_answer.text = _(
            "You accepted {number}. Please open a private chat with me (press Start) to work on it."
        ).format(number=ticket.number)


# Consultation -----------------------------------------------------------------------------


@router.callback_query(TicketCb.filter(F.action == TicketAction.CONSULT))
async def consult_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    try:
        await tickets.move_to_consultation(session, ticket, actor, utcnow())
    except IllegalTransition:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    except NotAllowed:
        refuse_button(callback_answer)
        return
    await session.commit()
    listed = _("🗣 {number} is on the list for the next neighbour consultation.").format(
        number=ticket.number
    )
    if not await say(bot, query, callback_answer, listed):
        callback_answer.text = listed  # done all the same: an alert says so


# Invalid ----------------------------------------------------------------------------------


@router.callback_query(TicketCb.filter(F.action == TicketAction.INVALID))
async def invalid_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.invalid_reason,
        {"ticket_id": ticket.id},
        _("Why is {number} invalid? Write a short reason: the reporter will read it.").format(
            number=ticket.number
        ),
        nav_keyboard(),
    )


@router.message(TeamForm.invalid_reason, F.text, ~F.text.startswith("/"))
async def invalid_reason(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    reason = typed_text(message)
    if reason is None:
        await too_long(message)
        return
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    try:
        await tickets.mark_invalid(session, ticket, actor, utcnow(), reason)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    await state.clear()
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("🚫 Ticket {number} was closed as invalid. Reason: {reason}").format(
            number=ticket.number, reason=html.escape(reason)
        ),
        audience=audience,
    )
    name = member_name(person)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("🚫 {number} was marked invalid by {name}: {reason}").format(
            number=ticket.number, name=name, reason=html.escape(reason)
        ),
        audience=audience,
        exclude_person_id=actor.person_id,
    )
    await session.commit()
    await message.answer(
        _("🚫 {number} is marked invalid; the reporter was told.").format(number=ticket.number)
    )
    await offer_grade(message, session, ticket)  # an informant's report: 评单


# Transfer ---------------------------------------------------------------------------------


async def transfer_prompt(
    session: AsyncSession, ticket: Ticket
) -> tuple[str, InlineKeyboardMarkup, list[int]]:
    """The choice of where to pass the ticket, and the grid ids it offers. A grid's button
    carries the grid's id, not its position: a button left over from another ticket's
    choice must not pick whichever grid sits at that position in this one."""
    grids = await tickets.transfer_grids(session, ticket)
    builder = InlineKeyboard()
    for grid in grids:
        builder.button(
            text=f"{grid.name} ({grid.code})",
            callback_data=ChoiceCb(kind=TRANSFER_GRID, index=grid.id),
        )
    if ticket.grid_id is not None and ticket.community_id is not None:
        builder.button(
            text=_("⬆️ Up to the community"), callback_data=ChoiceCb(kind=TRANSFER_UP, index=0)
        )
    builder.button(
        text=_("⌨️ Type a grid code"), callback_data=ChoiceCb(kind=TRANSFER_CODE, index=0)
    )
    text = _("Where should {number} go? Choose a grid, the community, or type a grid code.")
    return text.format(number=ticket.number), nav_keyboard(builder=builder), [g.id for g in grids]


@router.callback_query(TicketCb.filter(F.action == TicketAction.TRANSFER))
async def transfer_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    text, markup, grid_ids = await transfer_prompt(session, ticket)
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.transfer_target,
        {"ticket_id": ticket.id, "grid_ids": grid_ids},
        text,
        markup,
    )


async def ask_transfer_note(bot: Bot, user_id: int, state: FSMContext, ticket: Ticket) -> None:
    await state.set_state(TeamForm.transfer_note)
    await bot.send_message(
        user_id,
        _(
            "Add a note for the new team about {number} (the reporter can read it in the "
            "history), or press Skip."
        ).format(number=ticket.number),
        reply_markup=nav_keyboard(back=True, skip=True),
    )


@router.callback_query(ChoiceCb.filter(F.kind == TRANSFER_GRID), TeamForm.transfer_target)
async def transfer_to_grid(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await step_button_ticket(state, session, actor, callback_answer, OPEN_STATUSES)
    if ticket is None:
        return
    if callback_data.index not in (await state.get_data()).get("grid_ids", []):
        refuse_button(callback_answer)
        return
    await state.update_data(target_grid_id=callback_data.index, to_community=False)
    await ask_transfer_note(bot, query.from_user.id, state, ticket)


@router.callback_query(ChoiceCb.filter(F.kind == TRANSFER_UP), TeamForm.transfer_target)
async def transfer_up(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await step_button_ticket(state, session, actor, callback_answer, OPEN_STATUSES)
    if ticket is None:
        return
    await state.update_data(target_grid_id=None, to_community=True)
    await ask_transfer_note(bot, query.from_user.id, state, ticket)


@router.callback_query(ChoiceCb.filter(F.kind == TRANSFER_CODE), TeamForm.transfer_target)
async def transfer_by_code(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    if await step_button_ticket(state, session, actor, callback_answer, OPEN_STATUSES) is None:
        return
    await state.set_state(TeamForm.transfer_code)
    await query.message.answer(
        _("Type the code of the grid, for example DX-DF-03."), reply_markup=nav_keyboard(back=True)
    )


@router.message(TeamForm.transfer_code, F.text, ~F.text.startswith("/"))
async def transfer_code_typed(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    code = message.text.strip()[:64]
    grid = await tickets.active_grid_by_code(session, code)
    if grid is None:
        await message.answer(
            _("No grid has the code {code}. Check it and type it again.").format(
                code=html.escape(code)
            ),
            reply_markup=nav_keyboard(back=True),
        )
        return
    if grid.id == ticket.grid_id:
        await message.answer(
            _("{number} is already in that grid. Type another code.").format(number=ticket.number),
            reply_markup=nav_keyboard(back=True),
        )
        return
    await state.update_data(target_grid_id=grid.id, to_community=False)
    await ask_transfer_note(bot, message.chat.id, state, ticket)


async def finish_transfer(
    message: Message,
    state: FSMContext,
    note: str | None,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    old_queue = await queue_of(session, ticket)
    old_audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    try:
        await tickets.transfer(
            session,
            ticket,
            actor,
            utcnow(),
            catalogue=catalogue,
            target_grid_id=data.get("target_grid_id"),
            to_community=bool(data.get("to_community")),
            note=note,
        )
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    except tickets.GridNotInService:  # retired by a district import since it was chosen
        text, markup, grid_ids = await transfer_prompt(session, ticket)
        await state.set_state(TeamForm.transfer_target)
        await state.update_data(grid_ids=grid_ids, target_grid_id=None, to_community=False)
        await message.answer(
            _("That grid is no longer in service.") + "\n\n" + text, reply_markup=markup
        )
        return
    except ValueError:
        await state.clear()
        await message.answer(
            _("{number} cannot go there: it would stay in the same queue.").format(
                number=ticket.number
            )
        )
        return
    await state.clear()
    new_queue = await queue_of(session, ticket)
    name = member_name(person)

    def headline() -> str:
        text = _("↪️ Passed to your queue from {queue} by {name}.").format(
            queue=html.escape(queue_label(*old_queue)), name=name
        )
        if note:
            text += "\n" + _("Note: {note}").format(note=html.escape(note))
        return text

    await push_to_team(
        session, notifier, i18n, settings, catalogue, ticket, headline, with_media=True
    )
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("↪️ Ticket {number} was passed to {queue}, which will take it from here.").format(
            number=ticket.number, queue=html.escape(queue_label(*new_queue))
        ),
        audience=old_audience,
    )
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("↪️ {number} was passed to {queue} by {name}.").format(
            number=ticket.number, queue=html.escape(queue_label(*new_queue)), name=name
        ),
        audience=old_audience,
        exclude_person_id=actor.person_id,
    )
    await session.commit()
    await message.answer(
        _("↪️ {number} was passed to {queue}.").format(
            number=ticket.number, queue=html.escape(queue_label(*new_queue))
        )
    )


@router.message(TeamForm.transfer_note, F.text, ~F.text.startswith("/"))
async def transfer_note_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    note = typed_text(message)
    if note is None:
        await too_long(message, back=True)
        return
    await finish_transfer(
        message, state, note, session, notifier, person, actor, i18n, settings, catalogue
    )


# Resolve ----------------------------------------------------------------------------------


def resolve_note_prompt(ticket: Ticket) -> str:
    return _(
        "What was done about {number}? Write a short note for the reporter "
        "(up to {limit} characters)."
    ).format(number=ticket.number, limit=tickets.MAX_TEXT)


@router.callback_query(TicketCb.filter(F.action == TicketAction.RESOLVE))
async def resolve_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, {TicketStatus.ACCEPTED}
    )
    if ticket is None:
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.resolve_note,
        {"ticket_id": ticket.id},
        resolve_note_prompt(ticket),
        nav_keyboard(),
    )


@router.message(TeamForm.resolve_note, F.text, ~F.text.startswith("/"))
async def resolve_note_typed(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    note = typed_text(message)
    if note is None:
        await too_long(message)
        return
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    if ticket.status is not TicketStatus.ACCEPTED:  # resolved or moved on meanwhile
        await state.clear()
        await message.answer(no_longer_applies(ticket))
        return
    await state.update_data(note=note)
    await state.set_state(TeamForm.resolve_photo)
    await message.answer(
        _("Add a photo of the result, or press Skip."),
        reply_markup=nav_keyboard(back=True, skip=True),
    )


async def finish_resolve(
    message: Message,
    state: FSMContext,
    photo: tuple[str, str] | None,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    *,
    from_album: bool = False,
) -> None:
    """Resolve with the note and the photo of the result, if any (``from_album``: the
    first photo of an album, the one kept)."""
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    note = data.get("note", "")
    try:
        await tickets.resolve(session, ticket, actor, utcnow(), note, photo)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    except ValueError:
        await state.set_state(TeamForm.resolve_note)
        await message.answer(resolve_note_prompt(ticket), reply_markup=nav_keyboard())
        return
    await state.clear()
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    people = [audience.reporter] if audience.reporter is not None else []
    people.extend(audience.followers)
    with notifier.push():  # the photo of the result comes with the news
        if photo is not None:
            for someone in people:
                notifier.photos(
                    someone.telegram_id, [photo[0]], person_id=someone.id, ticket_id=ticket.id
                )
        await push_to_reporter(
            session,
            notifier,
            i18n,
            settings,
            ticket,
            lambda: _(
                "🏁 Your ticket {number} has been resolved.\n\nWhat was done: {note}\n\n"
                "How satisfied are you with the result?"
            ).format(number=ticket.number, note=html.escape(note)),
            keyboard=lambda: rating_keyboard(ticket),
            followers=False,
            audience=audience,
            # The team learns that it will close unrated (``close_unrated_tickets``).
            if_undelivered=UndeliveredNotice(
                tuple(member.id for member in audience.team),
                RATING_UNDELIVERED,
                {"number": ticket.number, "days": f"{settings.auto_close_days:g}"},
            ),
        )
        await push_to_followers(
            session,
            notifier,
            i18n,
            settings,
            ticket,
            lambda: _(
                "🏁 Ticket {number}, which you follow, has been resolved.\n\nWhat was done: {note}"
            ).format(number=ticket.number, note=html.escape(note)),
            audience=audience,
        )
    name = member_name(person)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("🏁 {number} was resolved by {name}.").format(number=ticket.number, name=name),
        audience=audience,
        exclude_person_id=actor.person_id,
    )
    await session.commit()
    text = _("🏁 {number} is resolved. The reporter was asked to rate the result.").format(
        number=ticket.number
    )
    if from_album:
        text += "\n" + _("A ticket keeps one photo of the result: only the album's first was kept.")
    await message.answer(text)
    await offer_grade(message, session, ticket)  # an informant's report: 评单


@router.message(TeamForm.resolve_photo, F.photo)
async def resolve_photo_sent(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    """The photo of the result. An album's first photo is the one kept; the step ends with
    it, so its other photos would reach the idle menu: the album is marked answered."""
    largest = message.photo[-1]
    await finish_resolve(
        message,
        state,
        (largest.file_id, largest.file_unique_id),
        session,
        notifier,
        person,
        actor,
        i18n,
        settings,
        from_album=message.media_group_id is not None,
    )
    if message.media_group_id is not None and await state.get_state() is None:
        await albums.mark_answered(state, albums.Album(message.media_group_id))


# Extend -----------------------------------------------------------------------------------


def extend_days_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for index, days in enumerate(EXTENSION_DAYS):
        label = _("+1 day") if days == 1 else _("+{days} days").format(days=days)
        builder.button(text=label, callback_data=ChoiceCb(kind=EXTEND_DAYS, index=index))
    builder.adjust(len(EXTENSION_DAYS))
    nav = nav_keyboard()
    return InlineKeyboardMarkup(inline_keyboard=[*builder.rows(), *nav.inline_keyboard])


def extensions_used_up(ticket: Ticket, limit: int) -> str:
    if not limit:
        return _("Deadlines cannot be extended here. Resolve {number}, or transfer it.").format(
            number=ticket.number
        )
    return _(
        "The deadline of {number} was already extended as often as allowed ({limit}). "
        "Resolve it, or transfer it."
    ).format(number=ticket.number, limit=limit)


def extend_days_prompt(ticket: Ticket, settings: Settings) -> str:
    return _("{number} is due by {time}. How much more time do you need?").format(
        number=ticket.number, time=local_time(ticket.resolve_by, settings)
    )


@router.callback_query(TicketCb.filter(F.action == TicketAction.EXTEND))
async def extend_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    settings: Settings,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, {TicketStatus.ACCEPTED}
    )
    if ticket is None:
        return
    if await tickets.extensions_this_round(session, ticket.id) >= settings.max_extensions:
        refuse_button(callback_answer, extensions_used_up(ticket, settings.max_extensions))
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.extend_days,
        {"ticket_id": ticket.id},
        extend_days_prompt(ticket, settings),
        extend_days_keyboard(),
    )


@router.callback_query(ChoiceCb.filter(F.kind == EXTEND_DAYS), TeamForm.extend_days)
async def extend_days_chosen(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    ticket = await step_button_ticket(
        state, session, actor, callback_answer, {TicketStatus.ACCEPTED}
    )
    if ticket is None:
        return
    if not 0 <= callback_data.index < len(EXTENSION_DAYS):
        refuse_button(callback_answer)
        return
    await state.update_data(days=EXTENSION_DAYS[callback_data.index])
    await state.set_state(TeamForm.extend_reason)
    await query.message.answer(
        _("Why does {number} need more time? The reporter will read the reason.").format(
            number=ticket.number
        ),
        reply_markup=nav_keyboard(back=True),
    )


@router.message(TeamForm.extend_reason, F.text, ~F.text.startswith("/"))
async def extend_reason_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    reason = typed_text(message)
    if reason is None:
        await too_long(message, back=True)
        return
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    days = data.get("days")
    if days not in EXTENSION_DAYS:
        await state.clear()
        await message.answer(_("You can no longer act on this ticket."))
        return
    try:
        await tickets.extend(
            session,
            ticket,
            actor,
            utcnow(),
            timedelta(days=days),
            reason,
            limit=settings.max_extensions,
        )
    except ExtensionLimitReached as error:
        await state.clear()
        await message.answer(extensions_used_up(ticket, error.limit))
        return
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    await state.clear()
    deadline = local_time(ticket.resolve_by, settings)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "⏳ The grid team needs more time for ticket {number}. "
            "New deadline: {time}. Reason: {reason}"
        ).format(number=ticket.number, time=deadline, reason=html.escape(reason)),
    )
    await session.commit()
    await message.answer(
        _("⏳ {number} is now due by {time}; the reporter was told.").format(
            number=ticket.number, time=deadline
        )
    )


# Ask the reporter -------------------------------------------------------------------------


@router.callback_query(TicketCb.filter(F.action == TicketAction.ASK))
async def ask_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.question,
        {"ticket_id": ticket.id},
        _(
            "Type your question for the reporter of {number}. The bot passes it on and "
            "brings the answer back to you."
        ).format(number=ticket.number),
        nav_keyboard(),
    )


def answer_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("✍️ Answer"), callback_data=TicketCb(action=TicketAction.ANSWER, ticket_id=ticket.id)
    )
    return builder.as_markup()


@router.message(TeamForm.question, F.text, ~F.text.startswith("/"))
async def question_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    question = typed_text(message)
    if question is None:
        await too_long(message)
        return
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    try:
        await tickets.ask_reporter(session, ticket, actor, utcnow(), question)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    await state.clear()
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    reporter = audience.reporter
    reachable = reporter is not None and reporter.unreachable_at is None
    echo = question if len(question) <= QUESTION_ECHO else question[: QUESTION_ECHO - 1] + "…"
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "❓ The grid team has a question about your ticket {number}:\n\n{question}\n\n"
            "Press Answer to reply."
        ).format(number=ticket.number, question=html.escape(question)),
        keyboard=lambda: answer_keyboard(ticket),
        followers=False,
        audience=audience,
        # Known to be out of reach already: the asker is told so at once, below.
        if_undelivered=UndeliveredNotice(
            (actor.person_id,), QUESTION_UNDELIVERED, {"number": ticket.number, "question": echo}
        )
        if reachable
        else None,
    )
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("❓ The grid team asked the reporter of {number}:\n\n{question}").format(
            number=ticket.number, question=html.escape(question)
        ),
        audience=audience,
    )
    await session.commit()
    if not reachable:  # erased, or blocked the bot
        text = _("❓ The question is recorded, but the reporter can no longer be reached.")
    else:
        text = _("❓ Your question was sent. The answer will come to you here.")
    await message.answer(text)


# Duplicate --------------------------------------------------------------------------------

# What the merge preview shows of each ticket's description.
BRIEF_DESCRIPTION = 300


def duplicate_prompt(ticket: Ticket) -> str:
    return _(
        "🔁 Which earlier ticket does {number} repeat? Type its number (for example "
        "DX-000123). {number} will be closed, and its reporter and followers will follow "
        "that ticket instead."
    ).format(number=ticket.number)


async def ticket_brief(
    session: AsyncSession, ticket: Ticket, catalogue: CategoryCatalogue, locale: str
) -> str:
    """A few lines of the ticket: enough to tell two tickets apart."""
    category = catalogue.shown(ticket.category)
    return "\n".join(
        (
            _("<b>{number}</b> · {emoji} {category}").format(
                number=ticket.number, emoji=category.emoji, category=category.name(locale)
            ),
            _("Status: {status}").format(status=status_name(ticket.status, to_reporter=False)),
            _("Queue: {queue}").format(queue=html.escape(await queue_name(session, ticket))),
            escape_clipped(ticket.description, BRIEF_DESCRIPTION),
        )
    )


def merge_keyboard(ticket: Ticket, original: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("✅ Confirm merge"),
        callback_data=MergeCb(ticket_id=ticket.id, original_id=original.id),
    )
    return nav_keyboard(back=True, builder=builder)


def original_keyboard(original: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("📄 {number}").format(number=original.number),
        callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=original.id),
    )
    return builder.as_markup()


def original_closed(number: str | None, status: TicketStatus) -> str:
    if status is TicketStatus.DUPLICATE:
        return _(
            "{number} is itself marked as a duplicate. Type the number of the ticket it was "
            "merged into."
        ).format(number=number)
    return _(
        "{number} is {status}: only an open ticket can carry on in its place. Type another number."
    ).format(number=number, status=current_status(status))


@router.callback_query(TicketCb.filter(F.action == TicketAction.DUPLICATE))
async def duplicate_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.duplicate_of,
        {"ticket_id": ticket.id},
        duplicate_prompt(ticket),
        nav_keyboard(),
    )


@router.message(TeamForm.duplicate_of, F.text, ~F.text.startswith("/"))
async def duplicate_of_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
    catalogue: CategoryCatalogue,
) -> None:
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    reference = message.text.strip()
    if not tickets.is_ticket_number(reference):
        await message.answer(
            _(
                "That is not a ticket number. Type the number of the original ticket, for "
                "example DX-000123, or press Cancel."
            ),
            reply_markup=nav_keyboard(),
        )
        return
    try:
        original = await tickets.merge_target(session, ticket, actor, reference)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, ticket, error)
        return
    except TicketNotFound:
        # The same answer for another grid's ticket as for none at all.
        text = _(
            "Ticket {reference} was not found. Check the number and type it again, or press Cancel."
        ).format(reference=html.escape(reference))
        await message.answer(text, reply_markup=nav_keyboard())
        return
    except SameTicket:
        text = _("That is {number} itself. Type the number of the earlier ticket it repeats.")
        await message.answer(text.format(number=ticket.number), reply_markup=nav_keyboard())
        return
    except OriginalNotOpen as error:
        await message.answer(
            original_closed(error.original_number, error.status), reply_markup=nav_keyboard()
        )
        return
    await state.set_state(TeamForm.duplicate_confirm)
    await state.update_data(original_id=original.id, seen=ticket.status)
    locale = i18n.current_locale
    text = "\n\n".join(
        (
            _("🔁 Merge {number} into {original}?").format(
                number=ticket.number, original=original.number
            ),
            "<b>{}</b>\n{}".format(
                _("Duplicate, to be closed:"),
                await ticket_brief(session, ticket, catalogue, locale),
            ),
            "<b>{}</b>\n{}".format(
                _("Original, carries on:"), await ticket_brief(session, original, catalogue, locale)
            ),
            _("The reporter and followers of {number} will follow {original} and be told.").format(
                number=ticket.number, original=original.number
            ),
        )
    )
    await message.answer(text, reply_markup=merge_keyboard(ticket, original))


@router.callback_query(MergeCb.filter(), TeamForm.duplicate_confirm)
async def duplicate_confirmed(
    query: CallbackQuery,
    callback_data: MergeCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    data = await state.get_data()
    if (data.get("ticket_id"), data.get("original_id")) != (
        callback_data.ticket_id,
        callback_data.original_id,
    ):
        refuse_button(callback_answer)  # a Confirm left from an earlier merge
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    original = await load_ticket(session, callback_data.original_id)
    if ticket is None or original is None:
        await state.clear()
        refuse_button(callback_answer)
        return
    # The duplicate moved since the preview: the member confirmed something else. The
    # original need only be open still (accepted meanwhile is fine): mark_duplicate checks
    # that in the same UPDATE that closes the duplicate, conditional on this status.
    if ticket.status != data.get("seen"):
        await state.clear()
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    try:
        merge = await tickets.mark_duplicate(session, ticket, actor, utcnow(), original)
    except IllegalTransition:
        await state.clear()
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    except OriginalNotOpen:
        await state.clear()
        refuse_button(callback_answer, no_longer_applies(original))
        return
    except (NotAllowed, TicketNotFound, SameTicket):
        await state.clear()
        refuse_button(callback_answer)
        return
    await state.clear()
    ticket, original = merge.duplicate, merge.original
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "🔁 Your ticket {number} reports the same problem as {original}, so the grid team "
            "merged it into {original}. You will get the updates of {original} from now on."
        ).format(number=ticket.number, original=original.number),
        keyboard=lambda: original_keyboard(original),
        followers=False,
        audience=audience,
    )
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "🔁 Ticket {number}, which you follow, was merged into {original}, which reports "
            "the same problem. You will get the updates of {original} from now on."
        ).format(number=ticket.number, original=original.number),
        keyboard=lambda: original_keyboard(original),
        audience=replace(audience, reporter=None),
    )
    name = member_name(person)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("🔁 {number} was merged into {original} by {name}.").format(
            number=ticket.number, original=original.number, name=name
        ),
        audience=audience,
        exclude_person_id=actor.person_id,
    )
    if merge.across_queues:
        # The original's team never saw this report: they get it whole, as for a new one.
        await push_to_team(
            session,
            notifier,
            i18n,
            settings,
            catalogue,
            ticket,
            lambda: _(
                "🔁 {number} was merged into your {original} by {name}: its reporter and "
                "followers now follow {original}. This is what they reported:"
            ).format(number=ticket.number, original=original.number, name=name),
            with_media=True,
            team_of=original,
            keyboard=lambda: original_keyboard(original),
            exclude_person_id=actor.person_id,
        )
    await session.commit()
    callback_answer.text = _("Merged.")
    await query.message.answer(
        _(
            "🔁 {number} was merged into {original}. Its reporter and followers were told, "
            "and now get the updates of {original}."
        ).format(number=ticket.number, original=original.number)
    )
    await offer_grade(query.message, session, ticket)  # an informant's report: 评单


# Back, Skip, Cancel -----------------------------------------------------------------------


@router.callback_query(ChoiceCb.filter(F.kind == TEAM_NAV), StateFilter(*TeamForm.__all_states__))
async def team_nav(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    current = await state.get_state()
    if callback_data.index == Nav.CANCEL:
        await state.clear()
        callback_answer.text = _("Cancelled.")
        await query.message.answer(_("Cancelled. The ticket was not changed."))
        return
    ticket = await load_ticket(session, (await state.get_data()).get("ticket_id", 0))
    if ticket is None:
        await state.clear()
        refuse_button(callback_answer)
        return
    if not await can_handle(session, actor, ticket):  # taken off the team meanwhile
        await state.clear()
        refuse_button(callback_answer, await cannot_act_text(session, actor, ticket))
        return
    if callback_data.index == Nav.SKIP and current == TeamForm.transfer_note.state:
        await finish_transfer(
            query.message, state, None, session, notifier, person, actor, i18n, settings, catalogue
        )
    elif callback_data.index == Nav.SKIP and current == TeamForm.resolve_photo.state:
        await finish_resolve(
            query.message, state, None, session, notifier, person, actor, i18n, settings
        )
    elif callback_data.index == Nav.BACK and current in (
        TeamForm.transfer_code.state,
        TeamForm.transfer_note.state,
    ):
        await state.set_state(TeamForm.transfer_target)
        text, markup, grid_ids = await transfer_prompt(session, ticket)
        await state.update_data(grid_ids=grid_ids, target_grid_id=None, to_community=False)
        await query.message.answer(text, reply_markup=markup)
    elif callback_data.index == Nav.BACK and current == TeamForm.resolve_photo.state:
        await state.set_state(TeamForm.resolve_note)
        await query.message.answer(resolve_note_prompt(ticket), reply_markup=nav_keyboard())
    elif callback_data.index == Nav.BACK and current == TeamForm.duplicate_confirm.state:
        await state.set_state(TeamForm.duplicate_of)
        await query.message.answer(duplicate_prompt(ticket), reply_markup=nav_keyboard())
    elif callback_data.index == Nav.BACK and current == TeamForm.extend_reason.state:
        await state.set_state(TeamForm.extend_days)
        await query.message.answer(
            extend_days_prompt(ticket, settings), reply_markup=extend_days_keyboard()
        )
    else:
        refuse_button(callback_answer)


# The queue and one ticket -----------------------------------------------------------------


async def queue_text(
    session: AsyncSession, actor: Actor, catalogue: CategoryCatalogue, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not await is_team_member(session, actor):
        return (
            _(
                "The queue is for grid teams. To raise a complaint send /new; "
                "your own tickets are in /mytickets."
            ),
            None,
        )
    queue = await tickets.team_queue(session, actor)
    if not queue:
        return _("No open tickets in your queue. Well done! 🎉"), None
    now = utcnow()
    lines = [_("<b>Open tickets</b>, the most urgent first:")]
    builder = InlineKeyboard()
    for position, ticket in enumerate(queue[:QUEUE_LIMIT], start=1):
        category = catalogue.shown(ticket.category)
        if ticket.status is TicketStatus.DISPATCHED:
            deadline = ticket.respond_by
            due = _("accept by {time}")
        else:
            deadline = ticket.resolve_by
            due = _("resolve by {time}")
        line = _("{position}. {number} {emoji} {status}, {due}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            status=status_name(ticket.status),
            due=due.format(time=local_time(deadline, settings)),
        )
        if deadline < now:
            line += " " + _("⚠️ overdue")
        lines.append(line)
        builder.button(
            text=f"{position}. {ticket.number}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    if len(queue) > QUEUE_LIMIT:
        lines.append(_("…and {count} more.").format(count=len(queue) - QUEUE_LIMIT))
    builder.adjust(2)
    return "\n".join(lines), builder.as_markup()


@router.message(Command("queue"))
async def queue_command(
    message: Message,
    session: AsyncSession,
    catalogue: CategoryCatalogue,
    settings: Settings,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    if actor is None:
        await message.reply(anonymous_admin_text())
        return
    text, markup = await queue_text(session, actor, catalogue, settings)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.item == MenuItem.QUEUE))
async def queue_button(
    query: CallbackQuery,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
) -> None:
    text, markup = await queue_text(session, actor, catalogue, settings)
    await query.message.answer(text, reply_markup=markup)


@router.message(Command("ticket"))
async def ticket_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    if actor is None:
        await message.reply(anonymous_admin_text())
        return
    reference = (command.args or "").strip()
    if not reference:
        await message.answer(_("Send the ticket's number, for example /ticket DX-000123."))
        return
    try:
        ticket = await tickets.get_ticket(session, reference[:32])
    except TicketNotFound:
        ticket = None
    private = message.chat.type == "private"
    if (
        ticket is not None
        and not private
        and not await shown_in_chat(session, ticket, message.chat.id)
    ):
        ticket = None  # the reporter's contact and the history stay out of other groups
    view = (
        await ticket_view(
            session, ticket, actor, catalogue, settings, i18n.current_locale, private=private
        )
        if ticket is not None
        else None
    )
    if view is None:
        # The same answer for a stranger's ticket as for none at all.
        await message.answer(
            _("Ticket {reference} was not found.").format(reference=html.escape(reference[:32]))
        )
        return
    text, markup = view
    await message.answer(text, reply_markup=markup)


# Wrong input in a step --------------------------------------------------------------------


HINTS = {
    TeamForm.transfer_target.state: lambda: _("Please choose where the ticket goes, or Cancel."),
    TeamForm.transfer_code.state: lambda: _("Please type a grid code, or press Back."),
    TeamForm.transfer_note.state: lambda: _("Please write the note as text, or press Skip."),
    TeamForm.invalid_reason.state: lambda: _("Please write the reason as text, or press Cancel."),
    TeamForm.resolve_note.state: lambda: _("Please write what was done as text, or Cancel."),
    TeamForm.resolve_photo.state: lambda: _("Please send a photo of the result, or press Skip."),
    TeamForm.extend_days.state: lambda: _("Please choose how much more time, or Cancel."),
    TeamForm.extend_reason.state: lambda: _("Please write the reason as text, or press Back."),
    TeamForm.question.state: lambda: _("Please write your question as text, or press Cancel."),
    TeamForm.duplicate_of.state: lambda: _(
        "Please type the number of the original ticket, for example DX-000123, or press Cancel."
    ),
    TeamForm.duplicate_confirm.state: lambda: _(
        "Please press Confirm merge, Back or Cancel above."
    ),
}


@router.message(StateFilter(*TeamForm.__all_states__))
async def team_hint(message: Message, state: FSMContext) -> None:
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    back = current in (
        TeamForm.transfer_code.state,
        TeamForm.transfer_note.state,
        TeamForm.resolve_photo.state,
        TeamForm.extend_reason.state,
        TeamForm.duplicate_confirm.state,
    )
    skip = current in (TeamForm.transfer_note.state, TeamForm.resolve_photo.state)
    await message.answer(HINTS[current](), reply_markup=nav_keyboard(back=back, skip=skip))


@router.callback_query(
    ChoiceCb.filter(F.kind.in_({TRANSFER_GRID, TRANSFER_UP, TRANSFER_CODE, EXTEND_DAYS, TEAM_NAV}))
)
@router.callback_query(CallbackPrefix(MergeCb, TicketCb))
async def stale_team_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A ticket button that does not decode, or a step's button after the step ended."""
    refuse_button(callback_answer)
