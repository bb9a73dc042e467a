"""Transfer: pass a ticket to another grid or up to the community, with a note for the new
team."""

import html

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_reporter, push_to_team
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb, TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import queue_label, queue_of, tell_team
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    TRANSFER_CODE,
    TRANSFER_GRID,
    TRANSFER_UP,
    member_name,
    nav_keyboard,
    refused,
    sent_too_late,
    start_step,
    step_button_ticket,
    step_ticket,
    team_ticket,
    too_long,
    typed_text,
)
from redgrid.handlers.team.states import TeamForm
from redgrid.models import OPEN_STATUSES, Community, Grid, Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.tickets import IllegalTransition, NotAllowed


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
    up = ticket.grid_id is not None and ticket.community_id is not None
    if up:
        builder.button(
            text=_("⬆️ Up to the community"), callback_data=ChoiceCb(kind=TRANSFER_UP, index=0)
        )
    builder.button(
        text=_("⌨️ Type a grid code"), callback_data=ChoiceCb(kind=TRANSFER_CODE, index=0)
    )
    if up:
        text = _("Where should {number} go? Choose a grid, the community, or type a grid code.")
    else:  # already above the grids: an officer or admin sends it down to one
        text = _("Where should {number} go? Choose a grid, or type a grid code.")
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
        ticket,
        text,
        markup,
        grid_ids=grid_ids,
    )


async def ask_transfer_note(
    bot: Bot, user_id: int, state: FSMContext, ticket: Ticket, queue: str
) -> None:
    """The note's prompt names where the ticket will go (``queue``: ``queue_label``), so a
    grid picked or typed by mistake shows before anything is sent."""
    await state.set_state(TeamForm.transfer_note)
    await bot.send_message(
        user_id,
        _(
            "{number} will go to {queue}. Add a note for the new team (the reporter can read "
            "it in the history), or press Skip."
        ).format(number=ticket.number, queue=html.escape(queue)),
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
    grid = await session.get(Grid, callback_data.index)
    await ask_transfer_note(bot, query.from_user.id, state, ticket, queue_label(grid, None, None))


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
    community = await session.get(Community, ticket.community_id)
    queue = queue_label(None, community, None)
    await ask_transfer_note(bot, query.from_user.id, state, ticket, queue)


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
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    if not ticket.status.is_open:  # moved on meanwhile: no note to ask for
        await state.clear()
        await message.answer(await sent_too_late(session, ticket, data))
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
    await ask_transfer_note(bot, message.chat.id, state, ticket, queue_label(grid, None, None))


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
    *,
    pressed: bool = False,
) -> None:
    """Transfer to the queue chosen, with the note typed (``pressed``: Skip, no note)."""
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
        await refused(message, state, session, ticket, error, pressed=pressed)
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
        await too_long(message, back=True, skip=True)
        return
    await finish_transfer(
        message, state, note, session, notifier, person, actor, i18n, settings, catalogue
    )
