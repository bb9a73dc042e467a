"""Settings as an operator meets them: every one documented, the documented defaults true."""

import re
from pathlib import Path

from dotenv import dotenv_values

from redgrid.bot.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
README = PROJECT_ROOT / "README.md"


def documented_in_env_example() -> set[str]:
    """Names set (``NAME=``) or shown commented out (``# NAME=``) in .env.example."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_every_setting_is_in_the_env_example():
    """The README sends operators to .env.example for every setting it does not list."""
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented_in_env_example() == set()
    assert documented_in_env_example() - settings == set(), "a setting the bot does not read"


def test_the_env_example_states_the_defaults(settings_env):
    """A value written in .env.example is what the bot does without it: copying the file
    changes nothing but what the operator fills in."""
    written = {name: value for name, value in dotenv_values(ENV_EXAMPLE).items() if value}
    from_file = Settings(_env_file=None, **{name.lower(): v for name, v in written.items()})
    defaults = Settings(_env_file=None)
    for name in written:
        field = name.lower()
        assert getattr(from_file, field) == getattr(defaults, field), name


def test_the_readme_names_only_real_settings():
    table = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    table = table.split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, flags=re.MULTILINE))
    assert named, "the README's settings table moved"
    assert named <= {name.upper() for name in Settings.model_fields}


def test_an_uncommented_empty_line_means_unset(settings_env, monkeypatch):
    """``REDIS_URL=`` in .env stopped the bot at start ("Cannot reach Redis at : ...")."""
    for name in ("REDIS_URL", "TELEGRAM_API_BASE", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.setenv(name, " ")
    settings = Settings(_env_file=None)
    assert settings.redis_url is None
    assert settings.telegram_api_base is None
    assert settings.webhook_url is None
    assert settings.webhook_secret is None
