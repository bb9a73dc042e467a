"""The bot process as ``redgrid run`` builds it, fed complaint drafts; prints its memory.

    .venv/bin/python benchmarks/bot_memory.py DRAFTS    (DATABASE_URL, BOT_TOKEN set)

``conversation.py`` starts this in a child process of its own, on a database it has
migrated and loaded with the sample district, so the figures are the bot's alone: none of
the benchmark's own imports (asyncpg's admin connection, the echo dispatcher...) land in
this process. It does what ``redgrid run`` does (the command line's imports, its schema
check and logging, then ``build_app``: production factories, ``DatabaseStorage`` since
REDIS_URL is unset, the outbox sender, the start-up work with ``gc.freeze`` and the ticker)
except that the bot's HTTP session is the tests' ``RecordingSession`` and the updates come
from ``dispatcher.feed_update`` instead of long polling. Each of DRAFTS residents sends
/new, picks a category and types a description, and stops there: that many complaint
drafts in flight at once. Prints one JSON line: VmRSS and VmHWM (peak) in MB after
start-up and with the drafts.
"""

import asyncio
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test harness lives in tests/, beside the package

from redgrid.cli import base as cli_base  # noqa: E402  (what the `redgrid` script imports first)
from redgrid.cli import bot as cli_bot  # noqa: E402


def memory() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MB."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {name: int(value.split()[0]) / 1024 for name, value in fields.items()}


async def serve(settings, drafts: int) -> dict:
    # Imported here, as `redgrid run` imports the bot only once the checks have passed.
    from sqlalchemy import func, select

    from redgrid.bot.app import build_app
    from redgrid.handlers.callbacks import CategoryCb
    from redgrid.models import FsmRecord
    from tests.bot_harness import BotHarness, RecordingSession

    recording = RecordingSession()
    app = build_app(settings, bot_session=recording)
    dispatcher = app.dispatcher
    await app.bot.delete_webhook(drop_pending_updates=False)  # as run_polling does
    await dispatcher.emit_startup(bot=app.bot, dispatcher=dispatcher, bots=[app.bot])
    started = memory()
    harness = BotHarness(settings, app.bot, recording, dispatcher, dispatcher.storage, app.sender)
    for n in range(drafts):
        resident = harness.person("居民", language_code="zh-hans")
        await resident.text("/new")
        await resident.press(CategoryCb(code="noise").pack())
        await resident.text(f"楼上装修噪音太大，第{n}天了")
        recording.calls.clear()  # the recorder's, not the bot's: the bot keeps none
    loaded = memory()
    async with app.session_factory() as session:
        stored = await session.scalar(select(func.count()).select_from(FsmRecord))
    await dispatcher.emit_shutdown(bot=app.bot, dispatcher=dispatcher, bots=[app.bot])
    return {"drafts": drafts, "stored": stored, "started": started, "loaded": loaded}


def main() -> None:
    drafts = int(sys.argv[1])
    # What `redgrid run` does before it polls (redgrid.cli.bot.run).
    settings = cli_bot._bot_settings()
    cli_base._with_engine(cli_base._require_current_schema)
    cli_bot._configure_logging()
    # aiogram logs lines per update at INFO: time spent on stderr, not memory.
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    print(json.dumps(asyncio.run(serve(settings, drafts))))


if __name__ == "__main__":
    main()
