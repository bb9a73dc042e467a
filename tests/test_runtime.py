"""The bot as it runs in production: ``redgrid run`` polling a Bot API server over real
HTTP, and the webhook refusing requests without the secret."""

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from redgrid.bot.app import build_app, create_webhook_app
from redgrid.bot.settings import Settings
from redgrid.services.people import get_or_create_person
from tests.bot_harness import TOKEN, RecordingSession
from tests.fake_bot_api import FakeBotApi

REDGRID = Path(sys.executable).with_name("redgrid")
# The command's language, pinned: it would follow the machine's locale (tests/test_cli.py).
ENGLISH_SHELL = {"LANG": "en_US.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}


async def test_redgrid_run_polls_a_bot_api_server_over_http(database_url, tmp_path):
    """Start the real command with TELEGRAM_API_BASE pointing at an in-process server."""
    async with FakeBotApi(token=TOKEN) as api:
        env = {
            **os.environ,
            **ENGLISH_SHELL,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": api.base_url,
            "DATABASE_URL": database_url,
            "DEFAULT_LOCALE": "zh_CN",
        }
        env.pop("REDIS_URL", None)
        process = await asyncio.create_subprocess_exec(
            str(REDGRID),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            # Queued before the first poll, as Telegram keeps updates for a bot that is down.
            api.push_message(
                "/start",
                chat_id=5001,
                from_user={
                    "id": 5001,
                    "is_bot": False,
                    "first_name": "Wang",
                    "language_code": "zh-hans",
                },
            )
            api.push_message(
                "/start",
                chat_id=5002,
                from_user={
                    "id": 5002,
                    "is_bot": False,
                    "first_name": "Anna",
                    "language_code": "en",
                },
            )
            zh = await api.wait_for(
                lambda c: c.method == "sendMessage" and c.chat_id == 5001, timeout=30
            )
            en = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 5002)
            assert "东乡区" in zh.text
            assert "Dongxiang District" in en.text
            assert api.commands(language_code="zh")[0]["description"] == "主菜单"
            assert api.commands(language_code="en")[0]["description"] == "Main menu"
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, output.decode()


async def test_a_stop_lets_the_update_being_handled_finish(database_url, tmp_path):
    """SIGTERM while a reply is on its way: the update is finished, not cut off (Telegram
    counts it as delivered and would never offer it again)."""
    async with FakeBotApi(token=TOKEN) as api:
        replying = asyncio.Event()
        send_message = api._methods["sendmessage"][1]

        async def slow_send_message(call):
            replying.set()
            await asyncio.sleep(2)
            return send_message(call)

        api.set_handler("sendMessage", slow_send_message)
        env = {**os.environ, **ENGLISH_SHELL, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": api.base_url}
        env.update(DATABASE_URL=database_url)
        env.pop("REDIS_URL", None)
        process = await asyncio.create_subprocess_exec(
            str(REDGRID),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            user = {"id": 5003, "is_bot": False, "first_name": "Zhao", "language_code": "en"}
            api.push_message("/start", chat_id=5003, from_user=user)
            await asyncio.wait_for(replying.wait(), timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    log = output.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert "Update id=1 is handled" in log


@pytest.mark.parametrize(
    ("token", "says"),
    [("999:revoked", "Telegram refused BOT_TOKEN"), (None, "Cannot reach the Bot API at ")],
)
async def test_a_start_telegram_refuses_is_one_line(database_url, tmp_path, token, says):
    """A revoked token, or no route to the Bot API: a traceback (and an unclosed session)
    before; now one line, and the token in neither."""
    async with FakeBotApi(token=TOKEN) as api:
        base = api.base_url if token else "http://127.0.0.1:1"
        env = {
            **os.environ,
            **ENGLISH_SHELL,
            "BOT_TOKEN": token or TOKEN,
            "TELEGRAM_API_BASE": base,
        }
        env.update(DATABASE_URL=database_url)
        env.pop("REDIS_URL", None)
        process = await asyncio.create_subprocess_exec(
            str(REDGRID),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    log = output.decode()
    assert process.returncode == 1, log
    assert log.startswith(says)
    assert len(log.strip().splitlines()) == 1
    assert (token or TOKEN).split(":")[1] not in log


async def test_a_webhook_port_in_use_is_one_line(database_url, tmp_path):
    """A traceback from the socket's bind before."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeBotApi(token=TOKEN) as api:
            env = {
                **os.environ,
                **ENGLISH_SHELL,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE": api.base_url,
            }
            env.update(
                DATABASE_URL=database_url,
                WEBHOOK_URL="https://bot.example.org/telegram/webhook",
                WEBHOOK_SECRET="s3cret",
                WEBHOOK_HOST="127.0.0.1",
                WEBHOOK_PORT=str(port),
            )
            env.pop("REDIS_URL", None)
            process = await asyncio.create_subprocess_exec(
                str(REDGRID),
                "webhook",
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, errors = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1, errors.decode()
    assert errors.decode().startswith(f"Cannot listen on 127.0.0.1:{port} (WEBHOOK_HOST, ")


@pytest.fixture
async def webhook_client(database_url):
    settings = Settings(
        bot_token=TOKEN,
        database_url=database_url,
        webhook_url="https://bot.example.org/telegram/webhook",
        webhook_secret="s3cret-Token_1",
    )
    recording = RecordingSession()
    app = build_app(settings, bot_session=recording)
    client = TestClient(TestServer(create_webhook_app(app)))
    await client.start_server()
    yield client, recording
    await client.close()


def start_update(update_id: int) -> str:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "date": 1767225600,
                "text": "/start",
                "chat": {"id": 6001, "type": "private"},
                "from": {"id": 6001, "is_bot": False, "first_name": "Li", "language_code": "en"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
    )


@pytest.mark.parametrize("secret", [None, "wrong"])
async def test_webhook_refuses_a_missing_or_wrong_secret(webhook_client, secret):
    client, recording = webhook_client
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = await client.post("/telegram/webhook", data=start_update(1), headers=headers)
    assert response.status == 401
    assert [call.name for call in recording.calls if call.name == "SendMessage"] == []


async def test_webhook_with_the_secret_handles_the_update(webhook_client):
    client, recording = webhook_client
    response = await client.post(
        "/telegram/webhook",
        data=start_update(2),
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1",
        },
    )
    assert response.status == 200
    assert "SetWebhook" in [call.name for call in recording.calls]
    [reply] = [call for call in recording.calls if call.name == "SendMessage"]
    assert reply.chat_id == 6001
    assert "Dongxiang District" in reply.text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'{"hello": "world"}',
        b'{"update_id": 3, "message": {"text": "my phone is 13800138000"}}',
    ],
)
async def test_webhook_refuses_a_body_that_is_not_an_update(webhook_client, body, caplog):
    """A 500 and a traceback quoting the body (message text, phone numbers) before."""
    client, recording = webhook_client
    response = await client.post(
        "/telegram/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1",
        },
    )
    assert response.status == 400
    assert [call.name for call in recording.calls if call.name == "SendMessage"] == []
    assert "13800138000" not in caplog.text
    assert "Traceback" not in caplog.text


def test_webhook_needs_a_secret(database_url):
    settings = Settings(bot_token=TOKEN, database_url=database_url, webhook_url="https://x")
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        create_webhook_app(build_app(settings, bot_session=RecordingSession()))


async def test_start_up_names_each_admin_who_never_opened_the_bot(
    database_url, session_factory, caplog
):
    """Telegram lets a bot write to nobody first: an admin of ADMIN_IDS the bot has never
    met would get no district desk ticket and no escalation, so the operator is told which
    ones at start-up, and not about an admin who has opened the bot."""
    async with session_factory() as session, session.begin():
        await get_or_create_person(session, 2002, "Met", "en")
    settings = Settings(bot_token=TOKEN, database_url=database_url, admin_ids={1001, 2002})
    app = build_app(settings, bot_session=RecordingSession())
    with caplog.at_level(logging.WARNING):
        await app.dispatcher.emit_startup(bot=app.bot)
        await app.dispatcher.emit_shutdown(bot=app.bot)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "admin 1001 (ADMIN_IDS) has not started the bot: district desk tickets and "
        "escalations cannot reach them until they do"
    ]
