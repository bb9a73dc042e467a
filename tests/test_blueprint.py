"""Routers built from blueprints check every filter in the event loop, never in a thread."""

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.filters.logic import _OrFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Message, User

from redgrid.handlers import (
    common,
    complaint,
    get_routers,
    informant,
    invites,
    my_tickets,
    privacy,
    team,
)
from redgrid.handlers.blueprint import Blueprint, CallbackPrefix, CommandOrState, run_inline
from redgrid.handlers.callbacks import DraftAction, DraftCb


def press(data: str | None) -> CallbackQuery:
    user = User(id=5, is_bot=False, first_name="Li")
    return CallbackQuery(id="1", from_user=user, chat_instance="c", data=data)


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


def allowed_states(event_filter: Any) -> set[str | None] | None:
    """The states a filter lets through, or None if it does not look at the state."""
    if isinstance(event_filter, State):
        return {event_filter.state}
    if isinstance(event_filter, StateFilter):
        states: set[str | None] = set()
        for state in event_filter.states:
            if isinstance(state, State):
                states.add(state.state)
            elif isinstance(state, type) and issubclass(state, StatesGroup):
                states |= {s.state for s in state.__all_states__}
            else:
                states.add(state)
        return states
    return None


GATED = (common, complaint, informant, invites, my_tickets, privacy, team)


def hidden_behind_gates(observer: str, passes_of, limits_of, exempt=lambda filters: False):
    """The handlers of ``observer`` whose filters do not keep them to what their router's
    gate lets through (``limits_of`` a filter: what it lets through, or None)."""
    hidden = []
    for blueprint in (module.router for module in GATED):
        passes = passes_of(blueprint)
        for kind, filters, _kwargs, handler in blueprint._registrations:
            if kind != observer or exempt(filters):
                continue
            limits = [limit for f in filters if (limit := limits_of(f)) is not None]
            if not limits or not set.intersection(*limits) <= passes:
                hidden.append(f"{blueprint.name}.{handler.__name__}")
    return hidden


def test_gated_blueprints_register_only_handlers_their_gate_lets_through():
    """A message handler behind a gate must ask for a command or for a state the gate
    passes; otherwise the gate would silently hide it."""
    assert all(module.router.message_gate is not None for module in GATED)

    def passes(blueprint: Blueprint) -> set[str | None]:
        gate = blueprint.message_gate
        return set(gate.states) | ({None} if gate.idle else set())

    def a_command(filters) -> bool:
        return any(isinstance(f, Command) for f in filters)

    assert hidden_behind_gates("message", passes, allowed_states, a_command) == []


async def test_the_gate_passes_commands_and_its_own_states():
    gate = CommandOrState((Form,), idle=False)
    assert await gate(message("/help"), raw_state="Other:step")
    assert await gate(message("hello"), raw_state="Form:name")
    assert not await gate(message("hello"), raw_state="Other:step")
    assert not await gate(message("hello"), raw_state=None)
    assert await CommandOrState((Form,), idle=True)(message("hello"), raw_state=None)


async def test_the_gate_passes_only_its_own_commands_to_people_outside_its_conversations():
    gate = CommandOrState((Form,), idle=False, commands=frozenset({"new", "help"}))
    assert await gate(message("/new"), raw_state=None)
    assert await gate(message("/New@redgrid_bot and more"), raw_state="Other:step")
    assert not await gate(message("/queue"), raw_state=None)
    assert not await gate(message("/"), raw_state=None)
    assert await gate(message("/queue"), raw_state="Form:name")  # its conversation's hint


def test_a_built_gate_knows_the_commands_of_its_handlers():
    blueprint = Blueprint("form")
    blueprint.messages_only(Form)

    @blueprint.message(Command("Go", "stop"))
    async def go(event: Message) -> None: ...

    @blueprint.message(Form.name)
    async def name(event: Message) -> None: ...

    [gate] = [f.callback for f in blueprint.build().message._handler.filters]
    assert gate.commands == {"go", "stop"}


def callback_kinds(event_filter: Any) -> set[str] | None:
    """The callback data prefixes a filter lets through, or None if it does not say."""
    if isinstance(event_filter, CallbackQueryFilter):
        return {event_filter.callback_data.__prefix__}
    if isinstance(event_filter, CallbackPrefix):
        return {kind.__prefix__ for kind in event_filter.kinds}
    if isinstance(event_filter, _OrFilter):
        parts = [callback_kinds(target.callback) for target in event_filter.targets]
        return None if None in parts else set().union(*parts)
    return None


def test_gated_blueprints_register_only_buttons_their_gate_lets_through():
    assert all(module.router.callback_gate is not None for module in GATED)

    def passes(blueprint: Blueprint) -> set[str]:
        return {kind.__prefix__ for kind in blueprint.callback_gate.kinds}

    assert hidden_behind_gates("callback_query", passes, callback_kinds) == []


async def test_the_button_gate_passes_its_kinds_decodable_or_not():
    gate = CallbackPrefix(DraftCb)
    assert await gate(press(DraftCb(action=DraftAction.BACK).pack()))
    assert await gate(press(f"{DraftCb.__prefix__}:garbage"))
    assert not await gate(press(f"{DraftCb.__prefix__}x:back"))
    assert not await gate(press(None))
