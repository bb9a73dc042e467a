"""Showing a step of the complaint: its prompt and buttons, entering it, and moving on
to the next one (or back to the summary while editing)."""

import html
import math
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _

from redgrid.bot.pushes import escape_clipped, queue_name, status_name
from redgrid.handlers.callbacks import (
    CategoryCb,
    ChoiceCb,
    DraftAction,
    DraftCb,
    FollowCb,
)
from redgrid.handlers.complaint.shared import (
    ADDR,
    EDIT,
    KEEP,
    Ctx,
    _first_missing,
    _grid_label,
    _nav,
)
from redgrid.handlers.complaint.states import EDIT_TARGETS, NEXT, Complaint
from redgrid.handlers.informant import contact_keyboard
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import by_queue
from redgrid.models import Ticket
from redgrid.services import tickets
from redgrid.services.tickets import MAX_DESCRIPTION, MAX_PHOTOS, Placement

# The summary must fit Telegram's 4096 characters after escaping (& becomes &amp;).
SUMMARY_DESCRIPTION_BUDGET = 3000


def _place_lines(place: dict[str, Any], *, grid_line: bool = True) -> list[str]:
    """What the draft's place says; ``grid_line=False`` leaves out the spot's grid where the
    next line names the same grid as where the ticket goes."""
    lines = []
    if place.get("grid_id") is not None and grid_line:
        label = _grid_label(place["grid_name"], place["grid_code"])
        lines.append(_("Belongs to: {grid}").format(grid=html.escape(label)))
    if place.get("lat") is not None:
        lines.append(
            _("Location: {lat}, {lon}").format(lat=f"{place['lat']:.5f}", lon=f"{place['lon']:.5f}")
        )
    if place.get("address"):
        lines.append(_("Address: {address}").format(address=html.escape(place["address"])))
    if place.get("grid_id") is None:
        lines.append(_("No grid: the district team will route it."))
    return lines


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
            secret = ctx.settings.bot_token.get_secret_value()
            builder.button(
                text=_("🔔 Follow this one"),
                callback_data=FollowCb.offer(secret, ctx.person.telegram_id, duplicate["id"]),
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
        # A grid retired since it was chosen: asked as it was chosen (Confirm asks again).
        placement = await _placement(data, ctx) or Placement(grid_id=data["place"].get("grid_id"))
        return by_queue(
            placement,
            grid=_(
                "👤 May the grid team see your name and phone number?\n\n"
                "If you share them, the team can call you directly. If you stay anonymous, the "
                "team sees neither and reaches you only through this bot."
            ),
            community=_(
                "👤 May the community officers see your name and phone number?\n\n"
                "If you share them, they can call you directly. If you stay anonymous, they "
                "see neither and reach you only through this bot."
            ),
            district=_(
                "👤 May the district office see your name and phone number?\n\n"
                "If you share them, it can call you directly. If you stay anonymous, it sees "
                "neither and reaches you only through this bot."
            ),
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


async def _placement(data: dict[str, Any], ctx: Ctx) -> Placement | None:
    """The queue the draft would go to, by its category and place; None when the place's
    grid was retired since it was chosen (Confirm will ask for the place again)."""
    category = ctx.catalogue.get(data["category"])
    try:
        return await tickets.place(ctx.session, category, data["place"].get("grid_id"))
    except tickets.GridNotInService:
        return None


async def _summary_text(data: dict[str, Any], ctx: Ctx) -> str:
    category = ctx.catalogue.get(data["category"])
    place = data["place"]
    placement = await _placement(data, ctx)
    queue = "-" if placement is None else await queue_name(ctx.session, placement)
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
        *_place_lines(
            place, grid_line=placement is None or placement.grid_id != place.get("grid_id")
        ),
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
