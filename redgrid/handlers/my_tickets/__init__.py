"""My tickets: a person's own complaints and the ones they follow, each with its history;
more detail (a comment, a photo) while it is open, the answer to the team's question, and
the rating of the result.

Also what both sides share: one ticket shown to whoever asks (the team's view with its
buttons, the reporter's view, or "not found" for anyone else), the history in words, and
the light messages to a ticket's team.
"""

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import (
    in_each_language,
    local_time,
    locale_of,
    push_to_followers,
    push_to_team,
    rating_keyboard,
    rating_name,
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
    MyTicketsCb,
    RateCb,
    TicketAction,
    TicketCb,
)
from redgrid.handlers.common import refuse_button, refuse_ticket_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import (
    Community,
    EventKind,
    Grid,
    Person,
    Rating,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketStatus,
)
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.tickets import Audience, IllegalTransition, NotAllowed, TicketNotFound

router = Blueprint(__name__)

# Ticket ids are 32-bit integers: a forged larger one must not reach the database.
MAX_MESSAGE = 4096
# My tickets shows this many a page: 20 lines and buttons fit one message easily.
PAGE_SIZE = 20
HISTORY_NOTE_CHARS = 200
# The reporter's conversation buttons: ChoiceCb(kind=REPORTER_NAV, index=...).
REPORTER_NAV = "rn"
NAV_CANCEL, NAV_DONE = 0, 1

# Events the team makes: the reporter reads "the grid team" as their author.
TEAM_EVENTS = frozenset(
    {
        EventKind.ACCEPTED,
        EventKind.TRANSFERRED,
        EventKind.EXTENDED,
        EventKind.RESOLVED,
        EventKind.INVALID,
        EventKind.DUPLICATE,
        EventKind.CONSULTATION,
        EventKind.QUESTION,
    }
)


class ReporterForm(StatesGroup):
    comment = State()
    photo = State()
    answer = State()
    rework_reason = State()


router.messages_only(ReporterForm)
router.callbacks_only(ChoiceCb, MenuCb, MyTicketsCb, RateCb, TicketCb)


# Shared helpers ---------------------------------------------------------------------------


async def load_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket a button names (its id was range-checked when the button decoded)."""
    return await session.get(Ticket, ticket_id)


async def typed_text(message: Message) -> str | None:
    """The text of a reporter step, or None after a hint when it is empty or too long."""
    text = message.text.strip()
    if text and len(text) <= tickets.MAX_TEXT:
        return text
    await message.answer(
        _("Please keep it to {limit} characters (yours has {length}).").format(
            limit=tickets.MAX_TEXT, length=len(text)
        ),
        reply_markup=nav_keyboard(),
    )
    return None


async def act_on_step_ticket(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    act: Callable[[Ticket], Awaitable[object]],
    refusal: str,
) -> Ticket | None:
    """Do ``act`` on the ticket the step is about, and end the step; when the service
    refuses, the person is told why, and None comes back."""
    ticket = await load_ticket(session, (await state.get_data()).get("ticket_id", 0))
    await state.clear()
    try:
        if ticket is None:
            raise TicketNotFound(0)
        await act(ticket)
    except IllegalTransition:
        await message.answer(no_longer_applies(ticket))
        return None
    except (NotAllowed, TicketNotFound):
        await message.answer(refusal)
        return None
    return ticket


def current_status(status: TicketStatus) -> str:
    """The status in words, for people on either side."""
    if status is TicketStatus.RESOLVED:
        return _("resolved")
    return status_name(status)


def no_longer_applies(ticket: Ticket) -> str:
    """The refusal for a button that came too late (someone else moved the ticket)."""
    return _("{number} is now {status}: this button no longer applies.").format(
        number=ticket.number, status=current_status(ticket.status)
    )


def reporter_label(ticket: Ticket, reporter: Person | None) -> str:
    """The reporter as the team may see them: the name only with consent (HTML-escaped)."""
    if ticket.contact_consent and reporter is not None and reporter.forgotten_at is None:
        return html.escape(reporter.display_name or _("the reporter"))
    return _("the reporter")


def queue_label(grid: Grid | None, community: Community | None, desk: str | None) -> str:
    """``pushes.queue_name`` for a queue read beforehand, so a push can render it in each
    recipient's language without touching the database."""
    if grid is not None:
        return _("grid {name} ({code})").format(name=grid.name, code=grid.code)
    if desk is not None:
        return _("district desk: {desk}").format(desk=desk)
    if community is not None:
        return _("community {name}").format(name=community.name)
    return _("the district's general queue")


async def queue_of(
    session: AsyncSession, ticket: Ticket
) -> tuple[Grid | None, Community | None, str | None]:
    grid = await session.get(Grid, ticket.grid_id) if ticket.grid_id is not None else None
    community = (
        await session.get(Community, ticket.community_id)
        if ticket.community_id is not None
        else None
    )
    return grid, community, ticket.desk


def open_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("🔎 Open {number}").format(number=ticket.number),
        callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
    )
    return builder.as_markup()


async def tell_team(
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    ticket: Ticket,
    render: Callable[[], str],
    *,
    audience: Audience | None = None,
    exclude_person_id: int | None = None,
    keyboard: Callable[[], InlineKeyboardMarkup | None] = lambda: None,
    photos: Sequence[str] = (),
) -> None:
    """A short message (no card) to the ticket's team and its group chat, each in their
    language; ``photos`` (file ids) go first. ``exclude_person_id``: the member whose own
    action it reports, who gets it neither now nor handed over later."""
    audience = audience or await tickets.ticket_audience(session, ticket, settings.admin_ids)
    recipients = [
        (member.telegram_id, locale_of(member, settings), member.id)
        for member in audience.team
        if member.id != exclude_person_id
    ]
    if audience.team_chat_id is not None:
        recipients.append((audience.team_chat_id, settings.default_locale, None))
    if not recipients:
        return

    async def render_both(locale: str) -> tuple[str, InlineKeyboardMarkup | None]:
        return render(), keyboard()

    renderings = await in_each_language(i18n, render_both)
    with notifier.push(leaving_out=exclude_person_id):
        for chat_id, locale, person_id in recipients:
            if photos:
                notifier.photos(chat_id, photos, person_id=person_id, ticket_id=ticket.id)
            notifier.localized(
                chat_id, locale, renderings, person_id=person_id, ticket_id=ticket.id
            )


def nav_keyboard(*, done: bool = False) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    if done:
        builder.button(text=_("✅ Done"), callback_data=ChoiceCb(kind=REPORTER_NAV, index=NAV_DONE))
    builder.button(text=_("✖️ Cancel"), callback_data=ChoiceCb(kind=REPORTER_NAV, index=NAV_CANCEL))
    return builder.as_markup()


async def is_follower(session: AsyncSession, ticket: Ticket, person_id: int) -> bool:
    return await session.get(TicketFollower, (ticket.id, person_id)) is not None


# History ----------------------------------------------------------------------------------


def _event_text(kind: EventKind, who: str, event: TicketEvent, settings: Settings) -> str:
    if kind is EventKind.CREATED:
        return _("Reported by {who}").format(who=who)
    if kind is EventKind.ACCEPTED:
        return _("Accepted by {who}").format(who=who)
    if kind is EventKind.TRANSFERRED:
        return _("Passed to another queue by {who}").format(who=who)
    if kind is EventKind.EXTENDED:
        new_deadline = event.details.get("new_resolve_by")
        if new_deadline:
            time = local_time(datetime.fromisoformat(new_deadline), settings)
            return _("Deadline extended by {who} to {time}").format(who=who, time=time)
        return _("Deadline extended by {who}").format(who=who)
    if kind is EventKind.RESOLVED:
        return _("Resolved by {who}").format(who=who)
    if kind is EventKind.RATED:
        return _("Rated by {who}: {rating}").format(
            who=who, rating=rating_name(Rating(event.details["rating"]))
        )
    if kind is EventKind.REWORK:
        return _("Sent back for rework by {who}").format(who=who)
    if kind is EventKind.CLOSED:
        if event.actor_id is None:
            return _("Closed without a rating")
        return _("Closed by {who}").format(who=who)
    if kind is EventKind.INVALID:
        return _("Marked invalid by {who}").format(who=who)
    if kind is EventKind.DUPLICATE and "merged" in event.details:
        return _("{number} was merged into this ticket by {who}").format(
            number=html.escape(str(event.details["merged"])), who=who
        )
    if kind is EventKind.DUPLICATE:
        return _("Marked as a duplicate of {number} by {who}").format(
            number=html.escape(str(event.details.get("duplicate_of", "?"))), who=who
        )
    if kind is EventKind.CONSULTATION:
        return _("Put on the neighbour consultation's list by {who}").format(who=who)
    if kind is EventKind.COMMENT:
        return _("Comment from {who}").format(who=who)
    if kind is EventKind.PHOTO:
        return _("Photo added by {who}").format(who=who)
    if kind is EventKind.QUESTION:
        return _("Question from {who}").format(who=who)
    if kind is EventKind.ANSWER:
        return _("Answer from {who}").format(who=who)
    return _("Followed by {who}").format(who=who)


def may_read_note(event: TicketEvent, *, for_team: bool, viewer_id: int) -> bool:
    """The team reads every note; a resident reads the team's and their own. What the
    reporter or a follower writes (a comment, an answer, a reason) was sent to the team
    only, and may hold a flat number or a phone number: other residents never read it."""
    return for_team or event.actor_id == viewer_id or event.kind in TEAM_EVENTS


async def history_lines(
    session: AsyncSession, ticket: Ticket, settings: Settings, *, for_team: bool, viewer_id: int
) -> list[str]:
    """Each event as one line in the current language: local time, what happened, the note.

    The reporter never learns who on the team acted ("the grid team"); the team sees the
    reporter's name only with consent, and followers are "a follower" to everyone else.
    Residents read the team's notes and their own only (``may_read_note``).
    """
    reporter = await session.get(Person, ticket.reporter_id)
    lines = []
    for event in await tickets.ticket_history(session, ticket.id):
        if event.actor_id is None:
            who = _("the system")
        elif event.actor_id == viewer_id:
            who = _("you")
        elif event.kind in TEAM_EVENTS:
            if for_team:
                actor = await session.get(Person, event.actor_id)
                who = html.escape(actor.display_name) if actor and actor.display_name else "?"
            else:
                who = _("the grid team")
        elif event.actor_id == ticket.reporter_id:
            who = reporter_label(ticket, reporter) if for_team else _("the reporter")
        else:
            who = _("a follower")
        time = local_time(event.created_at, settings)
        line = f"{time} · {_event_text(event.kind, who, event, settings)}"
        if (
            event.note
            and event.kind is not EventKind.CLOSED
            and may_read_note(event, for_team=for_team, viewer_id=viewer_id)
        ):
            note = event.note
            if len(note) > HISTORY_NOTE_CHARS:
                note = note[:HISTORY_NOTE_CHARS] + "…"
            line = _("{event}: {note}").format(event=line, note=f"<i>{html.escape(note)}</i>")
        lines.append(line)
    return lines


def with_history(card: str, lines: list[str]) -> str:
    """The card and as much of the newest history as fits in one message."""
    title = _("History")
    head = f"{card}\n\n<b>{title}</b>"
    kept: list[str] = []
    size = len(head) + 2
    for line in reversed(lines):
        if size + len(line) + 1 > MAX_MESSAGE - 2:
            kept.append("…")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([head, *reversed(kept)])


def reporter_keyboard(ticket: Ticket, *, is_reporter: bool) -> InlineKeyboardMarkup | None:
    if ticket.status is TicketStatus.RESOLVED and is_reporter:
        return rating_keyboard(ticket)
    if not ticket.status.is_open:
        return None
    builder = InlineKeyboard()
    builder.button(
        text=_("💬 Add a comment"),
        callback_data=TicketCb(action=TicketAction.COMMENT, ticket_id=ticket.id),
    )
    builder.button(
        text=_("📷 Add a photo"),
        callback_data=TicketCb(action=TicketAction.PHOTO, ticket_id=ticket.id),
    )
    builder.adjust(2)
    return builder.as_markup()


async def ticket_view(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
    locale: str,
    *,
    private: bool = True,
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The ticket for this person: the team's card and buttons to whoever can handle it
    (read-only to the team of the ticket a duplicate was merged into), the reporter's view
    to its reporter and followers (in a private chat only, never in a group), None to
    anyone else (who must not learn that it exists)."""
    if await tickets.readable_by_team(session, actor, ticket):
        card = await ticket_card(session, ticket, catalogue, settings, locale, for_team=True)
        lines = await history_lines(
            session, ticket, settings, for_team=True, viewer_id=actor.person_id
        )
        return with_history(card, lines), team_keyboard(ticket)
    is_reporter = ticket.reporter_id == actor.person_id
    if not private or (not is_reporter and not await is_follower(session, ticket, actor.person_id)):
        return None
    card = await ticket_card(
        session, ticket, catalogue, settings, locale, for_team=False, to_reporter=is_reporter
    )
    lines = await history_lines(
        session, ticket, settings, for_team=False, viewer_id=actor.person_id
    )
    return with_history(card, lines), reporter_keyboard(ticket, is_reporter=is_reporter)


async def is_team_chat_of(session: AsyncSession, ticket: Ticket, chat_id: int) -> bool:
    """Whether ``chat_id`` is the group chat of the ticket's grid team."""
    grid = await session.get(Grid, ticket.grid_id) if ticket.grid_id is not None else None
    return grid is not None and grid.team_chat_id == chat_id


async def shown_in_chat(session: AsyncSession, ticket: Ticket, chat_id: int) -> bool:
    """Whether the group ``chat_id`` may read the ticket's team card: its team's chat, or,
    for a duplicate, the chat of the team its original belongs to."""
    if await is_team_chat_of(session, ticket, chat_id):
        return True
    if ticket.duplicate_of_id is None:
        return False
    original = await load_ticket(session, ticket.duplicate_of_id)
    return original is not None and await is_team_chat_of(session, original, chat_id)


# The list and one ticket ------------------------------------------------------------------


async def my_tickets_text(
    session: AsyncSession, actor: Actor, catalogue: CategoryCatalogue, locale: str, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the person's tickets, newest first, with arrows to the other pages."""
    total = await tickets.count_reporter_tickets(session, actor.person_id)
    if not total:
        return _("You have no tickets yet. Send /new to raise a complaint."), None
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(page, pages - 1)
    mine = await tickets.reporter_tickets(
        session, actor.person_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    lines = [_("<b>My tickets</b>")]
    builder = InlineKeyboard()
    for position, entry in enumerate(mine, start=page * PAGE_SIZE + 1):
        ticket = entry.ticket
        category = catalogue.shown(ticket.category)
        line = _("{position}. {number} {emoji} {category}: {status}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            category=category.name(locale),
            status=status_name(ticket.status, to_reporter=not entry.following),
        )
        if entry.following:
            line = _("{entry} (following)").format(entry=line)
        lines.append(line)
        builder.button(
            text=f"{ticket.number} {category.emoji}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    sizes = [2] * (len(mine) // 2) + [1] * (len(mine) % 2)
    if pages > 1:
        lines.append(_("Page {page} of {pages}").format(page=page + 1, pages=pages))
        arrows = [(page - 1, _("⬅️ Newer")), (page + 1, _("Older ➡️"))]
        shown = [(target, text) for target, text in arrows if 0 <= target < pages]
        for target, text in shown:
            builder.button(text=text, callback_data=MyTicketsCb(page=target))
        sizes.append(len(shown))
    builder.adjust(*sizes)
    return "\n".join(lines), builder.as_markup()


@router.message(Command("mytickets"), F.chat.type != "private")
async def my_tickets_in_group(message: Message) -> None:
    await message.reply(_("Your tickets stay private: send me /mytickets in a private chat."))


@router.message(Command("mytickets"), F.chat.type == "private")
async def my_tickets_command(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    text, markup = await my_tickets_text(session, actor, catalogue, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


def in_private_chat(query: CallbackQuery, callback_answer: CallbackAnswer) -> bool:
    """Whether the button was pressed in a private chat; else the presser is told, in an
    alert only they see, that their list is not posted to a group (a menu can reach a
    group: an old one, or forged)."""
    if query.message is not None and query.message.chat.type == "private":
        return True
    refuse_button(
        callback_answer, _("Your tickets stay private: send me /mytickets in a private chat.")
    )
    return False


@router.callback_query(MenuCb.filter(F.item == MenuItem.MY_TICKETS))
async def my_tickets_button(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    if not in_private_chat(query, callback_answer):
        return
    text, markup = await my_tickets_text(session, actor, catalogue, i18n.current_locale)
    await query.message.answer(text, reply_markup=markup)


@router.callback_query(MyTicketsCb.filter())
async def my_tickets_page(
    query: CallbackQuery,
    callback_data: MyTicketsCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """Another page of the presser's own list (a forged page past the end shows the last)."""
    if not in_private_chat(query, callback_answer):
        return
    text, markup = await my_tickets_text(
        session, actor, catalogue, i18n.current_locale, callback_data.page
    )
    await query.message.answer(text, reply_markup=markup)


@router.callback_query(TicketCb.filter(F.action == TicketAction.DETAIL))
async def ticket_detail(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
) -> None:
    ticket = await load_ticket(session, callback_data.ticket_id)
    private = query.message is not None and query.message.chat.type == "private"
    view = (
        await ticket_view(
            session, ticket, actor, catalogue, settings, i18n.current_locale, private=private
        )
        if ticket is not None
        else None
    )
    if view is None:
        await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    if not private and not await shown_in_chat(session, ticket, query.message.chat.id):
        # A queue listed in another group: the card carries the reporter's contact.
        refuse_button(
            callback_answer,
            _(
                "A ticket's details are shown only in its team's group or in private: "
                "send me /ticket {number} in a private chat."
            ).format(number=ticket.number),
        )
        return
    text, markup = view
    await query.message.answer(text, reply_markup=markup)


# Comments and photos ----------------------------------------------------------------------


async def _reporter_or_follower_ticket(
    session: AsyncSession, actor: Actor, ticket_id: int, callback_answer: CallbackAnswer
) -> Ticket | None:
    """The open ticket a reporter's or follower's button names, else a refusal."""
    ticket = await load_ticket(session, ticket_id)
    if ticket is None or (
        ticket.reporter_id != actor.person_id
        and not await is_follower(session, ticket, actor.person_id)
    ):
        refuse_button(callback_answer)
        return None
    if not ticket.status.is_open:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return None
    return ticket


def _who_added(ticket: Ticket, reporter: Person | None, actor: Actor) -> str:
    if actor.person_id == ticket.reporter_id:
        return reporter_label(ticket, reporter)
    return _("a follower")


@router.callback_query(TicketCb.filter(F.action == TicketAction.COMMENT))
async def comment_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await _reporter_or_follower_ticket(
        session, actor, callback_data.ticket_id, callback_answer
    )
    if ticket is None:
        return
    await state.set_state(ReporterForm.comment)
    await state.set_data({"ticket_id": ticket.id})
    await query.message.answer(
        _(
            "Write your comment on {number} (up to {limit} characters). The grid team will see it."
        ).format(number=ticket.number, limit=tickets.MAX_TEXT),
        reply_markup=nav_keyboard(),
    )


@router.message(ReporterForm.comment, F.text, ~F.text.startswith("/"))
async def comment_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    text = await typed_text(message)
    if text is None:
        return
    ticket = await act_on_step_ticket(
        message,
        state,
        session,
        lambda ticket: tickets.add_comment(session, ticket, actor, utcnow(), text),
        _("You can no longer add to this ticket."),
    )
    if ticket is None:
        return
    reporter = await session.get(Person, ticket.reporter_id)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("💬 {who} added a comment to {number}:\n\n{text}").format(
            who=_who_added(ticket, reporter, actor), number=ticket.number, text=html.escape(text)
        ),
        keyboard=lambda: open_keyboard(ticket),
    )
    await session.commit()
    await message.answer(
        _("💬 Your comment on {number} was passed to the grid team.").format(number=ticket.number)
    )


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
    ticket = await _reporter_or_follower_ticket(
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
        _(
            "Send photos of the problem for {number}, one by one or as an album, then press "
            "Done: the grid team gets them together."
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
        await message.answer(
            no_longer_applies(ticket) if ticket else _("You can no longer add to this ticket.")
        )
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
    if photos:
        lines.append(_("Send more, or press Done to pass them to the grid team."))
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
            "📷 {who} added {count} photo to {number}.",
            "📷 {who} added {count} photos to {number}.",
            len(added),
        ).format(who=_who_added(ticket, reporter, actor), count=len(added), number=ticket.number)
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
        ngettext(
            "Thank you: {count} photo was added to {number}, and the grid team was told.",
            "Thank you: {count} photos were added to {number}, and the grid team was told.",
            len(added),
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


# The answer to the team's question --------------------------------------------------------


@router.callback_query(TicketCb.filter(F.action == TicketAction.ANSWER))
async def answer_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None or ticket.reporter_id != actor.person_id:
        refuse_button(callback_answer)
        return
    if not ticket.status.is_open:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    await state.set_state(ReporterForm.answer)
    await state.set_data({"ticket_id": ticket.id})
    await query.message.answer(
        _("Write your answer for the grid team about {number}.").format(number=ticket.number),
        reply_markup=nav_keyboard(),
    )


async def _asker(session: AsyncSession, ticket: Ticket) -> Person | None:
    """Who asked the latest question."""
    for event in reversed(await tickets.ticket_history(session, ticket.id)):
        if event.kind is EventKind.QUESTION and event.actor_id is not None:
            return await session.get(Person, event.actor_id)
    return None


@router.message(ReporterForm.answer, F.text, ~F.text.startswith("/"))
async def answer_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    text = await typed_text(message)
    if text is None:
        return
    ticket = await act_on_step_ticket(
        message,
        state,
        session,
        lambda ticket: tickets.answer_question(session, ticket, actor, utcnow(), text),
        _("You can no longer add to this ticket."),
    )
    if ticket is None:
        return
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    asker = await _asker(session, ticket)
    team_ids = {member.id for member in audience.team}
    if asker is not None and asker.forgotten_at is None and asker.id not in team_ids:
        audience = replace(audience, team=(*audience.team, asker))
    reporter = audience.reporter
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _("💬 {who} answered the question on {number}:\n\n{text}").format(
            who=reporter_label(ticket, reporter), number=ticket.number, text=html.escape(text)
        ),
        audience=audience,
    )
    await session.commit()
    await message.answer(
        _("💬 Your answer on {number} was passed to the grid team.").format(number=ticket.number)
    )


# Rating -----------------------------------------------------------------------------------


@router.callback_query(RateCb.filter())
async def rate_button(
    query: CallbackQuery,
    callback_data: RateCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    state: FSMContext,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    try:
        rating = Rating(callback_data.rating)
    except ValueError:
        refuse_button(callback_answer)
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None or ticket.reporter_id != actor.person_id:
        refuse_button(callback_answer)
        return
    if ticket.status is not TicketStatus.RESOLVED:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    if rating is Rating.UNSATISFIED:
        await state.set_state(ReporterForm.rework_reason)
        await state.set_data({"ticket_id": ticket.id})
        await query.message.answer(
            _(
                "Sorry it is not right yet. What is still wrong with {number}? "
                "Your words go back to the grid team with the ticket."
            ).format(number=ticket.number),
            reply_markup=nav_keyboard(),
        )
        return
    try:
        await tickets.rate(session, ticket, actor, utcnow(), rating, catalogue=catalogue)
    except IllegalTransition:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    except NotAllowed:
        refuse_button(callback_answer)
        return
    if await state.get_state() == ReporterForm.rework_reason.state:
        await state.clear()
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("⭐ The reporter rated {number}: {rating}. The ticket is closed.").format(
            number=ticket.number, rating=rating_name(rating)
        ),
    )
    # Followers were told it was resolved: they learn how it ended.
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "✅ {number}, which you follow, is closed. The reporter's rating: {rating}."
        ).format(number=ticket.number, rating=rating_name(rating)),
    )
    await session.commit()
    callback_answer.text = rating_name(rating)
    await query.message.answer(
        _("Thank you for your rating! {number} is now closed.").format(number=ticket.number)
    )


@router.message(ReporterForm.rework_reason, F.text, ~F.text.startswith("/"))
async def rework_reason(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    text = await typed_text(message)
    if text is None:
        return
    ticket = await act_on_step_ticket(
        message,
        state,
        session,
        lambda ticket: tickets.rate(
            session, ticket, actor, utcnow(), Rating.UNSATISFIED, catalogue=catalogue, comment=text
        ),
        _("You can no longer rate this ticket."),
    )
    if ticket is None:
        return
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _(
            "🔁 {number} was sent back for rework (round {count}). The reporter says:\n{reason}"
        ).format(number=ticket.number, count=ticket.rework_count, reason=html.escape(text)),
        audience=audience,
    )
    # Followers were told it was resolved: they learn it is being done again.
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "🔁 {number}, which you follow, went back to the grid team to be done again: "
            "the reporter was not satisfied with the result."
        ).format(number=ticket.number),
        audience=audience,
    )
    await session.commit()
    await message.answer(
        _(
            "🔁 {number} went back to the grid team to be done again. "
            "The new deadline is {time}; we will tell you when it is resolved."
        ).format(number=ticket.number, time=local_time(ticket.resolve_by, settings))
    )


# Leaving a step ---------------------------------------------------------------------------


@router.callback_query(
    ChoiceCb.filter(F.kind == REPORTER_NAV), StateFilter(*ReporterForm.__all_states__)
)
async def reporter_nav(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    state: FSMContext,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    if callback_data.index == NAV_DONE and await state.get_state() == ReporterForm.photo.state:
        await photos_done(query, state, session, notifier, actor, i18n, settings)
        return
    await state.clear()
    callback_answer.text = _("Cancelled.")
    await query.message.answer(_("Cancelled. Nothing more was sent."))


HINTS = {
    ReporterForm.comment.state: lambda: _("Please write your comment as text, or press Cancel."),
    ReporterForm.photo.state: lambda: _("Please send a photo (not a file or a sticker)."),
    ReporterForm.answer.state: lambda: _("Please write your answer as text, or press Cancel."),
    ReporterForm.rework_reason.state: lambda: _(
        "Please tell us in words what is still wrong, or press Cancel."
    ),
}


@router.message(StateFilter(*ReporterForm.__all_states__))
async def reporter_hint(message: Message, state: FSMContext) -> None:
    """Anything a step does not expect (a sticker at the photo step): its hint, once per
    album."""
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    done = current == ReporterForm.photo.state and bool((await state.get_data()).get("photos"))
    await message.answer(HINTS[current](), reply_markup=nav_keyboard(done=done))


@router.callback_query(ChoiceCb.filter(F.kind == REPORTER_NAV))
@router.callback_query(CallbackPrefix(RateCb))
async def stale_reporter_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A rating button that does not decode, or a step's button after the step ended."""
    refuse_button(callback_answer)
