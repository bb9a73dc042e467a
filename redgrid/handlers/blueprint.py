"""Routers that can be built more than once.

An aiogram ``Router`` can belong to one dispatcher only, so a module-level router works
for one process but not for tests (or a benchmark) that build a dispatcher each. A
``Blueprint`` takes the same decorators (``@router.message(...)``), remembers them, and
``build()`` registers them on a fresh ``Router`` every time it is called.
"""

from collections.abc import Callable
from typing import Any

from aiogram import Router

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
            getattr(router, observer).register(handler, *filters, **kwargs)
        return router
