"""The handler packages register their flows in the order their ``__init__.py`` lists them.

aiogram tries a router's handlers in registration order, and a flow module registers its
handlers when it is first imported. A flow that imported a flow listed after it would
register that one early, and a catch-all could then shadow specific handlers without any
conversation test noticing at once: this test notices.
"""

import ast
import importlib
import inspect

import pytest

PACKAGES = ["complaint", "informant", "my_tickets", "team"]


def listed_flows(package: str) -> list[str]:
    """The flow modules the package's ``__init__.py`` imports, in its order."""
    name = f"redgrid.handlers.{package}"
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    return [
        f"{name}.{alias.name}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == name
        for alias in node.names
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_flows_register_in_the_listed_order(package):
    flows = listed_flows(package)
    assert flows, f"{package}/__init__.py imports no flows"
    router = importlib.import_module(f"redgrid.handlers.{package}").router.build()
    for event, observer in router.observers.items():
        modules = [handler.callback.__module__ for handler in observer.handlers]
        unlisted = sorted(set(modules) - set(flows))
        assert not unlisted, f"{event} handlers registered outside the listed flows: {unlisted}"
        positions = [flows.index(module) for module in modules]
        assert positions == sorted(positions), f"{package} {event} handlers out of order"
