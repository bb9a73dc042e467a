"""Helpers several flows share, here and in the team's and informants' packages: the
ticket a button or a step is about, the refusal of a button that came too late, the
reporter, a queue and who handles it in words, the light messages to a ticket's team, and
the reporter's Done/Cancel keyboard."""

import html
from collections.abc import Awaitable, Callable, Sequence

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.lost_chats import log_push_nobody_takes
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import desk_label, in_each_language, locale_of, status_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb, TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Community, Grid, Person, Ticket, TicketFollower, TicketStatus
from redgrid.services import tickets
from redgrid.services.people import Actor
from redgrid.services.tickets import (
    Audience,
    IllegalTransition,
    NotAllowed,
    Placement,
    TicketNotFound,
)

# The reporter's conversation buttons: ChoiceCb(kind=REPORTER_NAV, index=...).
REPORTER_NAV = "rn"
NAV_CANCEL, NAV_DONE = 0, 1


async def load_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket a button names (its id was range-checked when the button decoded)."""
    return await session.get(Ticket, ticket_id)


def in_private_chat(
    query: CallbackQuery, callback_answer: CallbackAnswer, refusal: str | None = None
) -> bool:
    """Whether the button was pressed in a private chat; else the presser is told, in an
    alert only they see, to use it there (``refusal``; by default: a reporter's or
    follower's step, where the whole group would read what they type). Such a button
    reaches a group only as an old message or forged: nothing is started there."""
    if query.message is not None and query.message.chat.type == "private":
        return True
    refuse_button(
        callback_answer,
        refusal
        or _(
            "This works in your private chat with me, where the group cannot read what you "
            "write: send me /mytickets there."
        ),
    )
    return False


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
        await answer_too_late(message, session, ticket)
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


async def answer_too_late(message: Message, session: AsyncSession, ticket: Ticket) -> None:
    """What someone typed (or sent) for a ticket that moved on meanwhile: it was not passed
    on, and where it can go instead: the ticket it was merged into, if it was."""
    original = await tickets.merged_into(session, ticket)
    if original is None:
        await message.answer(
            _("{number} is now {status}, so what you sent was not passed on.").format(
                number=ticket.number, status=current_status(ticket.status)
            )
        )
        return
    await message.answer(
        _(
            "{number} was merged into {original}, so what you sent was not passed on. "
            "Open {original} to add it there."
        ).format(number=ticket.number, original=original.number),
        reply_markup=open_keyboard(original),
    )


def reporter_name(ticket: Ticket, reporter: Person | None) -> str | None:
    """The reporter's name as the team may see it (HTML-escaped): only with consent."""
    if ticket.contact_consent and reporter is not None and reporter.forgotten_at is None:
        return html.escape(reporter.display_name) if reporter.display_name else None
    return None


def reporter_label(ticket: Ticket, reporter: Person | None) -> str:
    """The reporter as the team may see them: the name only with consent."""
    return reporter_name(ticket, reporter) or _("the reporter")


def queue_label(grid: Grid | None, community: Community | None, desk: str | None) -> str:
    """``pushes.queue_name`` for a queue read beforehand, so a push can render it in each
    recipient's language without touching the database."""
    if grid is not None:
        return _("grid {name} ({code})").format(name=grid.name, code=grid.code)
    if desk is not None:
        return desk_label(desk)
    if community is not None:
        return _("community {name}").format(name=community.name)
    return _("the district's general queue")


def by_queue(queue: Ticket | Placement, *, grid: str, community: str, district: str) -> str:
    """Of one sentence in three wordings, the one naming who handles a ticket in ``queue``:
    its grid's team, its community's officers, or the district (a desk or the general
    queue). Whole sentences, since Chinese puts a name elsewhere in the sentence than
    English; never a person, since the reporter does not learn who on the team acted."""
    if queue.grid_id is not None:
        return grid
    if queue.desk is None and queue.community_id is not None:
        return community
    return district


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
    action it reports, who gets it neither now nor handed over later. A team of nobody
    (and no team chat) is logged as a lost push, as ``push_to_team`` does."""
    audience = audience or await tickets.ticket_audience(session, ticket, settings.admin_ids)
    if not audience.team and audience.team_chat_id is None:
        log_push_nobody_takes(ticket)
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


async def reporter_or_follower_ticket(
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


def who_added(ticket: Ticket, reporter: Person | None, actor: Actor) -> str:
    if actor.person_id == ticket.reporter_id:
        return reporter_label(ticket, reporter)
    return _("a follower")
