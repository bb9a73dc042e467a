"""What several informant flows use: the informant's reply keyboard and its labels, names
in the reader's language, and the texts that say who may not report."""

from contextlib import suppress

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from redgrid.handlers.callbacks import MenuCb, MenuItem
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.languages import N_, SUPPORTED_LOCALES
from redgrid.models import Grade, InformantStatus, WorkType

PRIVATE = F.chat.type == "private"

# The informant's reply keyboard; a press sends the label as text, in either language.
REPORT_LABEL = N_("🛵 Report a problem")
MINE_LABEL = N_("📋 My reports")
TOP_LABEL = N_("🏆 Leaderboard")


# Names, in the reader's language ----------------------------------------------------------


def work_name(work: WorkType) -> str:
    return {
        WorkType.FOOD_DELIVERY: _("food delivery rider"),
        WorkType.COURIER: _("courier"),
        WorkType.RIDE_HAILING: _("ride-hailing driver"),
        WorkType.OTHER: _("other work"),
    }[work]


def grade_name(grade: Grade) -> str:
    return {
        Grade.VALID: _("valid"),
        Grade.DUPLICATE: _("duplicate"),
        Grade.INVALID: _("invalid"),
    }[grade]


def grade_button(grade: Grade) -> str:
    return {
        Grade.VALID: _("👍 Valid"),
        Grade.DUPLICATE: _("🔁 Duplicate"),
        Grade.INVALID: _("🚫 Invalid"),
    }[grade]


def informant_status_name(status: InformantStatus) -> str:
    return {
        InformantStatus.ACTIVE: _("active"),
        InformantStatus.PAUSED: _("paused"),
        InformantStatus.REMOVED: _("removed"),
    }[status]


def label(*msgids: str):
    """A filter: the message is the label of one of these reply-keyboard buttons, in any
    language."""

    async def matches(message: Message, i18n: I18n) -> bool:
        text = message.text or ""
        return any(
            text == i18n.gettext(msgid, locale=locale)
            for msgid in msgids
            for locale in SUPPORTED_LOCALES
        )

    return matches


def informant_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(REPORT_LABEL))],
            [KeyboardButton(text=_(MINE_LABEL)), KeyboardButton(text=_(TOP_LABEL))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def complaint_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("📝 Raise a complaint"), callback_data=MenuCb(item=MenuItem.COMPLAIN))
    return builder.as_markup()


async def _close(query: CallbackQuery) -> None:
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


# Who may report ---------------------------------------------------------------------------


def not_informant_text() -> str:
    return _(
        "Reports from the road are for red informants (红色信息员): delivery riders, couriers "
        "and drivers recruited by the district. To join, ask the district admin or your "
        "community for an invitation link.\n\n"
        "Anyone can raise a complaint as a resident:"
    )


def paused_text() -> str:
    return _(
        "Your red informant role is paused, so reports cannot be sent for now. The district "
        "admin can resume it.\n\nA problem can still be raised as a resident complaint:"
    )


def limit_text(limit: int) -> str:
    return _(
        "You have sent {limit} reports today, the most allowed in one day. Thank you! "
        "Please report again tomorrow."
    ).format(limit=limit)
