"""The conversation states of the team's typing steps."""

from aiogram.fsm.state import State, StatesGroup


class TeamForm(StatesGroup):
    transfer_target = State()
    transfer_code = State()
    transfer_note = State()
    invalid_reason = State()
    resolve_note = State()
    resolve_photo = State()
    extend_days = State()
    extend_reason = State()
    question = State()
    duplicate_of = State()
    duplicate_confirm = State()
