"""Helpers several steps of the complaint use."""

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import DraftAction, DraftCb
from redgrid.handlers.complaint.states import Complaint
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue, UnknownCategory
from redgrid.services.tickets import MAX_PHOTOS

# ChoiceCb kinds of the complaint: an address candidate, "keep the current value", an edit target.
ADDR, KEEP, EDIT = "addr", "keep", "edit"


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


def _grid_label(name: str, code: str) -> str:
    return _("grid {name} ({code})").format(name=name, code=code)


async def _close(query: CallbackQuery) -> None:
    """Take the buttons off the message whose button was pressed; old messages may refuse."""
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


def _nav(builder: InlineKeyboard, *, back: bool = True) -> None:
    if back:
        builder.button(text=_("⬅️ Back"), callback_data=DraftCb(action=DraftAction.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=DraftCb(action=DraftAction.CANCEL))


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


def _limit_text(limit: int) -> str:
    return _(
        "You have filed {limit} complaints today, the most allowed in one day. Please try "
        "again tomorrow; /mytickets shows the ones you filed."
    ).format(limit=limit)


def _with_photo(photos: list[list[str]], message: Message) -> list[list[str]]:
    """The list with the message's largest photo size added (once, and at most MAX_PHOTOS)."""
    largest = message.photo[-1]
    if len(photos) < MAX_PHOTOS and all(p[1] != largest.file_unique_id for p in photos):
        photos = [*photos, [largest.file_id, largest.file_unique_id]]
    return photos
