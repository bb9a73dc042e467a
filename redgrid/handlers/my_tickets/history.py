"""A ticket's history in words: each event on one line, with the note whoever reads may
see, and as much of it as fits beside the card in one message."""

import html
from datetime import datetime

from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import local_time, rating_name
from redgrid.bot.settings import Settings
from redgrid.handlers.my_tickets.shared import by_queue, reporter_name
from redgrid.models import EventKind, Person, Rating, Ticket, TicketEvent
from redgrid.services import tickets

# Telegram's limit on the text of one message: the history is cut to fit beside the card.
MAX_MESSAGE = 4096
HISTORY_NOTE_CHARS = 200


# Events the team makes: residents read the team of the ticket's queue then as their author.
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

    The reporter never learns who on the team acted: "the grid team", "the community
    officers" or "the district office", by the queue the ticket was in at the time. The
    team sees the reporter's name only with consent, and followers are "a follower" to
    everyone else.
    Residents read the team's notes and their own only (``may_read_note``).
    """
    reporter = await session.get(Person, ticket.reporter_id)
    lines = []
    events = await tickets.ticket_history(session, ticket.id)
    for event, queue in zip(events, tickets.queues_at_events(ticket, events), strict=True):
        unnamed_reporter = False
        if event.actor_id is None:
            who = _("the system")
        elif event.actor_id == viewer_id:
            who = _("you")
        elif event.kind in TEAM_EVENTS:
            if for_team:
                actor = await session.get(Person, event.actor_id)
                who = html.escape(actor.display_name) if actor and actor.display_name else "?"
            else:
                who = by_queue(
                    queue,
                    grid=_("the grid team"),
                    community=_("the community officers"),
                    district=_("the district office"),
                )
        elif event.actor_id == ticket.reporter_id:
            name = reporter_name(ticket, reporter) if for_team else None
            unnamed_reporter = name is None
            who = name or _("the reporter")
        else:
            who = _("a follower")
        time = local_time(event.created_at, settings)
        if event.kind is EventKind.CREATED and unnamed_reporter:
            text = _("Reported")  # "Reported by the reporter" says nothing more
        else:
            text = _event_text(event.kind, who, event, settings)
        line = f"{time} · {text}"
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
