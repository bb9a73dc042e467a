"""The lean inline keyboard lays buttons out exactly as aiogram's builder does."""

import pytest
from aiogram.utils.keyboard import InlineKeyboardBuilder

from redgrid.handlers.callbacks import DraftAction, DraftCb
from redgrid.handlers.keyboards import InlineKeyboard


def both(count: int, *sizes: int, adjust: bool = True):
    ours, theirs = InlineKeyboard(), InlineKeyboardBuilder()
    for index in range(count):
        for keyboard in (ours, theirs):
            keyboard.button(text=f"b{index}", callback_data=f"x:{index}")
    if adjust:
        ours.adjust(*sizes)
        theirs.adjust(*sizes)
    return ours.as_markup(), theirs.as_markup()


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, (2,)), (1, (2,)), (5, (2,)), (7, (1, 2)), (6, (2, 2, 1, 1)), (3, (1, 1, 1, 2)), (20, ())],
)
def test_adjust_matches_the_builder(count, sizes):
    ours, theirs = both(count, *sizes)
    assert ours == theirs


def test_without_adjust_buttons_fill_rows_of_eight():
    ours, theirs = both(19, adjust=False)
    assert ours == theirs
    assert [len(row) for row in ours.inline_keyboard] == [8, 8, 3]


def test_callback_data_objects_are_packed():
    keyboard = InlineKeyboard().button(text="x", callback_data=DraftCb(action=DraftAction.BACK))
    assert keyboard.buttons[0].callback_data == DraftCb(action=DraftAction.BACK).pack()


def test_rows_wider_than_telegram_allows_are_refused():
    with pytest.raises(ValueError, match="row sizes"):
        InlineKeyboard().adjust(9)
