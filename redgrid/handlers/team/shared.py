"""Helpers the team's flows share: answering a button in the member's private chat, the
Back/Skip/Cancel keyboard, and re-reading the ticket a button or a typing step is about."""

import html
from enum import IntEnum

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.callbacks import ChoiceCb
from redgrid.handlers.common import left_team_text, private_state, refuse_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import (
    current_status,
    load_ticket,
    no_longer_applies,
    queue_label,
    queue_of,
)
from redgrid.handlers.my_tickets.view import is_team_chat_of
from redgrid.models import Person, Ticket, TicketStatus
from redgrid.services import tickets
from redgrid.services.people import Actor, can_handle, left_team_of
from redgrid.services.tickets import AlreadyTaken, IllegalTransition

# ChoiceCb kinds of this package.
TRANSFER_GRID = "tr"
TRANSFER_UP = "tru"
TRANSFER_CODE = "trc"
EXTEND_DAYS = "ext"
TEAM_NAV = "tn"


class Nav(IntEnum):
    BACK = 0
    CANCEL = 1
    SKIP = 2


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
    ticket: Ticket,
    text: str,
    reply_markup: InlineKeyboardMarkup,
    **data: object,
) -> None:
    """Enter a typing step about ``ticket`` in the member's private chat. The step keeps
    the queue the ticket is in, so that an input after a transfer can say where it went."""
    private = private_state(state, query.from_user.id)
    await private.set_state(step)
    await private.set_data({"ticket_id": ticket.id, "queue": queue_seen(ticket), **data})
    if not await say(bot, query, callback_answer, text, reply_markup):
        await private.clear()


async def step_ticket(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> tuple[Ticket | None, dict]:
    """The ticket the conversation is about, re-read (it may have moved meanwhile), while
    it is in the queue the step began in and the person may still act on it; else None,
    and the step ends before asking for more. A ticket passed to another queue still in
    the person's reach (an officer's) is the new queue's team's to handle now."""
    data = await state.get_data()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    if ticket is None or moved_since(ticket, data) or not await can_handle(session, actor, ticket):
        await state.clear()
        await message.answer(await cannot_act_text(session, actor, ticket, data))
        return None, data
    return ticket, data


async def cannot_act_text(
    session: AsyncSession, actor: Actor, ticket: Ticket | None, data: dict
) -> str:
    """Why a step's input may not act on its ticket: the member left its team, or it was
    passed out of their reach since the step began (``data``: the step's)."""
    if ticket is not None and await left_team_of(session, actor.person_id, ticket):
        return left_team_text()
    if ticket is not None and moved_since(ticket, data):
        return await sent_too_late(session, ticket, data)
    return _("You can no longer act on this ticket.")


def queue_seen(ticket: Ticket) -> list:
    """The ticket's queue as a step keeps it (in its conversation data)."""
    return [ticket.grid_id, ticket.community_id, ticket.desk]


def moved_since(ticket: Ticket, data: dict) -> bool:
    """Whether the ticket left the queue it was in when the step (``data``) began. A step
    begun before steps kept the queue says no."""
    seen = data.get("queue")
    return seen is not None and seen != queue_seen(ticket)


async def step_button_ticket(
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    callback_answer: CallbackAnswer,
    allowed: frozenset[TicketStatus] | set[TicketStatus],
) -> Ticket | None:
    """The ticket a step's button is about, if the step still applies to it; else a refusal,
    and the step ends when someone else moved the ticket on (or to another queue)
    meanwhile or the presser was taken off its team (rather than asking for a note or a
    reason the service would then refuse, or take from the new queue)."""
    data = await state.get_data()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    if ticket is None:
        refuse_button(callback_answer)
        return None
    if moved_since(ticket, data) or not await can_handle(session, actor, ticket):
        await state.clear()
        refuse_button(callback_answer, await cannot_act_text(session, actor, ticket, data))
        return None
    if ticket.status not in allowed:
        await state.clear()
        refuse_button(callback_answer, await sent_too_late(session, ticket, data, pressed=True))
        return None
    return ticket


async def refused(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    ticket: Ticket,
    error: Exception,
    *,
    pressed: bool = False,
) -> None:
    """A step ended by a service refusal: say why, end the conversation. When someone else
    moved the ticket on meanwhile, what the member typed, sent or pressed (``pressed``:
    Skip) was not used (``sent_too_late``)."""
    data = await state.get_data()
    await state.clear()
    if not isinstance(error, AlreadyTaken | IllegalTransition):
        await message.answer(_("You can no longer act on this ticket."))
    else:
        await message.answer(await sent_too_late(session, ticket, data, pressed=pressed))


async def sent_too_late(
    session: AsyncSession, ticket: Ticket, data: dict, *, pressed: bool = False
) -> str:
    """What a member typed, sent or pressed (``pressed``: a step's button) for a ticket
    someone else moved on meanwhile was not used: the queue it was passed to since the
    step (``data``) began, else a button no longer applies, else the ticket it was merged
    into (where the work goes on) or its status now."""
    if moved_since(ticket, data):
        queue = html.escape(queue_label(*await queue_of(session, ticket)))
        return _("{number} was passed to {queue} meanwhile: nothing was sent or changed.").format(
            number=ticket.number, queue=queue
        )
    if pressed:
        return no_longer_applies(ticket)
    original = await tickets.merged_into(session, ticket)
    if original is not None:
        return _("{number} was merged into {original}, so what you sent was not used.").format(
            number=ticket.number, original=original.number
        )
    return _("{number} is now {status}, so what you sent was not used.").format(
        number=ticket.number, status=current_status(ticket.status)
    )


def typed_text(message: Message) -> str | None:
    """The text of a step, or None when it is empty or too long (the caller re-asks)."""
    text = (message.text or "").strip()
    if not text or len(text) > tickets.MAX_TEXT:
        return None
    return text


async def too_long(message: Message, *, back: bool = False, skip: bool = False) -> None:
    """Re-ask for a step's text, offering the same Back and Skip as the step's question."""
    length = len((message.text or "").strip())
    await message.answer(
        _("Please keep it to {limit} characters (yours has {length}).").format(
            limit=tickets.MAX_TEXT, length=length
        ),
        reply_markup=nav_keyboard(back=back, skip=skip),
    )


def member_name(person: Person) -> str:
    return html.escape(person.display_name or "?")
