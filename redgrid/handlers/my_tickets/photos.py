"""Photos from the reporter or a follower on an open ticket: kept in the step until Done,
then added (as many as fit) and passed to its team at once with their captions."""

import html

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import (
    answer_too_late,
    by_queue,
    in_private_chat,
    load_ticket,
    nav_keyboard,
    no_longer_applies,
    open_keyboard,
    reporter_or_follower_ticket,
    tell_team,
    who_added,
)
from redgrid.handlers.my_tickets.states import ReporterForm
from redgrid.models import Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor
from redgrid.services.tickets import IllegalTransition, NotAllowed, TicketNotFound


def _photo_room_text(ticket: Ticket, room: int, limit: int) -> str:
    """How many more photos fit on the ticket, for the photo step's replies."""
    if room <= 0:
        return _(
            "{number} holds {limit} photos, the most a ticket takes: no more fit. "
            "Press Done to send the ones you added, if any."
        ).format(number=ticket.number, limit=limit)
    return ngettext(
        "{count} more photo fits on {number}.", "{count} more photos fit on {number}.", room
    ).format(count=room, number=ticket.number)


@router.callback_query(TicketCb.filter(F.action == TicketAction.PHOTO))
async def photo_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    settings: Settings,
) -> None:
    if not in_private_chat(query, callback_answer):
        return
    ticket = await reporter_or_follower_ticket(
        session, actor, callback_data.ticket_id, callback_answer
    )
    if ticket is None:
        return
    limit = settings.max_ticket_photos
    room = limit - await tickets.report_photo_count(session, ticket.id)
    if room <= 0:
        refuse_button(callback_answer, _photo_room_text(ticket, room, limit))
        return
    await state.set_state(ReporterForm.photo)
    await state.set_data({"ticket_id": ticket.id, "photos": [], "caption_of": {}})
    await query.message.answer(
        by_queue(
            ticket,
            grid=_(
                "Send photos of the problem for {number}, one by one or as an album, then "
                "press Done: the grid team gets them together."
            ),
            community=_(
                "Send photos of the problem for {number}, one by one or as an album, then "
                "press Done: the community officers get them together."
            ),
            district=_(
                "Send photos of the problem for {number}, one by one or as an album, then "
                "press Done: the district office gets them together."
            ),
        ).format(number=ticket.number)
        + "\n"
        + _photo_room_text(ticket, room, limit),
        reply_markup=nav_keyboard(),
    )


@router.message(ReporterForm.photo, F.photo)
async def photo_sent(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
) -> None:
    """A photo is kept in the step until Done, which adds them all and tells the team
    once; an album gets one reply (``albums``). A caption is what the person says about
    the photo, kept by the photo's unique id: with Done the captions of the photos added
    become their comment. Past MAX_TICKET_PHOTOS a photo is refused, and the reply says
    how many did not fit."""
    data = await state.get_data()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    if ticket is None or not ticket.status.is_open:
        await state.clear()
        if ticket is None:
            await message.answer(_("You can no longer add to this ticket."))
        else:
            await answer_too_late(message, session, ticket)
        return
    album = await albums.album_of(message, state)
    photos, caption_of = data["photos"], data.get("caption_of", {})
    limit = settings.max_ticket_photos
    room = limit - await tickets.report_photo_count(session, ticket.id) - len(photos)
    largest = message.photo[-1]
    if room <= 0:
        album.counts["refused"] = album.counts.get("refused", 0) + 1
    elif all(kept[1] != largest.file_unique_id for kept in photos):
        photos.append([largest.file_id, largest.file_unique_id])
        room -= 1
        if caption := (message.caption or "").strip()[: tickets.MAX_TEXT]:
            caption_of[largest.file_unique_id] = caption
        await state.update_data(photos=photos, caption_of=caption_of)
    lines = [
        ngettext(
            "📷 {count} photo ready for {number}.",
            "📷 {count} photos ready for {number}.",
            len(photos),
        ).format(count=len(photos), number=ticket.number)
    ]
    if refused := album.counts.get("refused", 0):
        lines.append(
            ngettext(
                "{count} photo was not added: a ticket holds at most {limit}.",
                "{count} photos were not added: a ticket holds at most {limit}.",
                refused,
            ).format(count=refused, limit=limit)
        )
    lines.append(_photo_room_text(ticket, room, limit))
    if photos and room > 0:
        lines.append(
            by_queue(
                ticket,
                grid=_("Send more, or press Done to pass them to the grid team."),
                community=_("Send more, or press Done to pass them to the community officers."),
                district=_("Send more, or press Done to pass them to the district office."),
            )
        )
    elif photos:
        lines.append(
            by_queue(
                ticket,
                grid=_("Press Done to pass them to the grid team."),
                community=_("Press Done to pass them to the community officers."),
                district=_("Press Done to pass them to the district office."),
            )
        )
    await albums.reply(message, state, album, "\n".join(lines), nav_keyboard(done=bool(photos)))


async def photos_done(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    """Done at the photo step: the photos kept are added to the ticket, as many as still
    fit (others may have added theirs meanwhile), and the team is told once, with the
    photos added and their captions as the person's comment; a photo left out takes its
    caption with it."""
    data = await state.get_data()
    photos = [tuple(photo) for photo in data.get("photos", [])]
    caption_of = data.get("caption_of", {})
    await state.clear()
    if not photos:
        await query.message.answer(_("No photos were sent, so nothing was added."))
        return
    now = utcnow()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    try:
        if ticket is None:
            raise TicketNotFound(0)
        added = await tickets.add_photos(
            session, ticket, actor, now, photos, limit=settings.max_ticket_photos
        )
        captions = [
            caption_of[photo.file_unique_id]
            for photo in added
            if photo.file_unique_id in caption_of
        ]
        for caption in captions:
            await tickets.add_comment(session, ticket, actor, now, caption)
    except tickets.PhotoLimitReached:
        await query.message.answer(_photos_left_out(ticket, len(photos), settings))
        return
    except IllegalTransition:
        await query.message.answer(no_longer_applies(ticket))
        return
    except (NotAllowed, TicketNotFound):
        await query.message.answer(_("You can no longer add to this ticket."))
        return
    reporter = await session.get(Person, ticket.reporter_id)

    def render() -> str:
        text = ngettext(
            "📷 {count} photo added to {number} by {who}.",
            "📷 {count} photos added to {number} by {who}.",
            len(added),
        ).format(who=who_added(ticket, reporter, actor), count=len(added), number=ticket.number)
        if captions:
            text += "\n\n" + "\n".join(html.escape(caption) for caption in captions)
        return text

    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        render,
        keyboard=lambda: open_keyboard(ticket),
        photos=[photo.file_id for photo in added],
    )
    await session.commit()
    lines = []
    if len(added) < len(photos):
        lines.append(_photos_left_out(ticket, len(photos) - len(added), settings))
    lines.append(
        by_queue(
            ticket,
            grid=ngettext(
                "Thank you: {count} photo was added to {number}, and the grid team was told.",
                "Thank you: {count} photos were added to {number}, and the grid team was told.",
                len(added),
            ),
            community=ngettext(
                "Thank you: {count} photo was added to {number}, and the community officers "
                "were told.",
                "Thank you: {count} photos were added to {number}, and the community officers "
                "were told.",
                len(added),
            ),
            district=ngettext(
                "Thank you: {count} photo was added to {number}, and the district office was told.",
                "Thank you: {count} photos were added to {number}, and the district office was "
                "told.",
                len(added),
            ),
        ).format(count=len(added), number=ticket.number)
    )
    await query.message.answer("\n".join(lines))


def _photos_left_out(ticket: Ticket, count: int, settings: Settings) -> str:
    """Done found the ticket fuller than when the photos were sent: others added theirs."""
    return ngettext(
        "Meanwhile others added photos to {number}, so {count} photo of yours did not fit: "
        "a ticket holds at most {limit}.",
        "Meanwhile others added photos to {number}, so {count} photos of yours did not fit: "
        "a ticket holds at most {limit}.",
        count,
    ).format(number=ticket.number, count=count, limit=settings.max_ticket_photos)
