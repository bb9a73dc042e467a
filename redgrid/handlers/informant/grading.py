"""评单: the team grades a resolved or invalid report (``handlers/team/`` calls
``offer_grade``, or ``/grade NUMBER`` later), and the informant hears of the points."""

import html

from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_reporter
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import GradeCb
from redgrid.handlers.common import left_team_text, refuse_button, refuse_ticket_button
from redgrid.handlers.informant import router
from redgrid.handlers.informant.shared import _close, grade_button, grade_name
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import by_queue, load_ticket, no_longer_applies
from redgrid.models import Grade, Ticket, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import informants, tickets
from redgrid.services.informants import AlreadyGraded, NotAReport, NotGradable, PointsTable
from redgrid.services.people import Actor, can_handle, left_team_of
from redgrid.services.tickets import NotAllowed, TicketNotFound


def points_table(settings: Settings) -> PointsTable:
    return PointsTable(
        urgent=settings.informant_points_urgent,
        normal=settings.informant_points_normal,
        complex=settings.informant_points_complex,
    )


def grade_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for grade in informants.GRADES_FOR.get(ticket.status, ()):
        builder.button(
            text=grade_button(grade), callback_data=GradeCb(ticket_id=ticket.id, grade=grade)
        )
    builder.adjust(3)
    return builder.as_markup()


def grade_prompt(ticket: Ticket) -> str:
    return _(
        "⭐ {number} is a red informant's report. Please grade it: a valid report earns the "
        "informant points."
    ).format(number=ticket.number)


async def offer_grade(message: Message, session: AsyncSession, ticket: Ticket) -> None:
    """After the team resolved a report or marked it invalid (``handlers/team/``): ask
    for its grade. Anything else (a resident's ticket, a graded report) asks nothing."""
    if await informants.gradable(session, ticket):
        await message.answer(grade_prompt(ticket), reply_markup=grade_keyboard(ticket))


def graded_text(ticket: Ticket, grade: Grade, points: int, month: int) -> str:
    if grade is Grade.VALID:
        return by_queue(
            ticket,
            grid=_(
                "⭐ Your report {number} was graded valid by the grid team: +{points} points. "
                "This month you have {month}. Thank you!"
            ),
            community=_(
                "⭐ Your report {number} was graded valid by the community officers: "
                "+{points} points. This month you have {month}. Thank you!"
            ),
            district=_(
                "⭐ Your report {number} was graded valid by the district office: "
                "+{points} points. This month you have {month}. Thank you!"
            ),
        ).format(number=ticket.number, points=points, month=month)
    if grade is Grade.DUPLICATE:
        return _(
            "Your report {number} was graded a duplicate: the problem had been reported "
            "already, so it earns no points. Thank you all the same!"
        ).format(number=ticket.number)
    return _("Your report {number} was graded invalid, so it earns no points.").format(
        number=ticket.number
    )


@router.callback_query(GradeCb.filter())
async def grade_chosen(
    query: CallbackQuery,
    callback_data: GradeCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    try:
        grade = Grade(callback_data.grade)
    except ValueError:
        refuse_button(callback_answer)
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None:
        refuse_button(callback_answer)
        return
    now = utcnow()
    try:
        graded = await informants.grade_report(
            session, ticket, actor, grade, points_table(settings), now
        )
    except AlreadyGraded as already:
        refuse_button(
            callback_answer,
            _("{number} was already graded: {grade}.").format(
                number=ticket.number, grade=grade_name(already.grade)
            ),
        )
        return
    except NotGradable:
        if ticket.status.is_open:
            refuse_button(callback_answer, no_longer_applies(ticket))
        else:
            refuse_button(callback_answer)
        return
    except NotAReport:
        refuse_button(callback_answer)
        return
    except NotAllowed:
        await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    stats = await informants.informant_stats(session, ticket.reporter_id, now, tz=settings.tz)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: graded_text(ticket, grade, graded.points, stats.points_month),
        followers=False,
    )
    await session.commit()
    callback_answer.text = grade_name(grade)
    await _close(query)
    await query.message.answer(
        _("⭐ {number} is graded {grade}: the informant earned {points} points.").format(
            number=ticket.number, grade=grade_name(grade), points=graded.points
        )
    )


@router.message(Command("grade"))
async def grade_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    """Grade a report later: ``/grade DX-000123``, in private or in the team's chat. Someone
    taken off the ticket's team is told so, as by the grading buttons; anyone else who may
    not grade it hears the same as for a number that does not exist."""
    reference = (command.args or "").strip()[:32]
    if not tickets.is_ticket_number(reference):  # nothing, or not written as a number
        await message.answer(_("Send the report's number, for example /grade DX-000123."))
        return
    try:
        ticket = await tickets.get_ticket(session, reference)
    except TicketNotFound:
        ticket = None
    if ticket is None or actor is None or not await can_handle(session, actor, ticket):
        left = (
            ticket is not None
            and actor is not None
            and await left_team_of(session, actor.person_id, ticket)
        )
        if left:  # as the grading buttons say
            await message.answer(left_team_text())
            return
        await message.answer(
            _("Ticket {reference} was not found.").format(reference=html.escape(reference))
        )
        return
    if ticket.source is not TicketSource.INFORMANT:
        await message.answer(
            _(
                "{number} is a resident's complaint: only red informants' reports are graded."
            ).format(number=ticket.number)
        )
        return
    graded = await informants.grade_of(session, ticket.id)
    if graded is not None:
        await message.answer(
            _("{number} was already graded: {grade}.").format(
                number=ticket.number, grade=grade_name(graded.grade)
            )
        )
        return
    if ticket.status not in informants.GRADABLE:
        await message.answer(
            _("{number} is still open: grade it once it is resolved or marked invalid.").format(
                number=ticket.number
            )
        )
        return
    await message.answer(grade_prompt(ticket), reply_markup=grade_keyboard(ticket))
