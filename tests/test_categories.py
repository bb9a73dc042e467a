"""The category catalogue: the shipped file loads, and every mistake in a file is named."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from redgrid.models import Priority
from redgrid.services.categories import (
    RouteKind,
    RoutesTo,
    UnknownCategory,
    load_categories,
)

PRIORITIES = """
[priorities.urgent]
respond_hours = 2
resolve_hours = 24

[priorities.normal]
respond_hours = 24
resolve_hours = 168
"""


def category(**fields: object) -> str:
    entry = {
        "code": "noise",
        "zh": "噪音",
        "en": "Noise",
        "priority": "normal",
        "routes_to": "grid",
    } | fields
    lines = ["[[category]]"]
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_catalogue_loads_in_file_order_with_deadlines_and_routes():
    catalogue = load_categories()

    codes = [c.code for c in catalogue.all]
    assert codes[0] == "sanitation"
    assert codes[-1] == "other"
    assert len(codes) == len(set(codes)) == 10
    sanitation = catalogue.get("sanitation")
    assert sanitation.priority is Priority.NORMAL
    assert (sanitation.respond, sanitation.resolve) == (timedelta(hours=24), timedelta(days=7))
    assert sanitation.routes_to == RoutesTo(RouteKind.GRID)
    utilities = catalogue.get("utilities")  # urgent, with its own resolve deadline
    assert (utilities.respond, utilities.resolve) == (timedelta(hours=2), timedelta(hours=48))
    assert utilities.routes_to.kind is RouteKind.COMMUNITY
    assert catalogue.get("dispute").resolve == timedelta(days=15)
    assert catalogue.get("enterprise").routes_to == RoutesTo(RouteKind.DESK, "enterprise")


def test_a_desk_is_named_by_the_categories_it_takes():
    catalogue = load_categories()
    assert catalogue.desk_name("enterprise", "zh_CN") == "助企服务"
    assert catalogue.desk_name("enterprise", "en") == "Enterprise help"
    assert catalogue.desk_name("retired", "en") == "retired"  # no category routes there now


def test_names_per_locale_fall_back_to_chinese():
    noise = load_categories().get("noise")
    assert noise.name("zh_CN") == "噪音扰民"
    assert noise.name("en") == "Noise"
    assert noise.name("fr") == "噪音扰民"
    assert noise.emoji == "🔊"


def test_unknown_code_raises_a_key_error():
    with pytest.raises(UnknownCategory) as raised:
        load_categories().get("graffiti")
    assert isinstance(raised.value, KeyError)


def test_loading_is_cached_per_path(tmp_path):
    path = write(tmp_path, PRIORITIES + category())
    assert load_categories(path) is load_categories(str(path))
    assert load_categories() is load_categories()
    assert load_categories(path) is not load_categories()


def test_per_category_hours_override_the_priority(tmp_path):
    path = write(tmp_path, PRIORITIES + category(respond_hours=0.5, resolve_hours=12))
    noise = load_categories(path).get("noise")
    assert (noise.respond, noise.resolve) == (timedelta(minutes=30), timedelta(hours=12))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PRIORITIES + category(priority="critical"), "category 'noise': unknown priority"),
        (PRIORITIES + category(routes_to="street"), "category 'noise': routes_to must be"),
        (PRIORITIES + category(routes_to="desk:"), "category 'noise': routes_to must be"),
        (PRIORITIES + category(routes_to="desk:Big Desk"), "category 'noise': routes_to"),
        (PRIORITIES + category() + category(), "duplicate category code 'noise'"),
        (PRIORITIES + category(zh=""), "category 'noise': zh name is missing"),
        (PRIORITIES + category(en=" "), "category 'noise': en name is missing"),
        (
            PRIORITIES + category(respond_hours=200),
            "category 'noise': respond deadline must be shorter",
        ),
        (
            PRIORITIES + category(respond_hours=5, resolve_hours=5),
            "category 'noise': respond deadline must be shorter",
        ),
        (PRIORITIES + category(respond_hours=0), "category 'noise' respond_hours must be positive"),
        (
            PRIORITIES + category(resolve_hours=-3),
            "category 'noise' resolve_hours must be positive",
        ),
        (PRIORITIES + category(resolve_hours="a week"), "resolve_hours must be a number"),
        (PRIORITIES + category(code="x" * 33), "is longer than 32 characters"),
        (PRIORITIES + category(code="Noise!"), "category #1 needs a code"),
        (PRIORITIES + category(colour="red"), "category 'noise': unknown keys ['colour']"),
        (category(priority="complex"), "category 'noise': no respond_hours/resolve_hours"),
        ("[priorities.critical]\nrespond_hours = 1\n" + category(), "unknown priority 'critical'"),
        (PRIORITIES, "no [[category]] entries"),
        ("colour = 1\n" + PRIORITIES + category(), "unknown top-level keys"),
    ],
)
def test_invalid_files_are_refused_with_a_clear_message(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        load_categories(path)
    assert str(path) in str(raised.value)


def test_broken_toml_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="Expected"):
        load_categories(write(tmp_path, "[[category]\n"))
