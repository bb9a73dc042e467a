"""The steps of a report, as several handlers ask them again: the cancel and location
keyboards, the location prompt, and the category question."""

from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.callbacks import ReportAction, ReportCb
from redgrid.handlers.informant.states import ReportForm
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Person
from redgrid.services import informants
from redgrid.services.categories import CategoryCatalogue


def cancel_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("✖️ Cancel"), callback_data=ReportCb(action=ReportAction.CANCEL))
    return builder.as_markup()


def location_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📍 Send my location"), request_location=True)]],
        resize_keyboard=True,
    )


def location_prompt() -> str:
    return _(
        "📍 Where is it? Press «📍 Send my location» below (a live location works too), "
        "or send a spot from the map (📎 → Location)."
    )


async def category_keyboard(
    session: AsyncSession, person: Person, catalogue: CategoryCatalogue, locale: str
) -> InlineKeyboardMarkup:
    recent = await informants.recent_categories(session, person.id)
    builder = InlineKeyboard()
    codes = informants.ordered_categories(catalogue, recent)
    for code in codes:
        category = catalogue.get(code)
        builder.button(
            text=f"{category.emoji} {category.name(locale)}",
            callback_data=ReportCb(action=ReportAction.CATEGORY, code=code),
        )
    builder.button(text=_("⬅️ Back"), callback_data=ReportCb(action=ReportAction.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=ReportCb(action=ReportAction.CANCEL))
    builder.adjust(*[2] * ((len(codes) + 1) // 2), 2)
    return builder.as_markup()


async def ask_category(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    await state.set_state(ReportForm.category)
    await message.answer(
        _("🏷 What is it? Choose a category:"),
        reply_markup=await category_keyboard(session, person, catalogue, i18n.current_locale),
    )
