"""The resident's complaint: category → description → photos → place → contact consent →
summary → the ticket (点单), dispatched to its queue (派单).

Decisions worth knowing:

- The draft lives in the FSM data as plain JSON (strings, numbers, lists and dicts), so a
  half-written complaint survives a restart with the database or the Redis storage.
- Back keeps what was entered: a step that already has a value shows it and offers to keep
  it (description, place), marks it (category, consent) or counts it (photos), and going
  forward again walks the steps in order. Edit on the summary asks what to change, opens
  that step, and returns to the summary as soon as it is done.
- A photo with a caption at the description step is taken as both: the caption is the
  description, the photo the first photo. A photo without a caption there gets a hint.
  A caption on a later photo is added to the description, when it still fits.
- An album arrives as one update per photo; it gets one reply (``albums.py``): the first
  photo's, which the next ones edit (the count goes up, and how many did not fit).
- The place step shows a reply keyboard with "share location"; the message that confirms
  the place removes it, as do Back and Cancel pressed here, and /cancel and /start
  (common.py).
- "Show my name and phone" asks for the phone (shared or typed) when none is on file,
  once a draft: without it the team could not call. Going on without one is a button.
- The nearby-duplicate hint needs coordinates: a place found from a typed address has none,
  so it gets no hint.
- Confirm commits the ticket and the team's push, then clears the state; a second press on
  Confirm finds no summary state and falls to the stale-button handler.
- /new and the menu button always start a fresh draft (after the daily-limit check).
"""

import html
import math
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import N_
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import escape_clipped, local_time, push_to_team, queue_name, status_name
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import (
    CategoryCb,
    ChoiceCb,
    DraftAction,
    DraftCb,
    MenuCb,
    MenuItem,
    TicketAction,
    TicketCb,
)
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.informant import contact_keyboard
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Person, Ticket, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue, UnknownCategory
from redgrid.services.district import RoutingCache
from redgrid.services.geo import metres_per_degree
from redgrid.services.informants import InvalidPhone, normalise_phone
from redgrid.services.people import Actor, set_phone
from redgrid.services.routing import InvalidCoordinates, PointRoute, RouteOutcome
from redgrid.services.tickets import MAX_ADDRESS, MAX_DESCRIPTION, MAX_PHOTOS, TicketDraft

router = Blueprint(__name__)

# ChoiceCb kinds used here: an address candidate, "keep the current value", an edit target.
ADDR, KEEP, EDIT = "addr", "keep", "edit"
MAX_CHOICES = 8
# The summary must fit Telegram's 4096 characters after escaping (& becomes &amp;).
SUMMARY_DESCRIPTION_BUDGET = 3000


class Complaint(StatesGroup):
    category = State()
    description = State()
    photos = State()
    place = State()
    place_address = State()
    place_choice = State()
    duplicate = State()
    consent = State()
    phone = State()
    summary = State()
    edit = State()


router.messages_only(Complaint)
router.callbacks_only(CategoryCb, ChoiceCb, DraftCb, MenuCb, TicketCb)


PLACE_STATES = (Complaint.place, Complaint.place_address, Complaint.place_choice)
PLACE_STATE_NAMES = frozenset(s.state for s in PLACE_STATES)
# The step that finishing a step leads to, before the summary was first shown.
NEXT = {
    Complaint.category.state: Complaint.description,
    Complaint.description.state: Complaint.photos,
    Complaint.photos.state: Complaint.place,
    Complaint.place.state: Complaint.consent,
    Complaint.consent.state: Complaint.summary,
}
BACK_TO = {
    Complaint.description.state: Complaint.category,
    Complaint.photos.state: Complaint.description,
    Complaint.place.state: Complaint.photos,
    Complaint.place_address.state: Complaint.place,
    Complaint.place_choice.state: Complaint.place_address,
    Complaint.duplicate.state: Complaint.place,
    Complaint.consent.state: Complaint.place,
    Complaint.phone.state: Complaint.consent,
    Complaint.summary.state: Complaint.consent,
    Complaint.edit.state: Complaint.summary,
}
EDIT_TARGETS = (
    (Complaint.category, N_("🏷 Category")),
    (Complaint.description, N_("✍️ Description")),
    (Complaint.photos, N_("📷 Photos")),
    (Complaint.place, N_("📍 Place")),
    (Complaint.consent, N_("👤 Contact")),
)
HINTS = {
    Complaint.category.state: N_("Please choose a category with the buttons."),
    Complaint.description.state: N_(
        "Please describe the problem in words (up to 1000 characters). Photos come in the "
        "next step, or send a photo with the description as its caption."
    ),
    Complaint.photos.state: N_("Please send photos, or press Done (or Skip if you have none)."),
    Complaint.place.state: N_(
        "Please share a location with the 📍 button, or type the name of the compound or "
        "an address."
    ),
    Complaint.place_address.state: N_(
        "Please type the name of the compound or an address, or share a location."
    ),
    Complaint.place_choice.state: N_(
        "Please choose one of the places with the buttons, or type the address again."
    ),
    Complaint.duplicate.state: N_("Please choose: follow that complaint, or file yours anyway."),
    Complaint.consent.state: N_("Please choose one of the two buttons."),
    Complaint.phone.state: N_(
        "Please share your phone number with the 📱 button or type it, or go on with your "
        "name only."
    ),
    Complaint.summary.state: N_("Please check the summary and press Confirm, Edit or Cancel."),
    Complaint.edit.state: N_("Please choose what to change with the buttons."),
}


@dataclass(frozen=True, slots=True)
class Ctx:
    """What rendering a step needs, gathered once per update."""

    session: AsyncSession
    i18n: I18n
    settings: Settings
    catalogue: CategoryCatalogue
    person: Person

    @property
    def locale(self) -> str:
        return self.i18n.current_locale


# --- small helpers --------------------------------------------------------------------


def _grid_label(name: str, code: str) -> str:
    return _("grid {name} ({code})").format(name=name, code=code)


def _distance_m(lat: float, lon: float, other_lat: float, other_lon: float) -> float:
    per_lon, per_lat = metres_per_degree(lat)
    return math.hypot((other_lon - lon) * per_lon, (other_lat - lat) * per_lat)


async def _close(query: CallbackQuery) -> None:
    """Take the buttons off the message whose button was pressed; old messages may refuse."""
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


def _nav(builder: InlineKeyboard, *, back: bool = True) -> None:
    if back:
        builder.button(text=_("⬅️ Back"), callback_data=DraftCb(action=DraftAction.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=DraftCb(action=DraftAction.CANCEL))


def _place_lines(place: dict[str, Any]) -> list[str]:
    lines = []
    if place.get("grid_id") is not None:
        label = _grid_label(place["grid_name"], place["grid_code"])
        lines.append(_("Grid: {grid}").format(grid=html.escape(label)))
    if place.get("lat") is not None:
        lines.append(
            _("Location: {lat}, {lon}").format(lat=f"{place['lat']:.5f}", lon=f"{place['lon']:.5f}")
        )
    if place.get("address"):
        lines.append(_("Address: {address}").format(address=html.escape(place["address"])))
    if place.get("grid_id") is None:
        lines.append(_("No grid: the district team will route it."))
    return lines


def _first_missing(data: dict[str, Any], catalogue: CategoryCatalogue) -> State | None:
    """The first step the draft still lacks (a category may have left the catalogue)."""
    try:
        catalogue.get(data.get("category") or "")
    except UnknownCategory:
        return Complaint.category
    if not data.get("description"):
        return Complaint.description
    if not data.get("place"):
        return Complaint.place
    if data.get("consent") is None:
        return Complaint.consent
    return None


def _draft(data: dict[str, Any]) -> TicketDraft:
    place = data["place"]
    return TicketDraft(
        source=TicketSource.RESIDENT,
        category=data["category"],
        description=data["description"],
        photos=[(file_id, unique_id) for file_id, unique_id in data.get("photos", [])],
        latitude=place.get("lat"),
        longitude=place.get("lon"),
        address=place.get("address"),
        grid_id=place.get("grid_id"),
        contact_consent=bool(data.get("consent")),
        routing=place["routing"],
    )


def _limit_text(limit: int) -> str:
    return _(
        "You have filed {limit} complaints today, the most allowed in one day. Please try "
        "again tomorrow; /mytickets shows the ones you filed."
    ).format(limit=limit)


# --- step prompts ---------------------------------------------------------------------


def _keyboard(step: str, data: dict[str, Any], ctx: Ctx) -> InlineKeyboardMarkup:
    """The inline buttons of a step, for its prompt and for its hints."""
    builder = InlineKeyboard()
    if step == Complaint.category.state:
        for category in ctx.catalogue.all:
            mark = "✓ " if category.code == data.get("category") else ""
            builder.button(
                text=f"{mark}{category.emoji} {category.name(ctx.locale)}",
                callback_data=CategoryCb(code=category.code),
            )
        _nav(builder, back=False)
        builder.adjust(*[2] * math.ceil(len(ctx.catalogue.all) / 2), 1)
        return builder.as_markup()
    if step == Complaint.description.state:
        if data.get("description"):
            builder.button(text=_("➡️ Keep this text"), callback_data=ChoiceCb(kind=KEEP, index=0))
    elif step == Complaint.photos.state:
        if data.get("photos"):
            builder.button(text=_("✅ Done"), callback_data=DraftCb(action=DraftAction.PHOTOS_DONE))
            builder.button(
                text=_("🗑 Go on without photos"),
                callback_data=DraftCb(action=DraftAction.SKIP_PHOTOS),
            )
        else:
            builder.button(
                text=_("⏭ Skip photos"), callback_data=DraftCb(action=DraftAction.SKIP_PHOTOS)
            )
    elif step == Complaint.place.state:
        builder.button(
            text=_("🏠 Type my compound or an address"),
            callback_data=DraftCb(action=DraftAction.PLACE_ADDRESS),
        )
        if data.get("place"):
            builder.button(text=_("➡️ Keep this place"), callback_data=ChoiceCb(kind=KEEP, index=0))
    elif step == Complaint.place_choice.state:
        for index, candidate in enumerate(data.get("candidates", [])):
            label = _grid_label(candidate["grid_name"], candidate["grid_code"])
            builder.button(
                text=f"{candidate['compound']} · {label}",
                callback_data=ChoiceCb(kind=ADDR, index=index),
            )
    elif step == Complaint.duplicate.state:
        duplicate = data.get("duplicate") or {}
        if duplicate and not duplicate.get("own"):
            builder.button(
                text=_("🔔 Follow this one"),
                callback_data=TicketCb(action=TicketAction.FOLLOW, ticket_id=duplicate["id"]),
            )
        builder.button(
            text=_("📝 File mine anyway"), callback_data=DraftCb(action=DraftAction.NEW_ANYWAY)
        )
    elif step == Complaint.consent.state:
        consent = data.get("consent")
        builder.button(
            text=("✓ " if consent is True else "") + _("👤 Show my name and phone"),
            callback_data=DraftCb(action=DraftAction.CONSENT_SHARE),
        )
        builder.button(
            text=("✓ " if consent is False else "") + _("🕶 Keep me anonymous"),
            callback_data=DraftCb(action=DraftAction.CONSENT_ANONYMOUS),
        )
    elif step == Complaint.phone.state:
        builder.button(
            text=_("➡️ Go on with my name only"),
            callback_data=DraftCb(action=DraftAction.NO_PHONE),
        )
    elif step == Complaint.summary.state:
        builder.button(text=_("✅ Confirm"), callback_data=DraftCb(action=DraftAction.CONFIRM))
        builder.button(text=_("✏️ Edit"), callback_data=DraftCb(action=DraftAction.EDIT))
    elif step == Complaint.edit.state:
        for index, (_target, label) in enumerate(EDIT_TARGETS):
            builder.button(text=_(label), callback_data=ChoiceCb(kind=EDIT, index=index))
        builder.button(text=_("⬅️ Back"), callback_data=DraftCb(action=DraftAction.BACK))
        builder.adjust(2, 2, 1, 1)
        return builder.as_markup()
    choices = len(builder.buttons)
    _nav(builder)
    builder.adjust(*[1] * choices, 2)
    return builder.as_markup()


async def _prompt_text(step: str, data: dict[str, Any], ctx: Ctx) -> str:
    if step == Complaint.category.state:
        return _("📝 <b>New complaint</b>\n\nWhat is it about? Choose a category:")
    if step == Complaint.description.state:
        text = _(
            "✍️ Describe the problem: what is wrong, where exactly, since when. "
            "Up to {limit} characters."
        ).format(limit=MAX_DESCRIPTION)
        if data.get("description"):
            text += "\n\n" + _(
                "Your text so far:\n<i>{text}</i>\n\nSend a new text to replace it, or keep it."
            ).format(text=escape_clipped(data["description"], SUMMARY_DESCRIPTION_BUDGET))
        return text
    if step == Complaint.photos.state:
        count = len(data.get("photos", []))
        if count == 0:
            return _(
                "📷 Send up to {limit} photos of the problem, one by one or as an album, then "
                "press Done. No photos? Press Skip."
            ).format(limit=MAX_PHOTOS)
        return _photos_ack(count)
    if step == Complaint.place.state:
        if data.get("place"):
            lines = "\n".join(_place_lines(data["place"]))
            return _("Other ways:") + "\n\n" + _("Current place:\n{place}").format(place=lines)
        return _("Other ways:")
    if step == Complaint.place_address.state:
        return _(
            "🏠 Type the name of your compound (小区) or the address, for example 湖滨花园3栋2单元."
        )
    if step == Complaint.place_choice.state:
        return _("🏠 «{text}» could mean several places. Which one is it?").format(
            text=html.escape(data.get("typed", ""))
        )
    if step == Complaint.duplicate.state:
        return await _duplicate_text(data, ctx)
    if step == Complaint.consent.state:
        return _(
            "👤 May the grid team see your name and phone number?\n\n"
            "If you share them, the team can call you directly. If you stay anonymous, the "
            "team sees neither and reaches you only through this bot."
        )
    if step == Complaint.phone.state:
        return _("No phone? The team will then see your name only.")
    if step == Complaint.summary.state:
        return await _summary_text(data, ctx)
    return _("✏️ What would you like to change?")


def _photos_ack(count: int) -> str:
    if count >= MAX_PHOTOS:
        return _("📷 Photos attached: {count} of {limit}, the most allowed. Press Done.").format(
            count=count, limit=MAX_PHOTOS
        )
    return _("📷 Photos attached: {count} of {limit}. Send more, or press Done.").format(
        count=count, limit=MAX_PHOTOS
    )


async def _duplicate_text(data: dict[str, Any], ctx: Ctx) -> str:
    duplicate = data["duplicate"]
    ticket = await ctx.session.get(Ticket, duplicate["id"])
    if ticket is None:  # pragma: no cover - tickets are not deleted
        return _("Please choose: follow that complaint, or file yours anyway.")
    category = ctx.catalogue.shown(ticket.category)
    lines = [
        _("🔎 A similar problem was reported {distance} m from here and is still open:").format(
            distance=round(duplicate["distance"])
        ),
        "",
        _("<b>{number}</b> · {emoji} {category}").format(
            number=ticket.number, emoji=category.emoji, category=category.name(ctx.locale)
        ),
        _("Status: {status}").format(status=status_name(ticket.status)),
        escape_clipped(ticket.description, 300),
        "",
    ]
    if duplicate.get("own"):
        lines.append(_("You reported it yourself, so you already receive its updates."))
    else:
        lines.append(_("Follow it to receive its updates, instead of reporting it again?"))
    return "\n".join(lines)


async def _summary_text(data: dict[str, Any], ctx: Ctx) -> str:
    category = ctx.catalogue.get(data["category"])
    place = data["place"]
    try:
        placement = await tickets.place(ctx.session, category, place.get("grid_id"))
        queue = await queue_name(ctx.session, placement)
    except tickets.GridNotInService:  # Confirm will ask for the place again
        queue = "-"
    if data.get("consent") and ctx.person.phone:
        contact = _("Contact: the team sees your name and phone")
    elif data.get("consent"):
        contact = _("Contact: the team sees your name")
    else:
        contact = _("Contact: anonymous to the team")
    lines = [
        _("📝 <b>Please check your complaint</b>"),
        "",
        _("Category: {emoji} {name}").format(emoji=category.emoji, name=category.name(ctx.locale)),
        _("Description:"),
        escape_clipped(data["description"], SUMMARY_DESCRIPTION_BUDGET),
        _("Photos: {count}").format(count=len(data.get("photos", []))),
        *_place_lines(place),
        _("Goes to: {queue}").format(queue=html.escape(queue)),
        contact,
        "",
        _("Is everything right? Confirm to send it."),
    ]
    return "\n".join(lines)


async def _show(step: State, target: Message, state: FSMContext, ctx: Ctx) -> Message:
    """Enter ``step`` and send its prompt; returns the message carrying its buttons."""
    data = await state.get_data()
    if step == Complaint.summary:
        missing = _first_missing(data, ctx.catalogue)
        if missing is not None:
            step = missing
        else:
            data["editing"] = False
    await state.set_state(step)
    if step == Complaint.place:
        location = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=_("📍 Share location"), request_location=True)]],
            resize_keyboard=True,
            input_field_placeholder=_("Compound or address"),
        )
        await target.answer(
            _(
                "📍 Where is the problem?\n\nPress «📍 Share location» below if you are at "
                "the spot, or send any spot from the map (📎 → Location). You can also type "
                "the name of the compound (小区) or an address."
            ),
            reply_markup=location,
        )
        data["kb"] = True
    elif step == Complaint.phone:
        await target.answer(
            _(
                "📱 So that the team can call you, share your phone number with the button "
                "below, or type it."
            ),
            reply_markup=contact_keyboard(),
        )
        data["kb"] = True
    await state.set_data(data)
    text = await _prompt_text(step.state, data, ctx)
    return await target.answer(text, reply_markup=_keyboard(step.state, data, ctx))


async def _advance(after: State, target: Message, state: FSMContext, ctx: Ctx) -> Message:
    data = await state.get_data()
    step = Complaint.summary if data.get("editing") else NEXT[after.state]
    return await _show(step, target, state, ctx)


async def _drop_reply_keyboard(target: Message, state: FSMContext, text: str) -> None:
    """Remove the "share location" or "share my phone number" keyboard, if it is showing,
    with a message saying ``text``."""
    data = await state.get_data()
    if data.get("kb"):
        await target.answer(text, reply_markup=ReplyKeyboardRemove())
        await state.update_data(kb=False)


# --- start, cancel, back --------------------------------------------------------------


async def _start(
    target: Message, state: FSMContext, session: AsyncSession, actor: Actor, ctx: Ctx
) -> None:
    limit = ctx.settings.daily_ticket_limit
    filed = await tickets.tickets_filed_today(
        session, ctx.person.id, utcnow(), ctx.settings.tz, source=TicketSource.RESIDENT
    )
    if filed >= limit:
        await show_menu(target, session, actor, _limit_text(limit))
        return
    await _drop_reply_keyboard(target, state, _("Starting a new complaint."))
    await state.clear()
    await _show(Complaint.category, target, state, ctx)


@router.message(Command("new"), F.chat.type == "private")
async def new_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _start(message, state, session, actor, Ctx(session, i18n, settings, catalogue, person))


@router.callback_query(MenuCb.filter(F.item == MenuItem.COMPLAIN), F.message.chat.type == "private")
async def new_button(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _start(query.message, state, session, actor, ctx)


def _private_only_text() -> str:
    return _("Complaints are private: send me /new in a private chat.")


@router.message(Command("new"), F.chat.type != "private")
async def new_in_group(message: Message) -> None:
    await message.reply(_private_only_text())


@router.callback_query(MenuCb.filter(F.item == MenuItem.COMPLAIN), F.message.chat.type != "private")
async def new_button_in_group(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A menu button in a group (an old menu, or forged); a complaint is not written in it."""
    refuse_button(callback_answer, _private_only_text())


@router.callback_query(StateFilter(Complaint), DraftCb.filter(F.action == DraftAction.CANCEL))
async def cancel(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    data = await state.get_data()
    await state.clear()
    await _close(query)
    text = _("Cancelled. Nothing was sent.")
    if data.get("kb"):
        await query.message.answer(text, reply_markup=ReplyKeyboardRemove())
        text = _("What would you like to do next?")
    await show_menu(query.message, session, actor, text)


@router.callback_query(StateFilter(*BACK_TO), DraftCb.filter(F.action == DraftAction.BACK))
async def back(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    target = BACK_TO[await state.get_state()]
    await _close(query)
    if target.state not in PLACE_STATE_NAMES:
        await _drop_reply_keyboard(query.message, state, _("⬅️ Back to the previous step."))
    await _show(target, query.message, state, Ctx(session, i18n, settings, catalogue, person))


# --- category and description ---------------------------------------------------------


@router.callback_query(Complaint.category, CategoryCb.filter())
async def category_chosen(
    query: CallbackQuery,
    callback_data: CategoryCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    try:
        category = catalogue.get(callback_data.code)
    except UnknownCategory:
        refuse_button(callback_answer)
        return
    await state.update_data(category=category.code)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.category, query.message, state, ctx)


async def _valid_description(message: Message, text: str) -> bool:
    if not text:
        await message.answer(_(HINTS[Complaint.description.state]))
        return False
    if len(text) > MAX_DESCRIPTION:
        await message.answer(
            _(
                "That is {length} characters; the limit is {limit}. Please shorten it and "
                "send it again."
            ).format(length=len(text), limit=MAX_DESCRIPTION)
        )
        return False
    return True


@router.message(Complaint.description, F.text, ~F.text.startswith("/"))
async def description_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    text = message.text.strip()
    if not await _valid_description(message, text):
        return
    await state.update_data(description=text)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.description, message, state, ctx)


@router.message(Complaint.description, F.photo, F.caption)
async def description_photo(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """A photo with a caption: the caption is the description, the photo the first photo."""
    text = message.caption.strip()
    if not await _valid_description(message, text):
        return
    data = await state.get_data()
    photos = _with_photo(data.get("photos", []), message)
    await state.update_data(description=text, photos=photos)
    album = await albums.album_of(message, state)
    sent = await _show(
        Complaint.photos, message, state, Ctx(session, i18n, settings, catalogue, person)
    )
    album.message_id = sent.message_id  # the album's next photos edit the photo step
    await albums.save(state, album)


@router.callback_query(Complaint.description, ChoiceCb.filter(F.kind == KEEP))
async def keep_description(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if not (await state.get_data()).get("description"):
        refuse_button(callback_answer)
        return
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.description, query.message, state, ctx)


# --- photos ---------------------------------------------------------------------------


def _with_photo(photos: list[list[str]], message: Message) -> list[list[str]]:
    """The list with the message's largest photo size added (once, and at most MAX_PHOTOS)."""
    largest = message.photo[-1]
    if len(photos) < MAX_PHOTOS and all(p[1] != largest.file_unique_id for p in photos):
        photos = [*photos, [largest.file_id, largest.file_unique_id]]
    return photos


def _caption_note(data: dict[str, Any], caption: str) -> str:
    """Add a caption sent with a later photo to the description, if it fits; say which."""
    longer = f"{data['description']}\n{caption}"
    if len(longer) > MAX_DESCRIPTION:
        return _(
            "The photo's caption would make the description longer than {limit} characters, "
            "so it was not kept."
        ).format(limit=MAX_DESCRIPTION)
    data["description"] = longer
    return _("The photo's caption was added to the description.")


@router.message(Complaint.photos, F.photo)
async def add_photo(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """A photo for the draft, up to MAX_PHOTOS; an album gets one reply (``albums``), which
    counts the photos attached and those that did not fit."""
    ctx = Ctx(session, i18n, settings, catalogue, person)
    data = await state.get_data()
    album = await albums.album_of(message, state)
    photos = data.get("photos", [])
    if len(photos) >= MAX_PHOTOS:
        album.counts["refused"] = album.counts.get("refused", 0) + 1
    else:
        data["photos"] = _with_photo(photos, message)
        caption = (message.caption or "").strip()
        if caption:  # said about this photo: the team reads it with the description
            await message.answer(_caption_note(data, caption))
        await state.update_data(photos=data["photos"], description=data["description"])
    text = _photos_ack(len(data["photos"]))
    if refused := album.counts.get("refused", 0):
        text += "\n" + ngettext(
            "A complaint takes at most {limit} photos, so {count} photo was not added.",
            "A complaint takes at most {limit} photos, so {count} photos were not added.",
            refused,
        ).format(limit=MAX_PHOTOS, count=refused)
    await albums.reply(message, state, album, text, _keyboard(Complaint.photos.state, data, ctx))


@router.message(Complaint.photos, F.document.mime_type.startswith("image/"))
async def photo_as_file(message: Message) -> None:
    await message.answer(
        _("Please send the picture as a photo, not as a file, so the team sees it in the chat.")
    )


@router.callback_query(
    Complaint.photos,
    DraftCb.filter(F.action.in_({DraftAction.PHOTOS_DONE, DraftAction.SKIP_PHOTOS})),
)
async def photos_done(
    query: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if callback_data.action is DraftAction.SKIP_PHOTOS:
        await state.update_data(photos=[])
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.photos, query.message, state, ctx)


# --- place ----------------------------------------------------------------------------


def _outside_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("🏛 Send it to the district desk"),
        callback_data=DraftCb(action=DraftAction.DISTRICT_DESK),
    )
    _nav(builder)
    builder.adjust(1, 2)
    return builder.as_markup()


def _grid_place(route_grid: Any, routing: str, **extra: Any) -> dict[str, Any]:
    return {
        "grid_id": route_grid.grid_id,
        "grid_name": route_grid.name,
        "grid_code": route_grid.code,
        "routing": routing,
        "lat": None,
        "lon": None,
        "address": None,
        **extra,
    }


async def _place_found(
    target: Message, state: FSMContext, ctx: Ctx, place: dict[str, Any], ack: str
) -> None:
    """Keep the place, confirm it (removing the location keyboard), then offer to follow a
    nearby open ticket of the same category, else go on."""
    await state.update_data(place=place, pending=None, candidates=[], kb=False)
    await target.answer(ack, reply_markup=ReplyKeyboardRemove())
    if place.get("lat") is not None:
        data = await state.get_data()
        lat, lon = place["lat"], place["lon"]
        nearby = await tickets.nearby_open_tickets(
            ctx.session,
            data["category"],
            lat,
            lon,
            utcnow(),
            radius_m=ctx.settings.duplicate_radius_m,
            max_age=timedelta(days=ctx.settings.duplicate_window_days),
        )
        if nearby:
            nearest = min(
                nearby, key=lambda t: (_distance_m(lat, lon, t.latitude, t.longitude), -t.id)
            )
            await state.update_data(
                duplicate={
                    "id": nearest.id,
                    "distance": _distance_m(lat, lon, nearest.latitude, nearest.longitude),
                    "own": nearest.reporter_id == ctx.person.id,
                }
            )
            await _show(Complaint.duplicate, target, state, ctx)
            return
    await _advance(Complaint.place, target, state, ctx)


def _route_ack(route: PointRoute) -> str:
    label = html.escape(_grid_label(route.grid.name, route.grid.code))
    if route.outcome is RouteOutcome.INSIDE:
        return _("📍 Got it: this spot belongs to {grid}.").format(grid=label)
    return _(
        "📍 Got it. The spot is just outside the grids; the nearest one, {grid}, about "
        "{distance} m away, will take it."
    ).format(grid=label, distance=round(route.distance_m))


@router.message(StateFilter(*PLACE_STATES), F.location)
async def place_location(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """A shared location (also a live one or a venue): the grid whose polygon holds it."""
    lat, lon = message.location.latitude, message.location.longitude
    try:
        route = (await routing.index(session)).route(lat, lon)
    except InvalidCoordinates:
        await message.answer(
            _("That location could not be read. Please share it again with the 📍 button.")
        )
        return
    if route.outcome is RouteOutcome.OUTSIDE:
        await state.update_data(pending={"lat": lat, "lon": lon, "address": None})
        await message.answer(
            _(
                "📍 This spot is outside the grids of Dongxiang District.\n\n"
                "Share another location, type the name of the compound or an address, or "
                "send the complaint to the district desk, which will route it by hand."
            ),
            reply_markup=_outside_keyboard(),
        )
        return
    place = _grid_place(route.grid, route.outcome.value, lat=lat, lon=lon)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _place_found(message, state, ctx, place, _route_ack(route))


@router.message(StateFilter(*PLACE_STATES), F.text, ~F.text.startswith("/"))
async def place_address(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """A typed compound name or address, matched against the district's compounds."""
    ctx = Ctx(session, i18n, settings, catalogue, person)
    text = message.text.strip()
    if len(text) > MAX_ADDRESS:
        await message.answer(
            _(
                "That address is {length} characters long; please keep it to {limit} at most."
            ).format(length=len(text), limit=MAX_ADDRESS)
        )
        return
    found = (await routing.index(session)).route_address(text)
    if found.grid is not None:
        best = found.candidates[0]
        place = _grid_place(found.grid, "address", address=text, compound=best.compound)
        ack = _("🏠 Found {compound}, in {grid}.").format(
            compound=html.escape(best.compound),
            grid=html.escape(_grid_label(found.grid.name, found.grid.code)),
        )
        await _place_found(message, state, ctx, place, ack)
        return
    if found.candidates:
        candidates = [
            {
                "grid_id": c.grid.grid_id,
                "grid_name": c.grid.name,
                "grid_code": c.grid.code,
                "compound": c.compound,
            }
            for c in found.candidates[:MAX_CHOICES]
        ]
        await state.update_data(candidates=candidates, typed=text)
        await _show(Complaint.place_choice, message, state, ctx)
        return
    await state.update_data(pending={"lat": None, "lon": None, "address": text})
    await state.set_state(Complaint.place_address)
    await message.answer(
        _(
            "🏠 I could not find «{text}» among the district's compounds.\n\n"
            "Type it again (the compound's name is enough, e.g. 湖滨花园), share a location, "
            "or send the complaint to the district desk."
        ).format(text=html.escape(text)),
        reply_markup=_outside_keyboard(),
    )


@router.callback_query(Complaint.place, DraftCb.filter(F.action == DraftAction.PLACE_ADDRESS))
async def place_type_address(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _show(Complaint.place_address, query.message, state, ctx)


@router.callback_query(Complaint.place_choice, ChoiceCb.filter(F.kind == ADDR))
async def place_chosen(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    data = await state.get_data()
    candidates = data.get("candidates") or []
    if not 0 <= callback_data.index < len(candidates):
        refuse_button(callback_answer)
        return
    chosen = candidates[callback_data.index]
    place = {
        "grid_id": chosen["grid_id"],
        "grid_name": chosen["grid_name"],
        "grid_code": chosen["grid_code"],
        "routing": "address",
        "lat": None,
        "lon": None,
        "address": data.get("typed"),
        "compound": chosen["compound"],
    }
    ack = _("🏠 Found {compound}, in {grid}.").format(
        compound=html.escape(chosen["compound"]),
        grid=html.escape(_grid_label(chosen["grid_name"], chosen["grid_code"])),
    )
    await _close(query)
    await _place_found(
        query.message, state, Ctx(session, i18n, settings, catalogue, person), place, ack
    )


@router.callback_query(
    StateFilter(*PLACE_STATES), DraftCb.filter(F.action == DraftAction.DISTRICT_DESK)
)
async def place_district_desk(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """No grid: the ticket waits in the district's queue, with the place that found none.
    Once a place was found there is none pending: an older offer's button would replace
    it with nothing."""
    pending = (await state.get_data()).get("pending")
    if not pending:
        refuse_button(callback_answer)
        return
    place = {
        "grid_id": None,
        "routing": "district",
        "lat": pending.get("lat"),
        "lon": pending.get("lon"),
        "address": pending.get("address"),
    }
    await _close(query)
    await _place_found(
        query.message,
        state,
        Ctx(session, i18n, settings, catalogue, person),
        place,
        _("🏛 The district team will take your complaint and pass it on."),
    )


@router.callback_query(Complaint.place, ChoiceCb.filter(F.kind == KEEP))
async def keep_place(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if not (await state.get_data()).get("place"):
        refuse_button(callback_answer)
        return
    await _close(query)
    await _drop_reply_keyboard(query.message, state, _("📍 The place stays as it was."))
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.place, query.message, state, ctx)


# --- nearby duplicate -----------------------------------------------------------------


@router.callback_query(Complaint.duplicate, DraftCb.filter(F.action == DraftAction.NEW_ANYWAY))
async def file_anyway(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await state.update_data(duplicate=None)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.place, query.message, state, ctx)


@router.callback_query(TicketCb.filter(F.action == TicketAction.FOLLOW))
async def follow_ticket(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    actor: Actor,
) -> None:
    """Follow an open ticket instead of filing the same problem; pressed in the duplicate
    hint or anywhere else, so it works in any state."""
    ticket = await session.get(Ticket, callback_data.ticket_id)
    if ticket is None or not ticket.status.is_open:
        refuse_button(callback_answer)
        return
    if ticket.reporter_id == person.id:
        refuse_button(
            callback_answer, _("This is your own complaint: you already receive its updates.")
        )
        return
    newly = await tickets.follow(session, ticket, person.id, utcnow())
    await session.commit()
    step = await state.get_state()
    hinted = (await state.get_data()).get("duplicate") or {}
    # Only the hint about this very ticket ends the draft; an older message's button
    # pressed while writing another complaint leaves that one as it is.
    instead_of_draft = step == Complaint.duplicate.state and hinted.get("id") == ticket.id
    if instead_of_draft:
        await state.clear()
        await _close(query)
    if newly:
        text = _("🔔 You now follow <b>{number}</b> and will receive its updates.")
    else:
        text = _("You already follow <b>{number}</b>.")
    text = text.format(number=ticket.number)
    if instead_of_draft:
        text += "\n" + _("Your draft was not sent.")
    elif step in Complaint.__all_states_names__:
        await query.message.answer(text)  # no menu: the draft goes on where it was
        return
    await show_menu(query.message, session, actor, text)


# --- consent, summary, edit, confirm --------------------------------------------------


@router.callback_query(
    Complaint.consent,
    DraftCb.filter(F.action.in_({DraftAction.CONSENT_SHARE, DraftAction.CONSENT_ANONYMOUS})),
)
async def consent_chosen(
    query: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    share = callback_data.action is DraftAction.CONSENT_SHARE
    await state.update_data(consent=share)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    if share and not person.phone and not (await state.get_data()).get("phone_asked"):
        await state.update_data(phone_asked=True)
        await _show(Complaint.phone, query.message, state, ctx)
        return
    await _advance(Complaint.consent, query.message, state, ctx)


async def _phone_given(message: Message, state: FSMContext, ctx: Ctx, text: str) -> None:
    try:
        phone = normalise_phone(text)
    except InvalidPhone:
        await message.answer(
            _(
                "That is not a mainland China mobile number (11 digits starting with 1, "
                "e.g. 138 0013 8000). Please type it again, or share it with the button."
            ),
            reply_markup=contact_keyboard(),
        )
        return
    await set_phone(ctx.session, ctx.person, phone)
    await ctx.session.commit()
    await _drop_reply_keyboard(message, state, _("📱 {phone} is saved.").format(phone=phone))
    await _advance(Complaint.consent, message, state, ctx)


@router.message(Complaint.phone, F.contact)
async def phone_shared(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if message.contact.user_id != message.from_user.id:
        await message.answer(
            _("Please share your own number with the button below, or type it."),
            reply_markup=contact_keyboard(),
        )
        return
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _phone_given(message, state, ctx, message.contact.phone_number)


@router.message(Complaint.phone, F.text, ~F.text.startswith("/"))
async def phone_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _phone_given(
        message, state, Ctx(session, i18n, settings, catalogue, person), message.text
    )


@router.callback_query(Complaint.phone, DraftCb.filter(F.action == DraftAction.NO_PHONE))
async def no_phone(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _close(query)
    await _drop_reply_keyboard(query.message, state, _("👤 The team will see your name only."))
    await _advance(
        Complaint.consent, query.message, state, Ctx(session, i18n, settings, catalogue, person)
    )


@router.callback_query(Complaint.summary, DraftCb.filter(F.action == DraftAction.EDIT))
async def edit(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _show(Complaint.edit, query.message, state, ctx)


@router.callback_query(Complaint.edit, ChoiceCb.filter(F.kind == EDIT))
async def edit_chosen(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if not 0 <= callback_data.index < len(EDIT_TARGETS):
        refuse_button(callback_answer)
        return
    await state.update_data(editing=True)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _show(EDIT_TARGETS[callback_data.index][0], query.message, state, ctx)


@router.callback_query(Complaint.summary, DraftCb.filter(F.action == DraftAction.CONFIRM))
async def confirm(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """File the ticket, stage the team's push, commit, and only then say so."""
    ctx = Ctx(session, i18n, settings, catalogue, person)
    data = await state.get_data()
    missing = _first_missing(data, catalogue)
    if missing is not None:
        await _show(missing, query.message, state, ctx)
        return
    await _close(query)
    draft = _draft(data)
    try:
        ticket = await tickets.create_ticket(
            session,
            draft,
            person,
            catalogue,
            utcnow(),
            number_prefix=settings.ticket_prefix,
            daily_limit=settings.daily_ticket_limit,
            tz=settings.tz,
        )
    except tickets.DailyLimitReached as error:
        await state.clear()
        await show_menu(query.message, session, actor, _limit_text(error.limit))
        return
    except tickets.GridNotInService:  # retired by a district import since it was chosen
        await state.update_data(place=None)
        await query.message.answer(
            _("The grid of that place is no longer in service. Please choose the place again.")
        )
        await _show(Complaint.place, query.message, state, ctx)
        return
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        headline=lambda: _("🆕 New complaint"),
        with_media=True,
        report_photos=[file_id for file_id, _unique_id in draft.photos],
    )
    await state.clear()  # commits with the ticket: it cannot be filed twice
    await session.commit()
    text = _(
        "✅ Your complaint is filed: <b>{number}</b>\n\n"
        "It went to {queue}. The team will accept it by {time}, and you will hear from us "
        "at every step."
    ).format(
        number=ticket.number,
        queue=html.escape(await queue_name(session, ticket)),
        time=local_time(ticket.respond_by, settings),
    )
    await show_menu(query.message, session, actor, text)


# --- stale buttons and wrong input, last ----------------------------------------------


@router.callback_query(
    StateFilter(None, Complaint),
    or_f(
        DraftCb.filter(),
        CategoryCb.filter(),
        ChoiceCb.filter(F.kind.in_({ADDR, KEEP, EDIT})),
    ),
)
async def stale_draft_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A button of this conversation that no longer applies (a second press on Confirm,
    an old step's button, forged data): refused, nothing changes. Other conversations'
    states are left to their own modules."""
    refuse_button(callback_answer)


@router.message(StateFilter(Complaint))
async def wrong_input(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """Anything a step does not expect (a sticker, a photo where a place is expected, a
    command): the step's hint, with its buttons again; nothing changes. An album (one
    update per item) is hinted once."""
    if await albums.answered(message, state):
        return
    step = await state.get_state()
    data = await state.get_data()
    text = _(HINTS[step])
    if message.text and message.text.startswith("/"):
        text = _("You are writing a complaint: finish it, or send /cancel to stop.") + "\n\n" + text
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await message.answer(text, reply_markup=_keyboard(step, data, ctx))
