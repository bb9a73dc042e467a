"""Complaint categories: what residents pick, how urgent it is, and which queue it goes to.

The catalogue is read from ``data/categories.toml`` and checked strictly when loaded: a typo
in the file must stop the bot at start-up, not send tickets to nowhere at 3 a.m.
"""

import math
import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from redgrid.models import Priority
from redgrid.paths import DATA_DIR

DEFAULT_PATH = DATA_DIR / "categories.toml"
# The column that stores a ticket's category (and a desk's name) is 32 characters wide.
MAX_CODE_LENGTH = 32
# Codes travel in callback data and desk names in commands: keep them plain.
_CODE_PATTERN = re.compile(r"[a-z0-9_]+")
_CATEGORY_KEYS = frozenset(
    {"code", "zh", "en", "emoji", "priority", "routes_to", "respond_hours", "resolve_hours"}
)
_DEADLINE_KEYS = frozenset({"respond_hours", "resolve_hours"})
_DESK_PREFIX = "desk:"


class UnknownCategory(KeyError):  # noqa: N818 - the name is the public interface
    """No category has this code (an old button, or a category removed from the file)."""


class RouteKind(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    DESK = "desk"


@dataclass(frozen=True, slots=True)
class RoutesTo:
    """The queue a category's tickets go to; ``desk`` names the desk for DESK."""

    kind: RouteKind
    desk: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    zh: str
    en: str
    emoji: str
    priority: Priority
    respond: timedelta
    resolve: timedelta
    routes_to: RoutesTo

    def name(self, locale: str) -> str:
        """The name in ``locale`` ("zh_CN" or "en"); Chinese for anything else."""
        return self.en if locale == "en" else self.zh


@dataclass(frozen=True, slots=True)
class CategoryCatalogue:
    all: tuple[Category, ...]

    def get(self, code: str) -> Category:
        for category in self.all:
            if category.code == code:
                return category
        raise UnknownCategory(code)

    def desk_name(self, desk: str, locale: str) -> str:
        """A district desk as people read it: by the categories it takes (its code is a
        setting, not a name), or by its code once no category routes to it any more."""
        names = [c.name(locale) for c in self.all if c.routes_to.desk == desk]
        return " / ".join(names) or desk

    def shown(self, code: str, priority: Priority = Priority.NORMAL) -> Category:
        """The category an existing ticket is handled under. One since removed from the file
        is named by its code and keeps the ticket's ``priority``, with the deadlines of a
        remaining category of that priority (else of the longest), so the ticket's pushes,
        reminders, lists, transfers and rework still go."""
        try:
            return self.get(code)
        except UnknownCategory:
            same = [category for category in self.all if category.priority is priority]
            model = same[0] if same else max(self.all, key=lambda category: category.resolve)
            return Category(
                code=code,
                zh=code,
                en=code,
                emoji="❔",
                priority=priority,
                respond=model.respond,
                resolve=model.resolve,
                routes_to=RoutesTo(RouteKind.GRID),
            )


def load_categories(path: Path | str | None = None) -> CategoryCatalogue:
    """The catalogue in ``path`` (the shipped file by default), read once per path."""
    return _load(Path(path) if path is not None else DEFAULT_PATH)


@lru_cache
def _load(path: Path) -> CategoryCatalogue:
    with path.open("rb") as file:
        document = tomllib.load(file)
    return parse_categories(document, source=str(path))


def parse_categories(document: dict[str, Any], *, source: str = "categories") -> CategoryCatalogue:
    """Build the catalogue from a parsed TOML document; ValueError names what is wrong."""
    unknown = set(document) - {"priorities", "category"}
    if unknown:
        raise ValueError(f"{source}: unknown top-level keys {sorted(unknown)}")
    defaults = _priority_defaults(document.get("priorities", {}), source)
    entries = document.get("category", [])
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: no [[category]] entries")
    categories: list[Category] = []
    for position, entry in enumerate(entries, start=1):
        category = _category(entry, position, defaults, source)
        if any(seen.code == category.code for seen in categories):
            raise ValueError(f"{source}: duplicate category code {category.code!r}")
        categories.append(category)
    return CategoryCatalogue(tuple(categories))


def _priority_defaults(
    table: object, source: str
) -> dict[Priority, tuple[timedelta | None, timedelta | None]]:
    if not isinstance(table, dict):
        raise ValueError(f"{source}: [priorities] must be a table")
    defaults = {}
    for name, hours in table.items():
        where = f"{source}: [priorities.{name}]"
        priority = _priority(name, where)
        if not isinstance(hours, dict):
            raise ValueError(f"{where} must be a table")
        unknown = set(hours) - _DEADLINE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        defaults[priority] = (
            _hours(hours.get("respond_hours"), f"{where} respond_hours"),
            _hours(hours.get("resolve_hours"), f"{where} resolve_hours"),
        )
    return defaults


def _category(
    entry: object,
    position: int,
    defaults: dict[Priority, tuple[timedelta | None, timedelta | None]],
    source: str,
) -> Category:
    if not isinstance(entry, dict):
        raise ValueError(f"{source}: category #{position} must be a table")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
        raise ValueError(
            f"{source}: category #{position} needs a code of a-z, 0-9 and _, not {code!r}"
        )
    where = f"{source}: category {code!r}"
    if len(code) > MAX_CODE_LENGTH:
        raise ValueError(f"{where}: code is longer than {MAX_CODE_LENGTH} characters")
    unknown = set(entry) - _CATEGORY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    zh, en = (_text(entry.get(key), f"{where}: {key} name") for key in ("zh", "en"))
    emoji = entry.get("emoji", "")
    if not isinstance(emoji, str):
        raise ValueError(f"{where}: emoji must be a string")
    priority = _priority(entry.get("priority"), where)
    respond, resolve = defaults.get(priority, (None, None))
    if "respond_hours" in entry:
        respond = _hours(entry["respond_hours"], f"{where} respond_hours")
    if "resolve_hours" in entry:
        resolve = _hours(entry["resolve_hours"], f"{where} resolve_hours")
    if respond is None or resolve is None:
        raise ValueError(
            f"{where}: no respond_hours/resolve_hours, and [priorities.{priority}] gives none"
        )
    if respond >= resolve:
        raise ValueError(f"{where}: respond deadline must be shorter than resolve deadline")
    return Category(
        code=code,
        zh=zh,
        en=en,
        emoji=emoji,
        priority=priority,
        respond=respond,
        resolve=resolve,
        routes_to=_routes_to(entry.get("routes_to"), where),
    )


def _priority(value: object, where: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        known = ", ".join(Priority)
        raise ValueError(f"{where}: unknown priority {value!r} (known: {known})") from None


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is missing or empty")
    return value.strip()


def _hours(value: object, what: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of hours, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be positive, not {value!r}")
    return timedelta(hours=value)


def _routes_to(value: object, where: str) -> RoutesTo:
    if value in (RouteKind.GRID, RouteKind.COMMUNITY):
        return RoutesTo(RouteKind(value))
    if isinstance(value, str) and value.startswith(_DESK_PREFIX):
        desk = value.removeprefix(_DESK_PREFIX)
        if _CODE_PATTERN.fullmatch(desk) and len(desk) <= MAX_CODE_LENGTH:
            return RoutesTo(RouteKind.DESK, desk)
    raise ValueError(
        f'{where}: routes_to must be "grid", "community" or "desk:<name>" '
        f"(a-z, 0-9, _; at most {MAX_CODE_LENGTH}), not {value!r}"
    )
