"""``/mine``: an informant's reports and points; ``/top``: this month's leaderboard."""

import html

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import status_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.informant import router
from redgrid.handlers.informant.shared import (
    MINE_LABEL,
    PRIVATE,
    TOP_LABEL,
    complaint_keyboard,
    grade_name,
    label,
    not_informant_text,
)
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import InformantStatus, Person
from redgrid.models.base import utcnow
from redgrid.services import informants
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.informants import Standing


def stats_line(stats: informants.InformantStats) -> str:
    return _("⭐ Points: {month} this month, {total} in all.").format(
        month=stats.points_month, total=stats.points_total
    )


@router.message(Command("mine"), PRIVATE)
@router.message(StateFilter(None), PRIVATE, F.text, label(MINE_LABEL))
async def mine(
    message: Message,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
) -> None:
    found = await informants.standing(session, person.id)
    reports = await informants.my_reports(session, person.id)
    if found is Standing.NONE and not reports:
        await message.answer(not_informant_text(), reply_markup=complaint_keyboard())
        return
    stats = await informants.informant_stats(session, person.id, utcnow(), tz=settings.tz)
    lines = [_("<b>My reports</b>"), stats_line(stats)]
    if found is Standing.PAUSED:
        lines.append(_("Your red informant role is paused."))
    lines.append("")
    if not reports:
        lines.append(_("No reports yet: send me a photo of a problem to start one."))
    builder = InlineKeyboard()
    for position, (ticket, grade) in enumerate(reports, start=1):
        category = catalogue.shown(ticket.category)
        line = _("{position}. {number} {emoji} {category}: {status}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            category=category.name(i18n.current_locale),
            status=status_name(ticket.status),
        )
        if grade is not None:
            line += " · " + _("graded {grade}, +{points}").format(
                grade=grade_name(grade.grade), points=grade.points
            )
        lines.append(line)
        builder.button(
            text=f"{ticket.number} {category.emoji}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    builder.adjust(2)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup() if reports else None)


def board_lines(board: list[informants.LeaderRow]) -> list[str]:
    if not board:
        return [_("No points yet this month.")]
    medals = {1: "🥇", 2: "🥈", 3: "🥉"}
    return [
        _("{rank} {name}: {points} points").format(
            rank=medals.get(row.rank, f"{row.rank}."),
            name=html.escape(row.name),
            points=row.points,
        )
        for row in board
    ]


@router.message(Command("top"), PRIVATE)
@router.message(StateFilter(None), PRIVATE, F.text, label(TOP_LABEL))
async def top(message: Message, session: AsyncSession, person: Person, settings: Settings) -> None:
    """This month's leaderboard: the district, the reader's home community, their place."""
    now = utcnow()
    local = now.astimezone(settings.tz)
    lines = [
        _("🏆 <b>Red informants, {month}</b>").format(month=f"{local.year}-{local.month:02d}"),
        "",
        _("<b>The whole district</b>"),
        *board_lines(await informants.leaderboard(session, now, tz=settings.tz)),
    ]
    profile = await informants.get_profile(session, person.id)
    if profile is not None and profile.status is not InformantStatus.REMOVED:
        stats = await informants.informant_stats(session, person.id, now, tz=settings.tz)
        if profile.community_id is not None:
            board = await informants.leaderboard(
                session, now, tz=settings.tz, community_id=profile.community_id
            )
            lines += ["", f"<b>{html.escape(stats.community or '')}</b>", *board_lines(board)]
        lines += ["", stats_line(stats)]
        if stats.rank_district is not None:
            lines.append(
                _("You are number {rank} in the district.").format(rank=stats.rank_district)
            )
        if stats.rank_community is not None:
            lines.append(
                _("You are number {rank} in {community}.").format(
                    rank=stats.rank_community, community=html.escape(stats.community or "")
                )
            )
    await message.answer("\n".join(lines))
