"""Resolve: what was done, a photo of the result, and the reporter asked to rate it."""

import html
from datetime import timedelta

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.lost_chats import UndeliveredNotice
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import local_time, push_to_followers, push_to_reporter, rating_keyboard
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.informant import offer_grade
from redgrid.handlers.my_tickets.shared import tell_team
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    member_name,
    nav_keyboard,
    refused,
    sent_too_late,
    start_step,
    step_ticket,
    team_ticket,
    too_long,
    typed_text,
)
from redgrid.handlers.team.states import TeamForm
from redgrid.languages import N_
from redgrid.models import Person, Ticket, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor
from redgrid.services.tickets import IllegalTransition, NotAllowed

RATING_UNDELIVERED = N_(
    "❗ {number} is resolved, but the reporter could not be reached to rate it. It will "
    "close unrated after {time}."
)


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
        ticket,
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
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    if ticket.status is not TicketStatus.ACCEPTED:  # resolved or moved on meanwhile
        await state.clear()
        await message.answer(await sent_too_late(session, ticket, data))
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
    pressed: bool = False,
) -> None:
    """Resolve with the note and the photo of the result, if any (``from_album``: the
    first photo of an album, the one kept; ``pressed``: Skip, no photo)."""
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    note = data.get("note", "")
    try:
        await tickets.resolve(session, ticket, actor, utcnow(), note, photo)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, session, ticket, error, pressed=pressed)
        return
    except ValueError:
        await state.set_state(TeamForm.resolve_note)
        await message.answer(resolve_note_prompt(ticket), reply_markup=nav_keyboard())
        return
    await state.clear()
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    closes_unrated = ticket.resolved_at + timedelta(days=settings.auto_close_days)
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
                # A time, not "in N days": the notice is rendered later, in each
                # reader's language, from plain parameters (no plural forms).
                {"number": ticket.number, "time": local_time(closes_unrated, settings)},
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
