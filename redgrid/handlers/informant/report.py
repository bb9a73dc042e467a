"""Starting a report from the road: who may report, the photos (an album, a picture sent
as a file with its EXIF location) and the location that routes it."""

import html

import aiohttp
from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.informant import router
from redgrid.handlers.informant.join import start_profile
from redgrid.handlers.informant.report_prompts import (
    ask_category,
    cancel_keyboard,
    location_keyboard,
    location_prompt,
)
from redgrid.handlers.informant.shared import (
    PRIVATE,
    REPORT_LABEL,
    complaint_keyboard,
    informant_keyboard,
    label,
    limit_text,
    not_informant_text,
    paused_text,
)
from redgrid.handlers.informant.states import ReportForm
from redgrid.models import Person, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import informants, tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.district import RoutingCache
from redgrid.services.informants import OutsideDistrict, Standing
from redgrid.services.routing import InvalidCoordinates, PointRoute, RouteOutcome
from redgrid.services.tickets import MAX_DESCRIPTION, MAX_PHOTOS

# Telegram takes photos up to 10 MB: a bigger file could not be sent back as a photo.
MAX_DOWNLOAD = 10 * 1024 * 1024


async def holds_informant_role(message: Message, session: AsyncSession, person: Person) -> bool:
    """A filter: the sender holds the informant role (active, paused, or still without
    a profile): their photo starts a report, anyone else's goes on to the fallback."""
    return await informants.informant_membership(session, person.id) is not None


async def may_report(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> bool:
    """Whether the person may start a report now; if not, they were told why, a draft they
    had is dropped (it could not be sent), and someone who still owes their profile is
    asked for it. An album is told once: its later photos get no reply of their own."""
    found = await informants.standing(session, person.id)
    if found is Standing.NEEDS_PROFILE:
        await start_profile(
            message,
            state,
            session,
            person,
            _("Before your first report, please tell us a little about yourself."),
        )
        await albums.mark_answered(state, await albums.album_of(message, state))
        return False
    limit = settings.informant_daily_limit
    if found is Standing.NONE:
        text, markup = not_informant_text(), complaint_keyboard()
    elif found is Standing.PAUSED:
        text, markup = paused_text(), complaint_keyboard()
    elif (
        await tickets.tickets_filed_today(
            session, person.id, utcnow(), settings.tz, source=TicketSource.INFORMANT
        )
        >= limit
    ):
        text, markup = limit_text(limit), informant_keyboard()
    else:
        return True
    if await albums.answered(message, state):
        return False
    album = await albums.album_of(message, state)
    await state.clear()
    await albums.mark_answered(state, album)
    await message.answer(text, reply_markup=markup)
    return False


# A report: photos ------------------------------------------------------------------------


@router.message(Command("report"), PRIVATE, StateFilter(None, ReportForm))
@router.message(StateFilter(None, ReportForm), PRIVATE, F.text, label(REPORT_LABEL))
async def report_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> None:
    if not await may_report(message, state, session, person, settings):
        return
    await state.clear()
    await state.set_state(ReportForm.photos)
    await message.answer(
        _("📷 Send a photo of the problem (several as an album if you like)."),
        reply_markup=cancel_keyboard(),
    )


def _caption_note(message: Message) -> str | None:
    caption = (message.caption or "").strip()
    return caption[:MAX_DESCRIPTION] if caption else None


async def _begin(message: Message, state: FSMContext, photo: tuple[str, str]) -> None:
    """The first photo: the draft starts, and the location is asked for."""
    await state.set_state(ReportForm.location)
    await state.set_data(
        {
            "photos": [list(photo)],
            "album": message.media_group_id,
            "note": _caption_note(message),
        }
    )


@router.message(StateFilter(None), PRIVATE, F.photo, holds_informant_role)
@router.message(ReportForm.photos, F.photo)
async def first_photo(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> None:
    if await state.get_state() is None and not await may_report(
        message, state, session, person, settings
    ):
        return
    largest = message.photo[-1]
    await _begin(message, state, (largest.file_id, largest.file_unique_id))
    await message.answer(
        _("📷 Got it.") + " " + location_prompt(), reply_markup=location_keyboard()
    )


async def _refused_as_too_many(message: Message, state: FSMContext) -> bool:
    """Whether the draft has all the photos it may take, so this one is refused; an album
    gets one reply (``albums``), counting its photos that were not added."""
    if len((await state.get_data()).get("photos", [])) < MAX_PHOTOS:
        return False
    album = await albums.album_of(message, state)
    refused = album.counts["refused"] = album.counts.get("refused", 0) + 1
    await state.update_data(album=message.media_group_id)
    text = ngettext(
        "A report takes at most {limit} photos, so {count} photo was not added.",
        "A report takes at most {limit} photos, so {count} photos were not added.",
        refused,
    ).format(limit=MAX_PHOTOS, count=refused)
    await albums.reply(message, state, album, text)
    return True


async def _add_photo(message: Message, state: FSMContext, photo: tuple[str, str]) -> None:
    """Another photo for the draft: an album's are added silently, others acknowledged."""
    if await _refused_as_too_many(message, state):
        return
    data = await state.get_data()
    photos = data.get("photos", [])
    group = message.media_group_id
    same_album = group is not None and data.get("album") == group
    if all(kept[1] != photo[1] for kept in photos):
        photos = [*photos, list(photo)]
    update = {"photos": photos, "album": group}
    if not data.get("note") and _caption_note(message):
        update["note"] = _caption_note(message)
    await state.update_data(**update)
    if not same_album:
        await message.answer(
            _("📷 Photo added ({count} of {limit}).").format(count=len(photos), limit=MAX_PHOTOS)
        )


@router.message(StateFilter(ReportForm.location, ReportForm.category, ReportForm.note), F.photo)
async def more_photos(message: Message, state: FSMContext) -> None:
    largest = message.photo[-1]
    await _add_photo(message, state, (largest.file_id, largest.file_unique_id))


async def _picture_from_file(message: Message, bot: Bot) -> tuple[tuple[str, str], bytes] | None:
    """A picture sent as a file: its bytes (for the EXIF) and the id of the same picture
    as a photo, which the bot gets by sending it back; None when that failed (said)."""
    document = message.document
    if document.file_size is not None and document.file_size > MAX_DOWNLOAD:
        await message.answer(
            _("That file is too large. Please send the picture as a photo instead.")
        )
        return None
    try:
        data = (await bot.download(document)).read()
        sent = await message.answer_photo(
            BufferedInputFile(data, filename=document.file_name or "report.jpg"),
            caption=_("📷 Your picture, added to the report."),
        )
    except (TelegramAPIError, aiohttp.ClientError, TimeoutError):
        await message.answer(
            _("That file could not be read. Please send the picture as a photo instead.")
        )
        return None
    largest = sent.photo[-1]
    return (largest.file_id, largest.file_unique_id), data


@router.message(
    StateFilter(None), PRIVATE, F.document.mime_type.startswith("image/"), holds_informant_role
)
@router.message(StateFilter(ReportForm), F.document.mime_type.startswith("image/"))
async def photo_as_file(
    message: Message,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    settings: Settings,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """A picture sent as a file; its EXIF location, if any, spares the location step."""
    current = await state.get_state()
    if current is None and not await may_report(message, state, session, person, settings):
        return
    if current not in (None, ReportForm.photos.state) and await _refused_as_too_many(
        message, state
    ):
        return  # neither downloaded nor sent back, and its EXIF location is not used
    picture = await _picture_from_file(message, bot)
    if picture is None:
        return
    photo, data = picture
    if current in (None, ReportForm.photos.state):
        await _begin(message, state, photo)
    else:
        await _add_photo(message, state, photo)
    if current in (ReportForm.category.state, ReportForm.note.state):
        return
    gps = informants.exif_gps(data)
    if gps is None:
        await message.answer(
            _("The picture carries no location.") + " " + location_prompt(),
            reply_markup=location_keyboard(),
        )
        return
    await _located(message, state, session, routing, person, catalogue, i18n, *gps)


# A report: the location ------------------------------------------------------------------


def _route_ack(route: PointRoute) -> str:
    grid = html.escape(_("grid {name} ({code})").format(name=route.grid.name, code=route.grid.code))
    if route.outcome is RouteOutcome.INSIDE:
        return _("📍 Got it: this spot belongs to {grid}.").format(grid=grid)
    return _(
        "📍 Got it. The spot is just outside the grids; the nearest one, {grid}, about "
        "{distance} m away, will take it."
    ).format(grid=grid, distance=round(route.distance_m))


async def _located(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
    latitude: float,
    longitude: float,
) -> None:
    """A location for the draft: refused outside the district, else on to the category."""
    try:
        route = informants.locate(await routing.index(session), latitude, longitude)
    except InvalidCoordinates:
        await message.answer(
            _("That location could not be read. Please share it again with the 📍 button."),
            reply_markup=location_keyboard(),
        )
        return
    except OutsideDistrict:
        await message.answer(
            _(
                "📍 This spot is outside Dongxiang District. Reports are for problems inside "
                "the district, so nothing was filed.\n\nShare another location, or cancel."
            ),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.update_data(lat=latitude, lon=longitude)
    await message.answer(_route_ack(route), reply_markup=ReplyKeyboardRemove())
    await ask_category(message, state, session, person, catalogue, i18n)


@router.message(ReportForm.location, F.location)
async def location_shared(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """A shared location: a live one, a spot from the map or a venue count alike."""
    location = message.location
    await _located(
        message,
        state,
        session,
        routing,
        person,
        catalogue,
        i18n,
        location.latitude,
        location.longitude,
    )
