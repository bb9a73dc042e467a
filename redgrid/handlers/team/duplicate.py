"""Duplicate: merge a ticket into the earlier one it repeats, after a preview of both."""

import html
from dataclasses import replace

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import (
    escape_clipped,
    push_to_reporter,
    push_to_team,
    queue_name,
    status_name,
)
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import MergeCb, TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.informant import offer_grade
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import (
    by_queue,
    current_status,
    load_ticket,
    no_longer_applies,
    tell_team,
)
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    member_name,
    nav_keyboard,
    refused,
    start_step,
    step_button_ticket,
    step_ticket,
    team_ticket,
)
from redgrid.handlers.team.states import TeamForm
from redgrid.models import OPEN_STATUSES, Person, Ticket, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.tickets import (
    IllegalTransition,
    NotAllowed,
    OriginalNotOpen,
    SameTicket,
    TicketNotFound,
)

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
        ticket,
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
        await refused(message, state, session, ticket, error)
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
    # Taken off the team since the preview: told so, like at every other step.
    ticket = await step_button_ticket(state, session, actor, callback_answer, OPEN_STATUSES)
    if ticket is None:
        return
    original = await load_ticket(session, callback_data.original_id)
    if original is None:
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
    except TicketNotFound:  # the original left the member's reach since the preview
        await state.clear()
        refuse_button(
            callback_answer,
            _(
                "{original} is no longer a ticket you can merge into (it was passed to "
                "another team or closed meanwhile): nothing was changed."
            ).format(original=original.number),
        )
        return
    except (NotAllowed, SameTicket):
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
        lambda: by_queue(
            ticket,
            grid=_(
                "🔁 Your ticket {number} reports the same problem as {original}, so the grid "
                "team merged it into {original}. You will get the updates of {original} from "
                "now on."
            ),
            community=_(
                "🔁 Your ticket {number} reports the same problem as {original}, so the "
                "community officers merged it into {original}. You will get the updates of "
                "{original} from now on."
            ),
            district=_(
                "🔁 Your ticket {number} reports the same problem as {original}, so the "
                "district office merged it into {original}. You will get the updates of "
                "{original} from now on."
            ),
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
