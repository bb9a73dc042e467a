"""The conversation states of the reporter's (and a follower's) typing steps."""

from aiogram.fsm.state import State, StatesGroup


class ReporterForm(StatesGroup):
    comment = State()
    photo = State()
    answer = State()
    rework_reason = State()
