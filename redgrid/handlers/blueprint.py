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
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.state import State
from magic_filter import MagicFilter

HandlerT = Callable[..., Any]


class Blueprint:
    def __init__(self, name: str) -> None:
        self.name = name
        self._registrations: list[tuple[str, tuple[Any, ...], dict[str, Any], HandlerT]] = []

    def _observer(self, observer: str, *filters: Any, **kwargs: Any):
        def register(handler: HandlerT) -> HandlerT:
            self._registrations.append((observer, filters, kwargs, handler))
            return handler

        return register

    def message(self, *filters: Any, **kwargs: Any):
        return self._observer("message", *filters, **kwargs)

    def callback_query(self, *filters: Any, **kwargs: Any):
        return self._observer("callback_query", *filters, **kwargs)

    def my_chat_member(self, *filters: Any, **kwargs: Any):
        return self._observer("my_chat_member", *filters, **kwargs)

    def errors(self, *filters: Any, **kwargs: Any):
        return self._observer("errors", *filters, **kwargs)

    def build(self) -> Router:
        router = Router(name=self.name)
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
