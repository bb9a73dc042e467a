"""What the bot tells people about a ticket, each in their own language.

Rendering happens while the update is handled, under ``i18n.use_locale(locale)``: once per
recipient for the reporter's and followers' news, once per language for what the team
reads (``in_each_language``: every reader gets theirs, and a copy handed over to someone
else reaches them in theirs). The result is staged in the outbox by the notifier and sent
after the commit.
"""

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n, get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.lost_chats import UndeliveredNotice, log_push_nobody_takes
from redgrid.bot.notifier import Notifier, message_params
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import RateCb, TicketAction, TicketCb
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.languages import SUPPORTED_LOCALES
from redgrid.models import (
    Community,
    Grid,
    Person,
    PhotoKind,
    Rating,
    Ticket,
    TicketSource,
    TicketStatus,
)
from redgrid.services import informants
from redgrid.services.categories import CategoryCatalogue, load_categories
from redgrid.services.tickets import (
    Audience,
    Placement,
    ticket_audience,
    ticket_photos,
    ticket_team,
)

# Telegram refuses messages over 4096 characters; escaping can make a 1000-character
# description several times longer, so the card spends at most this much on it.
DESCRIPTION_BUDGET = 2500


def escape_clipped(text: str, limit: int) -> str:
    """``text`` HTML-escaped, cut (with an ellipsis) so the escaped form fits ``limit``."""
    escaped = html.escape(text)
    if len(escaped) <= limit:
        return escaped
    kept, size = [], 0
    for char in text:
        piece = html.escape(char)
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"


def locale_of(person: Person, settings: Settings) -> str:
    return negotiate_locale(person.locale, None, settings.default_locale)


def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


def duration_words(span: timedelta) -> str:
    """How long, in words, to the two largest units: "1 day 2 hours", "4 hours 48
    minutes", "24 minutes". Rounded down, and never less than a minute."""
    total = max(int(span.total_seconds() // 60), 1)
    units = [
        (total // 1440, lambda n: ngettext("{count} day", "{count} days", n)),
        (total // 60 % 24, lambda n: ngettext("{count} hour", "{count} hours", n)),
        (total % 60, lambda n: ngettext("{count} minute", "{count} minutes", n)),
    ]
    largest = next(index for index, (count, _words) in enumerate(units) if count)
    return " ".join(
        words(count).format(count=count) for count, words in units[largest : largest + 2] if count
    )


def status_name(status: TicketStatus, *, to_reporter: bool = True) -> str:
    """The status in words; a resolved ticket waits for "your" rating only when its
    reporter reads it (the team and followers cannot rate)."""
    if status is TicketStatus.RESOLVED and not to_reporter:
        return _("resolved, waiting for the reporter's rating")
    return {
        TicketStatus.DISPATCHED: _("waiting to be accepted"),
        TicketStatus.ACCEPTED: _("being handled"),
        TicketStatus.RESOLVED: _("resolved, waiting for your rating"),
        TicketStatus.CLOSED: _("closed"),
        TicketStatus.INVALID: _("marked invalid"),
        TicketStatus.DUPLICATE: _("marked as a duplicate"),
    }[status]


def rating_name(rating: Rating) -> str:
    return {
        Rating.SATISFIED: _("😊 Satisfied"),
        Rating.BASICALLY_SATISFIED: _("🙂 Basically satisfied"),
        Rating.UNSATISFIED: _("🙁 Unsatisfied"),
    }[rating]


def desk_name(desk: str) -> str:
    """A district desk, named in the reader's language by the categories it takes. The bot
    runs on the shipped catalogue (``app.build_app``), so this reads it rather than have
    every caller of ``queue_name`` pass it down."""
    return load_categories().desk_name(desk, get_i18n().current_locale)


def desk_label(desk: str) -> str:
    return _("district desk: {desk}").format(desk=desk_name(desk))


async def queue_name(session: AsyncSession, queue: Ticket | Placement) -> str:
    """Where a ticket waits (or would wait), for people: a grid, a community, a desk or the
    district."""
    if queue.grid_id is not None:
        grid = await session.get(Grid, queue.grid_id)
        return _("grid {name} ({code})").format(name=grid.name, code=grid.code)
    if queue.desk is not None:
        return desk_label(queue.desk)
    if queue.community_id is not None:
        community = await session.get(Community, queue.community_id)
        return _("community {name}").format(name=community.name)
    return _("the district's general queue")


async def ticket_card(
    session: AsyncSession,
    ticket: Ticket,
    catalogue: CategoryCatalogue,
    settings: Settings,
    locale: str,
    *,
    for_team: bool,
    to_reporter: bool = False,
) -> str:
    """The ticket as one message, in the current locale. The team sees the reporter's name
    and phone only when the reporter consented; ``to_reporter``: the reporter reads it."""
    category = catalogue.shown(ticket.category)
    lines = [
        _("<b>{number}</b> · {emoji} {category}").format(
            number=ticket.number, emoji=category.emoji, category=category.name(locale)
        ),
        _("Status: {status}").format(status=status_name(ticket.status, to_reporter=to_reporter)),
        _("Queue: {queue}").format(queue=html.escape(await queue_name(session, ticket))),
    ]
    if ticket.address:
        lines.append(_("Address: {address}").format(address=html.escape(ticket.address)))
    lines.append("")
    lines.append(escape_clipped(ticket.description, DESCRIPTION_BUDGET))
    lines.append("")
    if ticket.status is TicketStatus.DISPATCHED:
        lines.append(_("Accept by: {time}").format(time=local_time(ticket.respond_by, settings)))
    if ticket.status in (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED):
        lines.append(_("Resolve by: {time}").format(time=local_time(ticket.resolve_by, settings)))
    if ticket.resolution_note and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        # A reworked ticket keeps its rejected note; the history shows it, the card not.
        lines.append(_("Resolution: {note}").format(note=html.escape(ticket.resolution_note)))
    if for_team:
        lines.append(await _reporter_line(session, ticket))
    return "\n".join(lines).strip()


async def _reporter_line(session: AsyncSession, ticket: Ticket) -> str:
    """Who reported, as the team may see them. A red informant is named as on the
    leaderboard (and in the report's headline), never with their phone: the team asks
    through the bot."""
    reporter = await session.get(Person, ticket.reporter_id)
    if reporter is None or reporter.forgotten_at is not None:
        return _("Reporter: anonymous (reach them through the bot)")
    if ticket.source is TicketSource.INFORMANT:
        profile = await informants.get_profile(session, reporter.id)
        if profile is None or not profile.display_name:
            return _("Reporter: a red informant (reach them through the bot)")
        return _("Reporter: red informant {name} (reach them through the bot)").format(
            name=html.escape(profile.display_name)
        )
    if not ticket.contact_consent:
        return _("Reporter: anonymous (reach them through the bot)")
    contact = html.escape(reporter.display_name or "-")
    if reporter.phone:
        contact += ", " + html.escape(reporter.phone)
    return _("Reporter: {contact}").format(contact=contact)


def team_keyboard(ticket: Ticket) -> InlineKeyboardMarkup | None:
    """The actions open to the team in the ticket's current status, two a row."""
    if ticket.status is TicketStatus.DISPATCHED:
        actions = [
            (_("✅ Accept"), TicketAction.ACCEPT),
            (_("↪️ Transfer"), TicketAction.TRANSFER),
            (_("🗣 To consultation"), TicketAction.CONSULT),
            (_("🚫 Invalid"), TicketAction.INVALID),
            (_("🔁 Duplicate"), TicketAction.DUPLICATE),
        ]
    elif ticket.status is TicketStatus.ACCEPTED:
        actions = [
            (_("🏁 Resolve"), TicketAction.RESOLVE),
            (_("⏳ Extend"), TicketAction.EXTEND),
            (_("↪️ Transfer"), TicketAction.TRANSFER),
            (_("❓ Ask the reporter"), TicketAction.ASK),
            (_("🔁 Duplicate"), TicketAction.DUPLICATE),
        ]
    else:
        return None
    keyboard = InlineKeyboard()
    for text, action in actions:
        keyboard.button(text=text, callback_data=TicketCb(action=action, ticket_id=ticket.id))
    return keyboard.adjust(2).as_markup()


def rating_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    keyboard = InlineKeyboard()
    for rating in Rating:
        keyboard.button(
            text=rating_name(rating), callback_data=RateCb(ticket_id=ticket.id, rating=rating)
        )
    return keyboard.adjust(1).as_markup()


async def in_each_language(
    i18n: I18n, render: Callable[[str], Awaitable[tuple[str, InlineKeyboardMarkup | None]]]
) -> dict[str, dict]:
    """``render(locale)`` (a message's text and buttons) in every language, as outbox
    params (``Notifier.localized``): what the team reads may be handed over to someone who
    reads another language than its reader (``bot/lost_chats.py``). The text says the same
    to each reader, so it is rendered once a language, not once a reader."""
    renderings = {}
    for locale in SUPPORTED_LOCALES:
        with i18n.use_locale(locale):
            renderings[locale] = message_params(*await render(locale))
    return renderings


async def push_to_team(
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    ticket: Ticket,
    headline: Callable[[], str],
    *,
    with_media: bool = False,
    report_photos: Sequence[str] | None = None,
    audience: Audience | None = None,
    to: Sequence[Person] | None = None,
    team_of: Ticket | None = None,
    keyboard: Callable[[], InlineKeyboardMarkup | None] | None = None,
    exclude_person_id: int | None = None,
) -> None:
    """The ticket card, under ``headline()`` and with the team's buttons, to every team
    member and to the team's group chat; with ``with_media`` the photos and the location
    pin come first (``report_photos``: the report's file ids, when the caller has them, as
    for a ticket just filed). ``to`` names other people instead (officers, admins: they
    may act on the ticket too), without the team chat.

    ``team_of``: another ticket whose team is told (the original a duplicate was merged
    into), and whose pushes these are should a member be unreachable; ``keyboard`` then
    replaces the team's buttons. ``exclude_person_id``: the member whose own action it
    reports, who gets it neither now nor handed over later.

    A push to the ticket's team that finds none (no reachable member, officer or admin,
    and no team chat) is logged as lost: an admin in ``ADMIN_IDS`` who never opened the
    bot cannot be written to."""
    team_of = team_of or ticket
    photos: Sequence[str] = ()
    if with_media and report_photos is not None:
        photos = report_photos
    elif with_media:
        photos = [p.file_id for p in await ticket_photos(session, ticket.id, PhotoKind.REPORT)]
    chosen = to is not None  # the caller's readers (an alarm's): it says when there are none
    if to is None and audience is not None:
        to, team_chat_id = audience.team, audience.team_chat_id
    elif to is None:
        to, team_chat_id = await ticket_team(session, team_of, settings.admin_ids)
    else:
        team_chat_id = None
    if not to and team_chat_id is None and not chosen:
        log_push_nobody_takes(team_of)
    recipients = [
        (person.telegram_id, locale_of(person, settings), person.id)
        for person in to
        if person.id != exclude_person_id
    ]
    if team_chat_id is not None:
        recipients.append((team_chat_id, settings.default_locale, None))
    if not recipients:
        return

    async def render(locale: str) -> tuple[str, InlineKeyboardMarkup | None]:
        card = await ticket_card(session, ticket, catalogue, settings, locale, for_team=True)
        markup = keyboard() if keyboard is not None else team_keyboard(ticket)
        return f"{headline()}\n\n{card}", markup

    renderings = await in_each_language(i18n, render)
    with notifier.push(leaving_out=exclude_person_id):
        for chat_id, locale, person_id in recipients:
            if photos:
                notifier.photos(chat_id, photos, person_id=person_id, ticket_id=team_of.id)
            if with_media and ticket.latitude is not None:
                notifier.location(
                    chat_id,
                    ticket.latitude,
                    ticket.longitude,
                    person_id=person_id,
                    ticket_id=team_of.id,
                )
            notifier.localized(
                chat_id, locale, renderings, person_id=person_id, ticket_id=team_of.id
            )


async def push_to_reporter(
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    ticket: Ticket,
    render: Callable[[], str],
    *,
    keyboard: Callable[[], InlineKeyboardMarkup | None] = lambda: None,
    followers: bool = True,
    audience: Audience | None = None,
    if_undelivered: UndeliveredNotice | None = None,
) -> None:
    """``render()`` (and ``keyboard()``) in each recipient's language, to the reporter and,
    unless ``followers`` is False, to the people following the ticket. ``if_undelivered``:
    what to tell whom should the reporter's copy never arrive."""
    audience = audience or await ticket_audience(session, ticket, settings.admin_ids)
    people = [audience.reporter] if audience.reporter is not None else []
    if followers:
        people.extend(audience.followers)
    with notifier.push():
        for person in people:
            with i18n.use_locale(locale_of(person, settings)):
                text, markup = render(), keyboard()
            notifier.message(
                person.telegram_id,
                text,
                reply_markup=markup,
                person_id=person.id,
                ticket_id=ticket.id,
                if_undelivered=if_undelivered if person is audience.reporter else None,
            )


async def push_to_followers(
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    ticket: Ticket,
    render: Callable[[], str],
    *,
    audience: Audience | None = None,
) -> None:
    """``render()`` to the ticket's followers only, each in their language: they hear the
    news in their own words, while the reporter gets a message of their own."""
    audience = audience or await ticket_audience(session, ticket, settings.admin_ids)
    await push_to_reporter(
        session, notifier, i18n, settings, ticket, render, audience=replace(audience, reporter=None)
    )
