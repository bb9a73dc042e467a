"""The place step: a shared location routed to its grid, or a typed compound or address
matched against the district's compounds, or the district desk; a place with
coordinates then looks for a nearby open ticket of the same category."""

import html
import math
from datetime import timedelta
from typing import Any

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb, DraftAction, DraftCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import ADDR, KEEP, Ctx, _close, _grid_label, _nav
from redgrid.handlers.complaint.states import PLACE_STATES, Complaint
from redgrid.handlers.complaint.steps import _advance, _drop_reply_keyboard, _show
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Person
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.district import RoutingCache
from redgrid.services.geo import metres_per_degree
from redgrid.services.routing import InvalidCoordinates, PointRoute, RouteOutcome
from redgrid.services.tickets import MAX_ADDRESS

MAX_CHOICES = 8


def _distance_m(lat: float, lon: float, other_lat: float, other_lon: float) -> float:
    per_lon, per_lat = metres_per_degree(lat)
    return math.hypot((other_lon - lon) * per_lon, (other_lat - lat) * per_lat)


def _outside_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("🏛 Send it to the district desk"),
        callback_data=DraftCb(action=DraftAction.DISTRICT_DESK),
    )
    _nav(builder)
    builder.adjust(1, 2)
    return builder.as_markup()


def _recorded_address(typed: str, compound: str) -> str:
    """The address the team reads: the resident's words, led by the compound found when
    they do not name it (a nickname, or a near miss like 湖滨花苑), so that nobody goes
    looking for a place spelled as typed."""
    if compound in typed:
        return typed
    return f"{compound}（{typed[: MAX_ADDRESS - len(compound) - 2]}）"


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
        place = _grid_place(
            found.grid,
            "address",
            address=_recorded_address(text, best.compound),
            compound=best.compound,
        )
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
        "address": _recorded_address(data.get("typed", ""), chosen["compound"]),
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
