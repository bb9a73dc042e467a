"""The first answers to a new ticket's card: Accept, To consultation, Invalid (with its
reason)."""

import html

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import (
    desk_name,
    local_time,
    push_to_reporter,
    push_to_team,
    team_keyboard,
    ticket_card,
)
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.common import refuse_button, show_in_place
from redgrid.handlers.informant import offer_grade
from redgrid.handlers.my_tickets.shared import load_ticket, no_longer_applies, queue_of, tell_team
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    member_name,
    nav_keyboard,
    refuse_outsider,
    refused,
    say,
    start_step,
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
from redgrid.services.tickets import AlreadyTaken, IllegalTransition, NotAllowed, TicketNotFound

# Accept -----------------------------------------------------------------------------------


def accepted_by_queue(
    ticket: Ticket, queue: tuple[Grid | None, Community | None, str | None], time: str
) -> str:
    """The reporter's news of an Accept, naming who took the ticket by its queue (as
    ``queue_label`` does): a community's officers or a district desk are no grid team."""
    grid, community, desk = queue
    if grid is not None:
        text = _(
            "✅ Ticket {number} was accepted by the grid team. They will resolve it by {time}."
        )
    elif desk is not None:
        text = _(
            "✅ Ticket {number} was accepted by the district desk ({desk}). It will be "
            "resolved by {time}."
        )
    elif community is not None:
        text = _(
            "✅ Ticket {number} was accepted by community {community}. It will be resolved "
            "by {time}."
        )
    else:
        text = _("✅ Ticket {number} was accepted by the district. It will be resolved by {time}.")
    return text.format(
        number=ticket.number,
        time=time,
        desk=html.escape(desk_name(desk) if desk is not None else ""),
        community=html.escape(community.name if community is not None else ""),
    )


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
    queue = await queue_of(session, ticket)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: accepted_by_queue(ticket, queue, local_time(ticket.resolve_by, settings)),
        audience=audience,
    )
    name = member_name(person)
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _("✅ Accepted by {name}").format(name=name),
        audience=audience,
        exclude_person_id=actor.person_id,
    )
    await session.commit()
    callback_answer.text = _("Accepted.")
    card = await ticket_card(
        session, ticket, catalogue, settings, i18n.current_locale, for_team=True
    )
    accepted = _("✅ You accepted {number}.").format(number=ticket.number) + "\n\n" + card
    if query.message.chat.id == query.from_user.id:
        # Pressed in private: the card becomes the accepted one, with the buttons that
        # work now, instead of staying behind with stale ones under a new copy.
        await show_in_place(query, accepted, team_keyboard(ticket))
        return
    # Pressed in the team's group: the group's card is everyone's; the work goes on in
    # private.
    if not await say(bot, query, callback_answer, accepted, team_keyboard(ticket)):
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
        ticket,
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
        await refused(message, state, session, ticket, error)
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
