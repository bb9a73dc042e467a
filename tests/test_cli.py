"""The ``redgrid`` command as an admin uses it from the shell, on both databases."""

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import typer.main
from sqlalchemy import text
from typer.testing import CliRunner

from redgrid.bot.settings import get_settings
from redgrid.cli import EXIT_AMBIGUOUS, EXIT_REFUSED, EXIT_USAGE, app, operator_locale
from redgrid.languages import catalogue
from redgrid.models import migrate
from redgrid.models.db import create_engine
from tests.district_files import collection, dumps, feature, polygon, small_district, square

runner = CliRunner()


@pytest.fixture
def redgrid(settings_env, database_url, monkeypatch):
    """Run ``redgrid ARGS...`` against this test's database; returns the click Result."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ROUTING_BUFFER_M", "300")

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def district_file(tmp_path):
    path = tmp_path / "district.geojson"
    path.write_bytes(dumps(small_district()))
    return path


def test_import_show_and_route(redgrid, district_file):
    result = redgrid("district", "import", str(district_file))
    assert result.exit_code == 0, result.output
    assert "Checked 3 grids in 2 communities." in result.output
    assert "3 created" in result.output

    show = redgrid("district", "show")
    assert show.exit_code == 0
    assert "大富社区: 2 grids, 800 households" in show.output
    assert "Total: 2 communities, 3 grids, 800 households." in show.output


@pytest.mark.parametrize(
    ("lat", "lon", "code", "exit_code", "words"),
    [
        ("28.2305", "116.6005", "A", 0, "网格A"),  # inside
        ("28.2350", "116.6050", "A", 0, "m outside its boundary"),  # in A's hole: nearest is A
        ("28.2350", "116.6450", "C", 0, "(东铜社区)"),  # second part of a multipolygon
        ("28.2350", "116.6310", "C", 0, "m outside its boundary"),  # just outside, in the gap
        ("28.2350", "116.6100", "A", 0, "网格A"),  # on the A|B edge: the smaller code
        ("28.2350", "116.6200", "B", 0, "网格B"),  # on the B|C edge: the smaller code
    ],
)
def test_route_points(redgrid, district_file, lat, lon, code, exit_code, words):
    redgrid("district", "import", str(district_file))
    result = redgrid("route", lat, lon)
    assert result.exit_code == exit_code, result.output
    assert result.output.split()[0] == code
    assert words in result.output


def test_route_far_away_and_invalid(redgrid, district_file):
    redgrid("district", "import", str(district_file))
    far = redgrid("route", "39.9", "116.4")
    assert far.exit_code == EXIT_REFUSED
    assert "Outside the district: no grid within 300 m" in far.output
    invalid = redgrid("route", "95", "116.6")
    assert invalid.exit_code == EXIT_USAGE
    assert "latitude" in invalid.output
    neither = redgrid("route", "--address", "x", "28.2")
    assert neither.exit_code == EXIT_USAGE


def test_route_addresses(redgrid, district_file, tmp_path):
    redgrid("district", "import", str(district_file))
    found = redgrid("route", "--address", "东乡区湖滨花园3栋2单元")
    assert found.exit_code == 0, found.output
    assert found.output.startswith("A ")
    missing = redgrid("route", "--address", "不存在的地方")
    assert missing.exit_code == EXIT_REFUSED
    blank = redgrid("route", "--address", "  ")  # "No compound matches '  '", exit 1 before
    assert blank.exit_code == EXIT_USAGE
    assert "Give either LAT LON or --address TEXT." in blank.output

    twins = collection(
        feature("A", polygon(square(0, 0)), compounds=["凤凰花园"]),
        feature("B", polygon(square(1, 0)), compounds=["凤凰花园"]),
    )
    path = tmp_path / "twins.geojson"
    path.write_bytes(dumps(twins))
    assert redgrid("district", "import", str(path)).exit_code == 0
    ambiguous = redgrid("route", "--address", "凤凰花园")
    assert ambiguous.exit_code == EXIT_AMBIGUOUS
    assert "Ambiguous: 2 candidates" in ambiguous.output


def test_an_address_is_looked_up_as_the_bot_looks_it_up(redgrid):
    """ "星河小区 3栋" found its grid in a complaint, and does here; "星河" is in no
    compound's name or alias, as the bot finds too. What differed was the shell: unquoted,
    "3栋" arrived as LAT and was refused as a bad number."""
    assert redgrid("init").exit_code == 0
    found = redgrid("route", "--address", "星河小区 3栋")
    assert found.exit_code == 0, found.output
    assert found.output.startswith("DX-DF-02 ")
    assert "via 星河公寓 [normalised]" in found.output
    assert redgrid("route", "--address", " 星河小区 ").output.startswith("DX-DF-02 ")
    none = redgrid("route", "--address", "星河")
    assert (none.exit_code, none.output) == (EXIT_REFUSED, "No compound matches '星河'.\n")
    unquoted = redgrid("route", "--address", "星河小区", "3栋")
    assert unquoted.exit_code == EXIT_USAGE
    assert unquoted.output == (
        "Give either LAT LON or --address TEXT; quote an address with spaces.\n"
    )
    too_long = redgrid("route", "--address", "星" * 201)  # the bot takes 200 at most
    assert too_long.exit_code == EXIT_USAGE
    assert too_long.output == "The address is 201 characters; at most 200.\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("28.2", "east"), "Invalid coordinates: longitude must be a number, not 'east'.\n"),
        (("28.2",), "Give either LAT LON or --address TEXT.\n"),
    ],
)
def test_a_coordinate_that_is_no_number_is_one_line(redgrid, district_file, args, said):
    """Typer's boxed usage error, six lines, before."""
    redgrid("district", "import", str(district_file))
    result = redgrid("route", *args)
    assert (result.exit_code, result.output) == (EXIT_USAGE, said)


def test_a_file_that_is_not_a_database_is_one_line(settings_env, tmp_path, caplog):
    """SQLAlchemy's pool logged a traceback to the terminal (it could not drop the failed
    connection) before the line saying so."""
    (tmp_path / "redgrid.db").write_text("not a database\n")
    for args in (("district", "show"), ("init",)):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == EXIT_REFUSED
        assert result.output == (
            "Cannot open the database sqlite+aiosqlite:///redgrid.db: file is not a database\n"
        )
    assert [record.getMessage() for record in caplog.records] == []


def test_bad_file_is_refused_and_nothing_is_written(redgrid, district_file, tmp_path):
    assert redgrid("district", "import", str(district_file)).exit_code == 0
    before = redgrid("district", "show").output

    document = small_district()
    document["features"][0]["properties"]["name"] = "renamed"  # a valid change...
    document["features"][2]["geometry"]["coordinates"][0][0][0] = [216.6, 28.2]  # ...and a fault
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(document, ensure_ascii=False))

    result = redgrid("district", "import", str(bad))
    assert result.exit_code == EXIT_REFUSED
    assert "Refused" in result.output
    assert "feature #3 (code 'C'): coordinate [216.6, 28.2] is out of range" in result.output
    assert redgrid("district", "show").output == before


def test_dry_run_writes_nothing(redgrid, district_file):
    result = redgrid("district", "import", "--dry-run", str(district_file))
    assert result.exit_code == 0
    assert "Dry run, nothing written. The import would do: 3 created," in result.output
    assert redgrid("district", "show").exit_code == EXIT_REFUSED


def test_dry_run_names_the_grids_an_import_would_retire(redgrid, district_file, tmp_path):
    """A file with some grids only, checked without --partial: the dry run said nothing of
    the grids the real import then retired."""
    assert redgrid("district", "import", str(district_file)).exit_code == 0
    only_a = tmp_path / "only-a.geojson"
    district = small_district()
    district["features"] = district["features"][:1]
    only_a.write_bytes(dumps(district))

    result = redgrid("district", "import", "--dry-run", str(only_a))
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 1 unchanged, 2 retired" in result.output
    assert "It would retire: B, C" in result.output
    assert "import it with --partial" in result.output
    partial = redgrid("district", "import", "--dry-run", "--partial", str(only_a))
    assert "1 unchanged, 0 retired" in partial.output
    assert "retire:" not in partial.output
    assert "Total: 2 communities, 3 grids" in redgrid("district", "show").output


def test_dry_run_without_a_database_checks_the_file(settings_env, monkeypatch, tmp_path):
    """Checking a file on a laptop with no database is still a check."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
    district = tmp_path / "district.geojson"
    district.write_bytes(dumps(small_district()))
    result = runner.invoke(app, ["district", "import", "--dry-run", str(district)])
    assert result.exit_code == 0, result.output
    assert "Checked 3 grids in 2 communities." in result.output
    assert "Dry run: nothing written (no database" in result.output


def test_init_loads_the_sample_once(redgrid):
    first = redgrid("init")
    assert first.exit_code == 0, first.output
    assert "Loaded the sample district: 17 communities, 117 grids" in first.output
    again = redgrid("init")
    assert "already loaded" in again.output
    show = redgrid("district", "show")
    assert "Total: 17 communities, 117 grids" in show.output


def test_commands_refuse_an_unmigrated_database(settings_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    sqlite3.connect(tmp_path / "new.db").close()  # there, never migrated
    result = runner.invoke(app, ["district", "show"])
    assert result.exit_code == EXIT_REFUSED
    assert "run `redgrid db upgrade`" in result.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"])
    head = migrate.head_revision()
    assert f"current: {head}; head: {head}" in current.output


async def _stamp(database_url: str, revision: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision}
            )
    finally:
        await engine.dispose()


def test_a_database_newer_than_the_code_is_not_sent_to_db_upgrade(redgrid, database_url):
    """After a rollback of the code, `db upgrade` would do nothing: the way out is the newer
    redgrid's downgrade."""
    asyncio.run(_stamp(database_url, "0099"))
    try:
        result = redgrid("district", "show")
    finally:  # PostgreSQL's test database is shared by the whole run
        asyncio.run(_stamp(database_url, migrate.SCHEMA_REVISION))
    assert result.exit_code == EXIT_REFUSED
    assert "newer than this redgrid knows" in result.output
    assert f"db downgrade {migrate.SCHEMA_REVISION}" in result.output
    assert "db upgrade" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("district", "show"),
        ("route", "28.2305", "116.6005"),
        ("route", "--address", "湖滨花园"),
        ("members",),
        ("members", "--grid", "A"),
        ("invites",),
        ("informants", "--all"),
        ("db", "current"),
        ("db", "downgrade", "base"),
        ("invite", "--role", "informant"),
        ("invites", "--revoke", "1"),
        ("informants", "--pause", "1"),
        ("members", "--remove", "1"),
        ("run",),
    ],
)
def test_commands_in_a_folder_without_a_database_create_none(settings_env, monkeypatch, args):
    """`redgrid district show` in an empty folder left an empty redgrid.db behind and then
    said it was at revision none: only init and db upgrade set a database up."""
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST-token")
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == EXIT_REFUSED, result.output
    assert result.output == "No database at redgrid.db: run `redgrid init` first.\n"
    assert not list(Path().iterdir())


def test_a_dry_run_without_a_database_creates_none(settings_env, tmp_path):
    district = tmp_path / "district.geojson"
    district.write_bytes(dumps(small_district()))
    result = runner.invoke(app, ["district", "import", "--dry-run", str(district)])
    assert "Dry run: nothing written (no database" in result.output
    assert not (tmp_path / "redgrid.db").exists()
    refused = runner.invoke(app, ["district", "import", str(district)])
    assert refused.exit_code == EXIT_REFUSED
    assert refused.output.endswith("No database at redgrid.db: run `redgrid init` first.\n")
    assert not (tmp_path / "redgrid.db").exists()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # which does create it
    assert (tmp_path / "redgrid.db").exists()


def test_migrations_report_where_the_database_is(settings_env, monkeypatch, tmp_path):
    """`db upgrade 0003` on a newer database said "Database upgraded to 0003." and did
    nothing: Alembic takes an upgrade to an older revision as done."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    head = migrate.head_revision()
    first = runner.invoke(app, ["db", "upgrade"], catch_exceptions=False)
    assert first.output == f"Database upgraded from none to {head}.\n"
    again = runner.invoke(app, ["db", "upgrade"], catch_exceptions=False)
    assert again.output == f"Nothing to do: the database is at {head}.\n"
    back = runner.invoke(app, ["db", "upgrade", "0001"], catch_exceptions=False)
    assert back.exit_code == 0
    assert back.output.startswith(f"Nothing done: the database is at {head}, past 0001;")
    assert "`redgrid db downgrade 0001`" in back.output
    down = runner.invoke(app, ["db", "downgrade", "0001"], catch_exceptions=False)
    assert down.output == f"Database downgraded from {head} to 0001.\n"
    gone = runner.invoke(app, ["db", "downgrade", "base"], catch_exceptions=False)
    assert gone.output == "Database downgraded from 0001 to none.\n"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BOT_TOKEN": "123456:hunter2 token pasted"}, "BOT_TOKEN: not a bot token"),
        ({"DATABASE_URL": "redgrid.db"}, "DATABASE_URL: not a database URL"),
        ({"DATABASE_URL": "mysql://redgrid:hunter2@db/redgrid"}, "mysql is not supported"),
        ({"ADMIN_IDS": "@wang, 42"}, "ADMIN_IDS: must be Telegram user ids"),
        ({"TIMEZONE": "Asia/Fuzhou"}, "TIMEZONE: unknown time zone 'Asia/Fuzhou'"),
        # Each of these failed only when `redgrid webhook` started, in a traceback.
        ({"WEBHOOK_SECRET": "hunter2 pass!"}, "WEBHOOK_SECRET: 1 to 256 letters"),
        ({"WEBHOOK_URL": "http://bot.example.org/hook"}, "only to an https:// address"),
        ({"WEBHOOK_PATH": "telegram/webhook"}, "WEBHOOK_PATH: must start with /"),
        # These named a regular expression, not what to write.
        ({"DIGEST_TIME": "8:30"}, "DIGEST_TIME: a 24-hour time HH:MM, e.g. 08:30"),
        ({"TICKET_PREFIX": "dx"}, "TICKET_PREFIX: 1 to 6 capital letters"),
        ({"BOT_USERNAME": "@rg"}, "BOT_USERNAME: 5 to 32 letters"),
        # These failed only when the bot started: Redis with "at : ...", the Bot API with
        # the whole URL, the bot's token included.
        ({"REDIS_URL": "hunter2@127.0.0.1:6379"}, "REDIS_URL: must start with redis://"),
        ({"TELEGRAM_API_BASE": "127.0.0.1:8081"}, "TELEGRAM_API_BASE: must start with http"),
    ],
)
def test_a_bad_setting_is_named_in_one_line_without_its_value(
    settings_env, monkeypatch, env, named
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["db", "current"], catch_exceptions=False)
    assert result.exit_code == EXIT_USAGE
    assert result.output.startswith("Bad setting (environment or .env): ")
    assert named in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "hunter2" not in result.output
    assert "pattern" not in result.output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://redgrid:SECRET@127.0.0.1:1/redgrid", "Connect call failed"),
        ("postgresql://postgres:SECRET@127.0.0.1:5432/no_such_db", "does not exist"),
        ("sqlite:////no/such/folder/redgrid.db", "unable to open database file"),
    ],
)
def test_an_unreachable_database_is_one_line_without_the_password(
    settings_env, monkeypatch, url, reason
):
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(app, ["init"], catch_exceptions=False)
    assert result.exit_code == EXIT_REFUSED
    assert result.output.startswith("Cannot open the database ")
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "SECRET" not in result.output


def test_the_env_example_as_it_is_copied(settings_env, database_url, monkeypatch, tmp_path):
    """`cp .env.example .env` leaves BOT_TOKEN empty: that is unset, not a token that breaks
    `redgrid invite` after the invite is written (its code never shown); "[1, 2]" is read too."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BOT_TOKEN", "")
    monkeypatch.setenv("ADMIN_IDS", "[1, 2]")
    assert runner.invoke(app, ["init"], catch_exceptions=False).exit_code == 0
    result = runner.invoke(app, ["invite", "--role", "informant"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "/start " in result.output
    assert get_settings().admin_ids == {1, 2}
    assert runner.invoke(app, ["run"]).output.startswith("BOT_TOKEN is not set")


def test_help_reflows_the_docstrings(settings_env):
    """The docstrings' own line breaks showed in the help, cutting sentences in two."""
    listing = runner.invoke(app, ["--help"]).output
    assert "and state), or revoke one by the id the list shows." in listing
    invite = runner.invoke(app, ["invite", "--help"]).output
    assert "a group by one of its administrators makes" in invite


def test_an_unknown_revision_is_refused(redgrid):
    """An Alembic traceback before."""
    for args in (("db", "upgrade", "head2"), ("db", "downgrade", "0099")):
        result = redgrid(*args)
        assert result.exit_code == EXIT_USAGE, result.output
        assert "Can't locate revision" in result.output
        assert "see `redgrid db current`" in result.output


def test_an_env_file_not_in_utf8_is_named(settings_env, tmp_path):
    """A .env saved as GBK (a Chinese comment) ended every command in a UnicodeDecodeError."""
    (tmp_path / ".env").write_bytes("# 东乡区\nADMIN_IDS=1\n".encode("gbk"))
    result = runner.invoke(app, ["db", "current"], catch_exceptions=False)
    assert result.exit_code == EXIT_USAGE
    assert result.output.startswith("Bad .env: not UTF-8 text")


def test_an_unreachable_redis_stops_the_start(redgrid, monkeypatch):
    """It started, then failed every update (each one an apology)."""
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST-token")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    assert redgrid("db", "upgrade").exit_code == 0
    for command in ("run", "webhook"):
        result = redgrid(command)
        assert result.exit_code == EXIT_REFUSED, result.output
        assert result.output.startswith("Cannot reach Redis (REDIS_URL) at 127.0.0.1:1: ")
        assert "hunter2" not in result.output


def test_a_bot_api_failure_never_prints_the_token(redgrid, monkeypatch):
    """aiohttp names the URL of some failures, and the token is part of the URL's path."""
    from aiogram.exceptions import TelegramNetworkError
    from aiogram.methods import GetMe

    from redgrid.bot import app as bot_app

    token = "123456:TEST-token"

    async def refused(settings):
        url = f"{settings.telegram_api_base}/bot{token}/getMe"
        raise TelegramNetworkError(GetMe(), f"NonHttpUrlClientError: {url}")

    monkeypatch.setenv("BOT_TOKEN", token)
    monkeypatch.setenv("TELEGRAM_API_BASE", "http://127.0.0.1:1")
    monkeypatch.setattr(bot_app, "run_polling", refused)
    assert redgrid("db", "upgrade").exit_code == 0
    result = redgrid("run")
    assert result.exit_code == EXIT_REFUSED, result.output
    assert result.output.startswith("Cannot reach the Bot API at http://127.0.0.1:1: ")
    assert "TEST-token" not in result.output
    assert "/bot<BOT_TOKEN>/getMe" in result.output


# The operator's language -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "default", "spoken"),
    [
        ({}, None, "zh_CN"),  # nothing set: DEFAULT_LOCALE, zh_CN unless set
        ({"LANG": "C.UTF-8"}, None, "zh_CN"),  # a server's usual locale
        ({"LANG": "C.UTF-8"}, "en", "en"),
        ({"LC_ALL": "POSIX"}, "en", "en"),
        ({"LANG": "de_DE.UTF-8"}, "zh_CN", "zh_CN"),  # a language redgrid does not speak
        ({"LANG": "en_US.UTF-8"}, None, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "en", "zh_CN"),
        ({"LANG": "en_GB.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, None, "zh_CN"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "C"}, None, "zh_CN"),  # the first set decides
        ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "fr:en_GB:zh"}, None, "en"),  # its first zh or en
        ({"LANG": "zh_CN.UTF-8", "LANGUAGE": ""}, None, "zh_CN"),  # empty is unset
        ({"LANG": "C.UTF-8"}, "fr", "zh_CN"),  # an unusable DEFAULT_LOCALE
        ({"LANG": "C.UTF-8"}, "zh_cn", "zh_CN"),
    ],
)
def test_the_language_is_chosen_from_the_environment(
    settings_env, monkeypatch, environ, default, spoken
):
    if default is not None:
        monkeypatch.setenv("DEFAULT_LOCALE", default)
    assert operator_locale(environ) == spoken


def test_default_locale_is_read_from_env_file_even_when_other_settings_are_wrong(settings_env):
    Path(".env").write_text("DEFAULT_LOCALE=en\nTIMEZONE=Asia/Fuzhou\n")
    assert operator_locale({"LANG": "C.UTF-8"}) == "en"
    Path(".env").write_bytes("# 东乡区\nDEFAULT_LOCALE=en\n".encode("gbk"))  # unreadable
    assert operator_locale({"LANG": "C.UTF-8"}) == "zh_CN"


@pytest.fixture
def chinese(monkeypatch):
    """An operator's shell on a Chinese desktop."""
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")


def test_a_chinese_shell_reads_the_district_in_chinese(redgrid, district_file, chinese):
    imported = redgrid("district", "import", str(district_file))
    assert imported.exit_code == 0, imported.output
    assert "已检查 2 个社区的 3 个网格。" in imported.output
    assert "新建 3，更新 0，未变 0，停用 0；新增 2 个社区。" in imported.output
    show = redgrid("district", "show")
    assert "大富社区：2 个网格，800 户" in show.output
    assert "合计：2 个社区，3 个网格，800 户。" in show.output
    routed = redgrid("route", "--address", "东乡区湖滨花园3栋2单元")
    assert routed.output.startswith("A ")  # the grid's code first, as in English
    assert "匹配小区 湖滨花园 [" in routed.output
    far = redgrid("route", "39.9", "116.4")
    assert far.output.startswith("不在辖区内：300 米内没有网格（最近的网格距此 ")
    assert far.output.endswith(" 公里左右）。\n")


def test_a_chinese_shell_invites_in_chinese(redgrid, district_file, chinese):
    redgrid("district", "import", str(district_file))
    created = redgrid("invite", "--role", "grid_worker", "--grid", "A")
    assert created.exit_code == 0, created.output
    assert "：网格 A（网格A）的网格员，一次性，有效期至 " in created.output
    assert "无法生成链接：BOT_USERNAME 和 BOT_TOKEN 均未设置。" in created.output
    assert "请对方打开机器人并发送：/start " in created.output
    listed = redgrid("invites")
    assert "网格员" in listed.output
    assert "有效期至 " in listed.output
    no_grid = redgrid("invite", "--role", "secretary", "--grid", "Z")
    assert no_grid.exit_code == EXIT_REFUSED
    assert no_grid.output == (
        "已拒绝：没有编码为 'Z' 的在用网格；请查看 `redgrid district show`。\n"
    )
    no_scope = redgrid("invite", "--role", "officer")
    assert no_scope.exit_code == EXIT_USAGE
    assert no_scope.output == "已拒绝：社区干部的邀请须指定社区（--community），不能指定网格。\n"
    assert redgrid("members").output == "没有工作队伍成员（--all 可显示已移除的）。\n"
    assert redgrid("members", "--remove", "7").output == (
        "没有 id 为 7 的成员身份；请查看 `redgrid members --all`。\n"
    )


def test_a_server_locale_speaks_default_locale(redgrid, monkeypatch):
    """C.UTF-8, as servers and containers run: Chinese, unless DEFAULT_LOCALE says English."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert redgrid("district", "show").output == (
        "尚未载入辖区：请运行 `redgrid init` 或 `redgrid district import 文件`。\n"
    )
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    assert redgrid("district", "show").output.startswith("No district loaded")


def test_a_bad_setting_is_named_in_the_operators_language(settings_env, monkeypatch):
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TIMEZONE", "Asia/Fuzhou")
    monkeypatch.setenv("ROUTING_BUFFER_M", "-1")
    monkeypatch.setenv("DEFAULT_LOCALE", "fr")
    result = runner.invoke(app, ["db", "current"], catch_exceptions=False)
    assert result.exit_code == EXIT_USAGE
    assert result.output == (
        "配置有误（环境变量或 .env）：TIMEZONE：未知时区 'Asia/Fuzhou'；"
        "DEFAULT_LOCALE：须为 zh_CN 或 en；ROUTING_BUFFER_M：不能小于 0.0。\n"
    )


def test_help_is_in_the_operators_language(settings_env, chinese):
    invite = runner.invoke(app, ["invite", "--help"]).output
    assert "生成一次性邀请" in invite
    assert "社区干部" in invite
    listing = runner.invoke(app, []).output  # no arguments: the help
    assert "查询某地属于哪个网格" in listing


def test_every_help_text_has_its_chinese():
    """A help text not marked with N_() would reach Chinese operators in English."""
    chinese = catalogue("zh_CN")
    missing = []

    def walk(command):
        for item in (command, *command.params):
            text = getattr(item, "help", None)
            if text and chinese.gettext(text) == text:
                missing.append(text)
        for subcommand in getattr(command, "commands", {}).values():
            walk(subcommand)

    walk(typer.main.get_command(app))
    assert missing == []
