"""Routers built from blueprints check every filter in the event loop, never in a thread."""

from datetime import UTC, datetime

from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message

from redgrid.handlers import get_routers
from redgrid.handlers.blueprint import Blueprint, InlineFilter, run_inline


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


async def test_an_inline_filter_gets_the_event_and_the_data_it_names():
    def long_in_chat(message: Message, limit: int) -> bool:
        return len(message.text) > limit

    assert await InlineFilter(long_in_chat)(message("hello"), limit=3, session=object())
    assert not await InlineFilter(long_in_chat)(message("hi"), limit=3)
    assert await InlineFilter(F.text.startswith("/"))(message("/new"), raw_state=None)
    assert await InlineFilter(~F.text.startswith("/"))(message("text")) is True
    assert await InlineFilter(F.text.as_("said"))(message("hi")) == {"said": "hi"}
    assert await InlineFilter(Form.name)(message("x"), raw_state="Form:name")
    assert not await InlineFilter(Form.name)(message("x"), raw_state=None)


def test_coroutine_filters_are_left_as_they_are():
    async def check(message: Message) -> bool:
        return True

    assert run_inline(check) is check
    blueprint = Blueprint("test")
    blueprint.message(Form.name, F.text, check)(lambda message: None)
    (handler,) = blueprint.build().message.handlers
    assert [f.awaitable for f in handler.filters] == [True, True, True]
