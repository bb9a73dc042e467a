"""Routers built from blueprints check every filter in the event loop, never in a thread."""

from datetime import UTC, datetime

import pytest
from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message

from redgrid.handlers import get_routers
from redgrid.handlers.blueprint import Blueprint, run_inline


class Form(StatesGroup):
    name = State()


def message(text: str) -> Message:
    return Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=5, type="private"), text=text)


def test_every_filter_of_every_handler_is_a_coroutine():
    """aiogram runs a synchronous filter in a worker thread: one thread hop per check."""
    threaded = [
        (router.name, handler.callback.__name__, event_filter.callback)
        for router in get_routers()
        for observer in router.observers.values()
        for handler in observer.handlers
        for event_filter in handler.filters or []
        if not event_filter.awaitable
    ]
    assert threaded == []


async def test_states_and_magic_filters_become_coroutines_that_check_the_same():
    state, text, not_a_command, named = (
        run_inline(f) for f in (Form.name, F.text, ~F.text.startswith("/"), F.text.as_("said"))
    )
    assert await state(message("x"), raw_state="Form:name")
    assert not await state(message("x"), raw_state=None)
    assert await text(message("hi"))
    assert await not_a_command(message("hi")) is True
    assert await not_a_command(message("/new")) is False
    assert await named(message("hi")) == {"said": "hi"}


def test_a_plain_function_filter_is_refused():
    def sync_check(message: Message) -> bool:
        return True

    with pytest.raises(TypeError, match="coroutine"):
        run_inline(sync_check)


def test_coroutine_filters_are_left_as_they_are():
    async def check(message: Message) -> bool:
        return True

    assert run_inline(check) is check
    blueprint = Blueprint("test")
    blueprint.message(Form.name, F.text, check)(lambda message: None)
    (handler,) = blueprint.build().message.handlers
    assert [f.awaitable for f in handler.filters] == [True, True, True]
