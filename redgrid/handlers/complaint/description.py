"""What the problem is: the category and description steps (a photo with a caption
gives both the description and the first photo)."""

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import CategoryCb, ChoiceCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import KEEP, Ctx, _close, _with_photo
from redgrid.handlers.complaint.states import HINTS, Complaint
from redgrid.handlers.complaint.steps import _advance, _show
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue, UnknownCategory
from redgrid.services.tickets import MAX_DESCRIPTION


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
