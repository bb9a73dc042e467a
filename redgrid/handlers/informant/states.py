"""The conversations of the informant package: joining (the profile) and a report."""

from aiogram.fsm.state import State, StatesGroup


class JoinForm(StatesGroup):
    name = State()
    phone = State()
    work = State()
    home = State()


class ReportForm(StatesGroup):
    photos = State()  # /report: waiting for the first photo
    location = State()
    category = State()
    note = State()
