"""The photos step: up to MAX_PHOTOS photos, one by one or as an album, then Done or
Skip."""

from typing import Any

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import DraftAction, DraftCb
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import Ctx, _close, _with_photo
from redgrid.handlers.complaint.states import Complaint
from redgrid.handlers.complaint.steps import _advance, _keyboard, _photos_ack
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.tickets import MAX_DESCRIPTION, MAX_PHOTOS


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
