"""Inline keyboards built without aiogram's ``InlineKeyboardBuilder``.

The builder deep-copies its whole markup for every button added and again on export, and
most updates answer with a keyboard: this one keeps a plain list of buttons and lays them
out once. Same calls (``button``, ``adjust``, ``as_markup``), same layout rules.
"""

from functools import lru_cache
from itertools import chain, repeat

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

# Telegram shows at most this many buttons side by side; aiogram's builder uses it too.
MAX_ROW_WIDTH = 8


@lru_cache(maxsize=4096)
def _button(text: str, callback_data: str) -> InlineKeyboardButton:
    """Most buttons recur (each step's, in each language), and aiogram's types are frozen,
    so one object can serve every keyboard that shows the button."""
    return InlineKeyboardButton(text=text, callback_data=callback_data)


class InlineKeyboard:
    """Buttons in order; without ``adjust`` they fill rows of ``MAX_ROW_WIDTH``."""

    def __init__(self) -> None:
        self.buttons: list[InlineKeyboardButton] = []
        self._sizes: tuple[int, ...] = (MAX_ROW_WIDTH,)

    def button(self, *, text: str, callback_data: CallbackData | str) -> "InlineKeyboard":
        if isinstance(callback_data, CallbackData):
            callback_data = callback_data.pack()
        self.buttons.append(_button(text, callback_data))
        return self

    def adjust(self, *sizes: int) -> "InlineKeyboard":
        """Rows of these sizes, in order; the last size repeats for the buttons left (no
        sizes: full rows)."""
        if any(not 1 <= size <= MAX_ROW_WIDTH for size in sizes):
            raise ValueError(f"row sizes must be 1..{MAX_ROW_WIDTH}, not {sizes}")
        self._sizes = sizes or (MAX_ROW_WIDTH,)
        return self

    def rows(self) -> list[list[InlineKeyboardButton]]:
        sizes = chain(self._sizes, repeat(self._sizes[-1]))
        rows, start = [], 0
        while start < len(self.buttons):
            size = next(sizes)
            rows.append(self.buttons[start : start + size])
            start += size
        return rows

    def as_markup(self) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=self.rows())
