"""The whole complaint loop the way a district runs it: real processes over real HTTP.

``redgrid init`` loads the sample district, ``redgrid route`` and ``redgrid invite`` are run
from the shell, and ``redgrid run`` long-polls a fake Bot API server (``FakeBotApi``) with
TELEGRAM_API_BASE. An English-speaking secretary joins through the invite link, a
Chinese-speaking resident files a complaint with a photo and a location, the secretary gets
the push, accepts and resolves it (the bot is restarted half-way through resolving: the
conversation state lives in the database), and the resident rates it. Every message is
checked for the recipient's language.
"""

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.callbacks import (
    CategoryCb,
    ChoiceCb,
    DraftAction,
    DraftCb,
    RateCb,
    TicketAction,
    TicketCb,
)
from redgrid.handlers.team.shared import TEAM_NAV, Nav
from redgrid.handlers.team.states import TeamForm
from redgrid.models import FsmRecord, Grid, Rating, Ticket, TicketStatus
from redgrid.models.db import create_engine
from redgrid.paths import SAMPLE_DISTRICT
from redgrid.services.tickets import MAX_PHOTOS
from tests.bot_harness import TOKEN
from tests.fake_bot_api import FakeBotApi, RecordedCall
from tests.test_runtime import ENGLISH_SHELL

REDGRID = Path(sys.executable).with_name("redgrid")
BOT_USERNAME = "redgrid_e2e_bot"

FIRST_REPLY = 45.0  # the first answer after a start: the process imports and checks first
REPLY = 20.0  # any other answer (the machine is shared and slow)

CJK = re.compile(r"[\u4e00-\u9fff]")
# Words that give away an English sentence in a message meant to be Chinese.
ENGLISH_WORDS = re.compile(r"\b(the|your|ticket|was|has|been|complaint|grid|team)\b", re.I)


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    language_code: str

    @property
    def from_user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }


SECRETARY = User(7101, "Anna", "en")
RESIDENT = User(7102, "王芳", "zh-hans")


def assert_zh(call: RecordedCall, *words: str, quoting: str = "") -> None:
    """Chinese, with ``words`` in it; ``quoting``, what someone typed, is shown as typed."""
    text = call.text or ""
    for word in (*words, quoting):
        assert word in text, f"{word!r} not in {text!r}"
    own = text.replace(quoting, "") if quoting else text
    assert CJK.search(own), f"not Chinese: {text!r}"
    assert not ENGLISH_WORDS.search(own), f"English in a Chinese message: {text!r}"


def assert_en(call: RecordedCall, *words: str) -> None:
    """English words in it (the sweep at the end checks that no Chinese text leaks in)."""
    text = call.text or ""
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def buttons(call: RecordedCall) -> list[str]:
    """The callback data of a sent message's inline buttons."""
    markup = call.params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]


def shown(call: RecordedCall) -> str:
    """All a person reads of a call: its text (or caption) and its buttons' labels."""
    markup = call.params.get("reply_markup")
    rows = []
    if isinstance(markup, dict):
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels = [button["text"] for row in rows for button in row if isinstance(button, dict)]
    return "\n".join([call.text or "", *labels])


# The shell -----------------------------------------------------------------------------


def environment(database_url: str, api: FakeBotApi) -> dict[str, str]:
    env = {
        **os.environ,
        **ENGLISH_SHELL,
        "BOT_TOKEN": TOKEN,
        "BOT_USERNAME": BOT_USERNAME,
        "TELEGRAM_API_BASE": api.base_url,
        "DATABASE_URL": database_url,
        "DEFAULT_LOCALE": "zh_CN",
    }
    for name in ("REDIS_URL", "ADMIN_IDS", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        env.pop(name, None)
    return env


async def redgrid(env: dict[str, str], cwd: Path, *args: str) -> str:
    """Run one ``redgrid`` command to completion; its output (it must succeed)."""
    process = await asyncio.create_subprocess_exec(
        str(REDGRID),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode()
    assert process.returncode == 0, f"redgrid {' '.join(args)} failed:\n{text}"
    return text


class BotProcess:
    """``redgrid run`` as a subprocess, its log in a file (a pipe nobody reads can fill)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.log = cwd / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(b"\n===== redgrid run =====\n")
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                str(REDGRID),
                "run",
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def stop(self) -> int | None:
        """SIGINT, as an operator's Ctrl-C or systemd would send; kill if it hangs."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(process.wait(), timeout=20)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# Telegram --------------------------------------------------------------------------------


class Chats:
    """People talking to the bot through the fake server, and waiting for its answers.

    Every action returns a mark (how many calls were recorded before it); waiting looks only
    at calls recorded after the mark, so an older message never answers a newer question.
    """

    def __init__(self, api: FakeBotApi, bot: BotProcess) -> None:
        self.api, self.bot = api, bot
        self.presser: dict[str, User] = {}  # callback_query_id: who pressed

    def mark(self) -> int:
        return len(self.api.calls)

    def say(self, user: User, text: str | None = None, **fields: Any) -> int:
        mark = self.mark()
        self.api.push_message(text, chat_id=user.id, from_user=user.from_user, **fields)
        return mark

    def press(self, user: User, data: str, message: RecordedCall) -> int:
        """Press the button with ``data`` on ``message`` (which must carry it)."""
        assert data in buttons(message), f"no button {data!r} on {message.text!r}"
        mark = self.mark()
        update = self.api.push_callback(
            data,
            chat_id=user.id,
            message_id=message.result["message_id"],
            from_user=user.from_user,
        )
        self.presser[update["callback_query"]["id"]] = user
        return mark

    def seen_by(self, user: User) -> list[str]:
        """Everything the bot showed ``user``: messages, captions, buttons, button answers."""
        seen = [shown(call) for call in self.api.sent(chat_id=user.id, ok=True)]
        seen += [
            call.params.get("text") or ""
            for call in self.api.sent("answerCallbackQuery", ok=True)
            if self.presser.get(call.params.get("callback_query_id")) == user
        ]
        return [text for text in seen if text.strip()]

    async def wait(
        self,
        since: int,
        predicate: Callable[[RecordedCall], bool],
        timeout: float = REPLY,
    ) -> RecordedCall:
        def after_mark(call: RecordedCall) -> bool:
            return any(call is new for new in self.api.calls[since:]) and predicate(call)

        try:
            return await self.api.wait_for(after_mark, timeout=timeout)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n--- bot log ---\n{self.bot.output()[-6000:]}") from None

    async def wait_message(
        self,
        user: User,
        since: int,
        *,
        contains: str | None = None,
        button: str | Callable[[str], bool] | None = None,
        method: str = "sendMessage",
        timeout: float = REPLY,
    ) -> RecordedCall:
        """The first ``method`` call to ``user`` after ``since`` with the text and button."""

        def has_button(call: RecordedCall) -> bool:
            if button is None:
                return True
            if isinstance(button, str):
                return button in buttons(call)
            return any(button(data) for data in buttons(call))

        return await self.wait(
            since,
            lambda call: (
                call.method == method
                and call.ok
                and call.chat_id == user.id
                and (contains is None or contains in (call.text or ""))
                and has_button(call)
            ),
            timeout,
        )


# The database ----------------------------------------------------------------------------


async def read_ticket(database_url: str, number: str) -> tuple[Ticket, str | None]:
    """The ticket with ``number`` and its grid's code, read as the bot wrote them."""
    engine = create_engine(database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            ticket = (await session.exec(select(Ticket).where(Ticket.number == number))).one()
            grid = await session.get(Grid, ticket.grid_id) if ticket.grid_id else None
            return ticket, grid.code if grid else None
    finally:
        await engine.dispose()


async def read_fsm_states(database_url: str) -> list[FsmRecord]:
    engine = create_engine(database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            return list((await session.exec(select(FsmRecord))).all())
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Spot:
    grid_code: str
    grid_name: str  # names are data, in Chinese whatever the reader's language
    community: str
    lat: float
    lon: float


def a_spot_in_a_grid() -> Spot:
    """A grid of the sample district and a point surely inside its polygon."""
    features = json.loads(SAMPLE_DISTRICT.read_text(encoding="utf-8"))["features"]
    feature = features[len(features) // 3]
    point = shape(feature["geometry"]).representative_point()
    properties = feature["properties"]
    return Spot(properties["code"], properties["name"], properties["community"], point.y, point.x)


# The test --------------------------------------------------------------------------------


async def test_the_whole_complaint_loop_across_a_restart(database_url, tmp_path):
    async with FakeBotApi(token=TOKEN, username=BOT_USERNAME) as api:
        env = environment(database_url, api)
        bot = BotProcess(env, tmp_path)
        chats = Chats(api, bot)

        # --- the operator, in the shell ------------------------------------------------
        output = await redgrid(env, tmp_path, "init")
        assert "Loaded the sample district" in output, output

        spot = a_spot_in_a_grid()
        grid_code, lat, lon = spot.grid_code, spot.lat, spot.lon
        try:
            # Starting a process is the slow part on a busy machine: the bot starts while
            # the operator checks the routing and creates the invite.
            await bot.start()
            routed, invited = await asyncio.gather(
                redgrid(env, tmp_path, "route", str(lat), str(lon)),
                redgrid(env, tmp_path, "invite", "--role", "secretary", "--grid", grid_code),
            )
            assert routed.split()[0] == grid_code, routed
            assert "nearest" not in routed, routed  # inside the polygon, not near it
            link = re.search(rf"https://t\.me/{BOT_USERNAME}\?start=(\S+)", invited)
            assert link is not None, invited
            invite_code = link.group(1)

            # --- the secretary joins through the link (English) --------------------------
            mark = chats.say(SECRETARY, f"/start {invite_code}")
            welcome = await chats.wait_message(SECRETARY, mark, timeout=FIRST_REPLY)
            assert_en(
                welcome,
                "You are now the party branch secretary of grid",
                grid_code,
                "New tickets of the grid will reach you here.",
            )

            # --- the resident files a complaint (Chinese) -------------------------------
            category = CategoryCb(code="sanitation").pack()
            mark = chats.say(RESIDENT, "/new")
            prompt = await chats.wait_message(RESIDENT, mark, button=category)
            assert_zh(prompt)

            mark = chats.press(RESIDENT, category, prompt)
            prompt = await chats.wait_message(RESIDENT, mark)
            assert_zh(prompt)

            description = "小区门口的垃圾桶三天没人清理了，气味很大。"
            mark = chats.say(RESIDENT, description)
            skip_photos = DraftCb(action=DraftAction.SKIP_PHOTOS).pack()
            prompt = await chats.wait_message(RESIDENT, mark, button=skip_photos)
            assert_zh(prompt)

            photo_id = "AgACAgUAAxkBAAIE2mresidentphoto-large"
            api.add_file(photo_id, b"\xff\xd8\xff\xe0 a tiny jpeg", file_path="photos/bins.jpg")
            sizes = [
                {"file_id": "AgACAgUAAxkBAAIE2mresidentphoto-small", "file_unique_id": "AQADs1",
                 "width": 90, "height": 120, "file_size": 1200},
                {"file_id": photo_id, "file_unique_id": "AQADl1", "width": 960,
                 "height": 1280, "file_size": 84000},
            ]  # fmt: skip
            mark = chats.say(RESIDENT, photo=sizes)
            done = DraftCb(action=DraftAction.PHOTOS_DONE).pack()
            photos_ack = await chats.wait_message(RESIDENT, mark, button=done)
            assert_zh(photos_ack, f"1/{MAX_PHOTOS}")

            mark = chats.press(RESIDENT, done, photos_ack)
            place_prompt = await chats.wait(
                mark,
                lambda c: (
                    c.method == "sendMessage"
                    and c.chat_id == RESIDENT.id
                    and bool((c.params.get("reply_markup") or {}).get("keyboard"))
                ),
            )
            assert_zh(place_prompt)
            share = place_prompt.params["reply_markup"]["keyboard"][0][0]
            assert share.get("request_location") is True

            mark = chats.say(RESIDENT, location={"latitude": lat, "longitude": lon})
            consent_share = DraftCb(action=DraftAction.CONSENT_SHARE).pack()
            anonymous = DraftCb(action=DraftAction.CONSENT_ANONYMOUS).pack()
            anyway = DraftCb(action=DraftAction.NEW_ANYWAY).pack()
            step = await chats.wait_message(
                RESIDENT, mark, button=lambda data: data in (anonymous, anyway)
            )
            if anyway in buttons(step):  # a nearby open ticket of the same kind: file anyway
                mark = chats.press(RESIDENT, anyway, step)
                step = await chats.wait_message(RESIDENT, mark, button=anonymous)
            assert consent_share in buttons(step)
            assert_zh(step)

            mark = chats.press(RESIDENT, anonymous, step)
            confirm = DraftCb(action=DraftAction.CONFIRM).pack()
            summary = await chats.wait_message(RESIDENT, mark, button=confirm)
            assert_zh(summary, grid_code, description)

            mark = chats.press(RESIDENT, confirm, summary)
            filed = await chats.wait_message(RESIDENT, mark, contains="您的诉求已提交")
            assert_zh(filed, grid_code)
            number = re.search(r"<b>([A-Z]+[-0-9A-Z]*)</b>", filed.text).group(1)

            ticket, ticket_grid = await read_ticket(database_url, number)
            assert ticket_grid == grid_code
            assert ticket.status is TicketStatus.DISPATCHED
            assert ticket.latitude == lat
            assert ticket.longitude == lon

            # --- the secretary of that grid gets the push (English) ---------------------
            accept = TicketCb(action=TicketAction.ACCEPT, ticket_id=ticket.id).pack()
            photo = await chats.wait_message(SECRETARY, mark, method="sendPhoto")
            pin = await chats.wait_message(SECRETARY, mark, method="sendLocation")
            card = await chats.wait_message(SECRETARY, mark, button=accept)
            assert photo.params["photo"] == photo_id
            assert (pin.params["latitude"], pin.params["longitude"]) == (lat, lon)
            assert api.calls.index(photo) < api.calls.index(pin) < api.calls.index(card)
            assert_en(
                card,
                "New complaint",
                number,
                "Sanitation and environment",
                description,
                "Accept by:",
                "Reporter: anonymous",
            )
            assert RESIDENT.first_name not in card.text  # the resident chose to stay anonymous

            # --- accept ------------------------------------------------------------------
            mark = chats.press(SECRETARY, accept, card)
            resolve = TicketCb(action=TicketAction.RESOLVE, ticket_id=ticket.id).pack()
            accepted = await chats.wait_message(
                SECRETARY, mark, button=resolve, method="editMessageText"
            )
            assert accepted.params["message_id"] == card.result["message_id"]  # in its place
            assert_en(accepted, f"You accepted {number}.")
            told = await chats.wait_message(RESIDENT, mark, contains=number)
            assert_zh(told, "已受理")

            # --- resolve: the note, then a restart before the photo step -----------------
            mark = chats.press(SECRETARY, resolve, accepted)
            ask_note = await chats.wait_message(SECRETARY, mark, contains=number)
            assert_en(ask_note, "What was done about")

            note = "Bins emptied and the area washed; collection is now daily."
            skip = ChoiceCb(kind=TEAM_NAV, index=Nav.SKIP).pack()
            mark = chats.say(SECRETARY, note)
            ask_photo = await chats.wait_message(SECRETARY, mark, button=skip)
            assert_en(ask_photo, "Add a photo of the result, or press Skip.")

            assert await bot.stop() == 0, bot.output()
            assert api.pending_updates == 0  # every update was confirmed before the exit
            # The half-done conversation is a row in the database, not in the dead process.
            waiting = [
                record
                for record in await read_fsm_states(database_url)
                if record.state == TeamForm.resolve_photo.state
            ]
            assert [record.data.get("note") for record in waiting] == [note]
            assert str(SECRETARY.id) in waiting[0].key

            # Pressed while the bot is down: Telegram keeps the update until the next poll.
            mark = chats.press(SECRETARY, skip, ask_photo)
            await bot.start()

            done_text = f"{number} is resolved. The reporter was asked to rate the result."
            resolved = await chats.wait_message(
                SECRETARY, mark, contains=done_text, timeout=FIRST_REPLY
            )
            assert_en(resolved)
            satisfied = RateCb(ticket_id=ticket.id, rating=Rating.SATISFIED).pack()
            result = await chats.wait_message(RESIDENT, mark, button=satisfied)
            assert_zh(result, number, "已办结", quoting=note)
            assert RateCb(ticket_id=ticket.id, rating=Rating.UNSATISFIED).pack() in buttons(result)

            ticket, _ = await read_ticket(database_url, number)
            assert ticket.status is TicketStatus.RESOLVED
            assert ticket.resolution_note == note

            # --- the resident rates it: closed --------------------------------------------
            mark = chats.press(RESIDENT, satisfied, result)
            thanks = await chats.wait_message(RESIDENT, mark, contains=number)
            assert_zh(thanks, "谢谢您的评价", "已关闭")
            rated = await chats.wait_message(SECRETARY, mark, contains=number)
            assert_en(rated, f"The reporter rated {number}", "The ticket is closed.")

            ticket, _ = await read_ticket(database_url, number)
            assert ticket.status is TicketStatus.CLOSED
            assert ticket.rating is Rating.SATISFIED
        finally:
            code = await bot.stop()
        assert code in (0, None), bot.output()

        # Nothing in the wrong language, anywhere: the resident reads no English but the
        # secretary's note, the secretary no Chinese but the district's names and the
        # resident's own words.
        resident_saw = chats.seen_by(RESIDENT)
        assert len(resident_saw) >= 10
        assert len(set(resident_saw)) == len(resident_saw)  # no push sent twice (restart)
        for text in resident_saw:
            assert not re.search(r"[A-Za-z]{3,}", text.replace(note, "")), text
        secretary_saw = chats.seen_by(SECRETARY)
        assert len(secretary_saw) >= 8
        assert len(set(secretary_saw)) == len(secretary_saw)
        for text in secretary_saw:
            for data in (description, spot.grid_name, spot.community):
                text = text.replace(data, "")
            assert not CJK.search(text), text

        failed = [(c.method, c.status, c.description) for c in api.calls if not c.ok]
        assert failed == [], failed
        assert "Traceback" not in bot.output(), bot.output()
