"""Routers that can be built more than once.

An aiogram ``Router`` can belong to one dispatcher only, so a module-level router works
for one process but not for tests (or a benchmark) that build a dispatcher each. A
``Blueprint`` takes the same decorators (``@router.message(...)``), remembers them, and
``build()`` registers them on a fresh ``Router`` every time it is called.

``build()`` also makes every filter a coroutine. aiogram runs a filter that is a plain
function, a magic filter (``F.text``) or a bare ``State`` in a worker thread
(``asyncio.to_thread``), and the update is checked against dozens of handlers on its way:
on one core those thread hops cost more than everything else the update does. States and
magic filters are wrapped; a plain function is refused (write it with ``async def``).
"""

import inspect
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from magic_filter import MagicFilter

HandlerT = Callable[..., Any]


class Blueprint:
    def __init__(self, name: str) -> None:
        self.name = name
        self._registrations: list[tuple[str, tuple[Any, ...], dict[str, Any], HandlerT]] = []
        self.message_gate: CommandOrState | None = None
        self.callback_gate: CallbackPrefix | None = None

    def messages_only(self, *groups: type[StatesGroup], idle: bool = False) -> None:
        """Let messages reach this router's handlers only if they are commands its handlers
        ask for (``Command`` filters, collected by ``build``), or come from someone in a
        conversation of ``groups`` (with ``idle``: or in none).

        An update is otherwise checked against every handler of every router before its
        own; the gate makes that one check per router. Each message handler registered
        here must then ask for a command or for one of these states
        (``tests/test_blueprint.py`` checks every blueprint).
        """
        self.message_gate = CommandOrState(groups, idle=idle)

    def _observer(self, observer: str, *filters: Any, **kwargs: Any):
        def register(handler: HandlerT) -> HandlerT:
            self._registrations.append((observer, filters, kwargs, handler))
            return handler

        return register

    def callbacks_only(self, *kinds: type[CallbackData]) -> None:
        """Let button presses reach this router's handlers only if their data is of one of
        these kinds (by prefix), for the same reason as ``messages_only``."""
        self.callback_gate = CallbackPrefix(*kinds)

    def message(self, *filters: Any, **kwargs: Any):
        return self._observer("message", *filters, **kwargs)

    def callback_query(self, *filters: Any, **kwargs: Any):
        return self._observer("callback_query", *filters, **kwargs)

    def my_chat_member(self, *filters: Any, **kwargs: Any):
        return self._observer("my_chat_member", *filters, **kwargs)

    def errors(self, *filters: Any, **kwargs: Any):
        return self._observer("errors", *filters, **kwargs)

    def _command_names(self) -> frozenset[str] | None:
        """The commands this router's message handlers ask for; None: it cannot tell (a
        pattern), so every command goes through."""
        commands = [
            event_filter.commands
            for observer, filters, _kwargs, _handler in self._registrations
            if observer == "message"
            for event_filter in filters
            if isinstance(event_filter, Command)
        ]
        names = [name for command in commands for name in command]
        if not all(isinstance(name, str) for name in names):
            return None
        return frozenset(name.lower() for name in names)

    def build(self) -> Router:
        router = Router(name=self.name)
        if self.message_gate is not None:
            router.message.filter(self.message_gate.for_commands(self._command_names()))
        if self.callback_gate is not None:
            router.callback_query.filter(self.callback_gate)
        for observer, filters, kwargs, handler in self._registrations:
            inline = [run_inline(event_filter) for event_filter in filters]
            getattr(router, observer).register(handler, *inline, **kwargs)
        return router


def run_inline(event_filter: Any) -> Any:
    """The filter as a coroutine, which aiogram awaits in the event loop."""
    if isinstance(event_filter, State):
        return StateFilter(event_filter)
    if isinstance(event_filter, MagicFilter):
        return MagicEventFilter(event_filter)
    if isinstance(event_filter, Filter) or inspect.iscoroutinefunction(event_filter):
        return event_filter
    msg = f"write the filter {event_filter!r} as a coroutine: aiogram would run it in a thread"
    raise TypeError(msg)


class MagicEventFilter(Filter):
    """A magic filter on the event (``F.text``, ``F.photo``...), resolved in the loop."""

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: Any) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"MagicEventFilter({self.magic!r})"


class CommandOrState(Filter):
    """A message that is one of these commands (None: any command), or whose sender is in
    one of these conversations. Generous where a ``Command`` filter is strict (case, a
    mention of another bot): the handler's own filter decides."""

    def __init__(
        self,
        groups: tuple[type[StatesGroup], ...],
        *,
        idle: bool,
        commands: frozenset[str] | None = None,
    ) -> None:
        self.groups = groups
        self.states = frozenset(state.state for group in groups for state in group.__all_states__)
        self.idle = idle
        self.commands = commands

    def for_commands(self, commands: frozenset[str] | None) -> "CommandOrState":
        return CommandOrState(self.groups, idle=self.idle, commands=commands)

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        text = message.text or message.caption or ""
        if text.startswith("/") and (self.commands is None or _command_name(text) in self.commands):
            return True
        return raw_state in self.states if raw_state is not None else self.idle


def _command_name(text: str) -> str:
    """``/New@some_bot args`` → ``new``."""
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:].strip() else ""


class CallbackPrefix(Filter):
    """Button data of one of these kinds, decodable or not (a forged or outdated button
    still reaches the module that refuses it)."""

    def __init__(self, *kinds: type[CallbackData]) -> None:
        self.kinds = kinds
        self.prefixes = tuple(f"{kind.__prefix__}{kind.__separator__}" for kind in kinds)

    async def __call__(self, query: CallbackQuery) -> bool:
        return (query.data or "").startswith(self.prefixes)
