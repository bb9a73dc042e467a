"""An in-process fake of the Telegram Bot API, served over real HTTP by aiohttp.

An unmodified aiogram ``Bot`` talks to it when its session points here::

    async with FakeBotApi(token=TOKEN) as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(TOKEN, session=session)
        api.push_message("/start", chat_id=42)
        ...  # run the dispatcher
        call = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 42)

What aiogram sends (``aiogram/client/session/aiohttp.py`` and ``base.py``): a POST to
``{base}/bot{token}/{method}``, form-encoded, or multipart when files are uploaded; plain
strings go as they are, everything else (numbers, booleans, objects, lists) JSON-encoded, and
an uploaded file is a multipart part whose name the field refers to as ``attach://<name>``.
What it expects back: ``{"ok": true, "result": ...}``, or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {"retry_after": N}}`` with the HTTP status equal to
``error_code`` (aiogram picks its exception class from the status).

The fake is lenient where a strict server would only get in a test's way (editing, deleting,
copying or forwarding a message it has never seen works; ``getFile`` of an unknown file_id
gives a path that downloads as 404; ``getChatMember`` finds anyone not set otherwise an
ordinary member) and strict where Telegram's refusals catch real bugs
(empty or too long text, callback_data over 64 bytes, reply keyboards are not echoed back,
"message is not modified", invalid command names, getUpdates while a webhook is set).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import math
import mimetypes
import re
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any

from aiogram.types import Update
from aiohttp import web

__all__ = ["FakeApiError", "FakeBotApi", "RecordedCall", "RecordedFile"]

DEFAULT_TOKEN = "123456:TEST-token"
DEFAULT_USERNAME = "redgrid_test_bot"

# Telegram's broadcast limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits).
GLOBAL_LIMIT = (30, 1.0)  # sends per window (seconds), over all chats
PRIVATE_CHAT_LIMIT = (1, 1.0)
GROUP_CHAT_LIMIT = (20, 60.0)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

# Form fields that are plain strings even when they look like JSON ("123", "true", "[x]").
STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "certificate",
        "cover",
        "currency",
        "custom_title",
        "description",
        "document",
        "emoji",
        "error_message",
        "file_id",
        "first_name",
        "foursquare_id",
        "foursquare_type",
        "game_short_name",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "payload",
        "performer",
        "phone_number",
        "photo",
        "pre_checkout_query_id",
        "provider_token",
        "question",
        "result_id",
        "secret_token",
        "shipping_query_id",
        "short_description",
        "start_parameter",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "username",
        "vcard",
        "video",
        "video_note",
        "voice",
    }
)

# Keys of a message that make up its content (copied by copyMessage / forwardMessage).
CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "animation",
    "location",
    "venue",
    "contact",
    "sticker",
    "poll",
    "dice",
)

# Fields of an update that carry a message the fake should remember.
MESSAGE_UPDATE_KEYS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
)

MEDIA_FOLDERS = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "audio": "music",
    "voice": "voice",
    "animation": "animations",
}

ERROR_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# What an administrator may do (getChatMember); the fake's administrators may do it all.
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
)

COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class FakeApiError(Exception):
    """An error answer; raise it from a custom handler (see ``FakeBotApi.set_handler``)."""

    def __init__(
        self,
        error_code: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        if description is None:
            description = ERROR_DESCRIPTIONS.get(error_code, "Error")
            if error_code == 429 and retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        parameters: dict[str, int] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


@dataclass
class RecordedFile:
    """One uploaded multipart file."""

    field: str
    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class RecordedCall:
    """One request the fake answered (successfully or not)."""

    method: str
    params: dict[str, Any]
    chat_id: int | str | None
    timestamp: float  # clock() (monotonic by default) when the request arrived
    files: dict[str, RecordedFile] = field(default_factory=dict)
    status: int = 200
    result: Any = None  # the JSON "result" sent back, when ok
    description: str | None = None  # the error description, when not ok

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def text(self) -> str | None:
        """The text, or else the caption, that was sent."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    def file(self, value: str | None = None) -> RecordedFile | None:
        """The upload a parameter refers to: ``call.file("document")`` or an ``attach://`` ref.

        Without an argument: the only (or first) uploaded file.
        """
        if value is None:
            return next(iter(self.files.values()), None)
        ref = self.params.get(value, value)
        if isinstance(ref, str) and ref.startswith("attach://"):
            return self.files.get(ref.removeprefix("attach://"))
        return self.files.get(value)


@dataclass
class _Fault:
    error_code: int
    description: str | None
    retry_after: int | None
    times: int
    chat_id: int | str | None
    migrate_to_chat_id: int | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes | None = None
    file_path: str | None = None
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int | None:
        return None if self.content is None else len(self.content)


Handler = Callable[[RecordedCall], Any]
Predicate = Callable[[RecordedCall], bool]


def _decode_field(key: str, value: str) -> Any:
    if key in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _unique_id(file_id: str) -> str:
    return f"AQAD{zlib.crc32(file_id.encode()):08x}"


def _update_type(update: dict[str, Any]) -> str | None:
    return next((key for key in update if key != "update_id"), None)


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """What Telegram echoes of a reply_markup: inline keyboards only, and not empty ones."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return markup
    return None


def _is_send(method: str) -> bool:
    """Methods that post a new message (the ones Telegram rate-limits). ``method`` lowercase."""
    if method == "sendchataction":
        return False
    return method.startswith(("send", "copymessage", "forwardmessage"))


def _targets_chat(method: str) -> bool:
    """Methods that fail with 403 when the bot is blocked in / kicked from the chat."""
    return method.startswith(("send", "copymessage", "forwardmessage", "edit")) or method in {
        "deletemessage",
        "deletemessages",
    }


class FakeBotApi:
    """A fake Telegram Bot API server on 127.0.0.1 (a free port); see the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = DEFAULT_USERNAME,
        first_name: str = "Redgrid Test Bot",
        enforce_limits: bool = False,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
    ) -> None:
        prefix = token.split(":", 1)[0]
        if not prefix.isdigit():
            msg = f"token must look like '123456:ABC...', got {token!r}"
            raise ValueError(msg)
        self.token = token
        self.host = host
        self.enforce_limits = enforce_limits
        self.clock = clock
        self.bot_user: dict[str, Any] = {
            "id": int(prefix),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

        self.calls: list[RecordedCall] = []
        self.rate_limited = 0
        self.webhook_url = ""
        self.menu_buttons: dict[int | str | None, dict[str, Any]] = {}
        self.blocked: set[int | str] = set()

        self._updates: deque[dict[str, Any]] = deque()
        self._last_update_id = 0
        self._allowed_updates: list[str] | None = None
        self._pollers: set[asyncio.Future[str]] = set()
        self._waiters: list[tuple[Predicate, asyncio.Future[RecordedCall]]] = []

        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = defaultdict(int)
        self._chats: dict[int, dict[str, Any]] = {}
        self._members: dict[tuple[int, int], dict[str, Any]] = {}
        self._username_ids: dict[str, int] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, _StoredFile] = {}
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._custom: dict[str, tuple[str, Handler]] = {}
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int | str, deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1)

        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port: int | None = None

        self._methods: dict[str, tuple[str, Handler]] = {}
        for name, handler in {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getFile": self._get_file,
            "sendMessage": self._send_message,
            "sendPhoto": self._media_sender("photo"),
            "sendDocument": self._media_sender("document"),
            "sendVideo": self._media_sender("video"),
            "sendAudio": self._media_sender("audio"),
            "sendVoice": self._media_sender("voice"),
            "sendAnimation": self._media_sender("animation"),
            "sendMediaGroup": self._send_media_group,
            "sendLocation": self._send_location,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
        }.items():
            self._methods[name.lower()] = (name, handler)
        for name in (
            "pinChatMessage",
            "unpinChatMessage",
            "unpinAllChatMessages",
            "setMessageReaction",
            "deleteMessages",
            "leaveChat",
            "setMyName",
            "setMyDescription",
            "setMyShortDescription",
            "logOut",
            "close",
        ):
            self._methods[name.lower()] = (name, self._true)

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self.port is None:
            msg = "FakeBotApi is not started"
            raise RuntimeError(msg)
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, self.host, 0).start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; pending long polls return [] and pending ``wait_for`` calls fail."""
        self._closing = True
        self._wake_pollers("closing")
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(RuntimeError("FakeBotApi stopped while waiting for a call"))
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ updates

    def push_update(self, update: dict[str, Any] | Update, *, validate: bool = True) -> dict:
        """Queue an update for getUpdates; returns it as queued (with its update_id).

        A missing update_id is assigned (one more than the last). ``validate`` checks it
        against aiogram's ``Update`` model here, where a mistake is easy to see, instead of
        in the polling loop, which would only log it and retry forever.
        """
        if isinstance(update, Update):
            data = update.model_dump(mode="json", exclude_none=True, by_alias=True)
        else:
            data = dict(update)
        if data.get("update_id") is None:
            data["update_id"] = self._last_update_id + 1
        elif data["update_id"] <= self._last_update_id:
            last = self._last_update_id
            msg = f"update_id {data['update_id']} is not above the last one ({last})"
            raise ValueError(msg)
        if validate:
            Update.model_validate(data)
        self._last_update_id = data["update_id"]
        self._remember_update(data)
        self._updates.append(data)
        self._wake_pollers("update")
        return data

    def push_message(
        self,
        text: str | None = None,
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        from_user: dict[str, Any] | None = None,
        message_id: int | None = None,
        **fields: Any,
    ) -> dict:
        """Queue a ``message`` update from a user; extra message fields go in ``fields``.

        The sender defaults to the private chat's user (or user 1001 in a group); a text
        starting with "/" gets its bot_command entity, as Telegram adds one.
        """
        chat = self._chat(chat_id)
        if from_user is None:
            uid = user_id if user_id is not None else (chat["id"] if chat["id"] > 0 else 1001)
            first_name = chat.get("first_name") if uid == chat["id"] else None
            from_user = {"id": uid, "is_bot": False, "first_name": first_name or f"User {uid}"}
        if message_id is None:
            message_id = self._last_message_id[chat["id"]] + 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": from_user,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                entity = {"type": "bot_command", "offset": 0, "length": len(command)}
                message["entities"] = [entity]
        message.update(fields)
        return self.push_update({"message": message})

    def push_callback(
        self,
        data: str,
        *,
        chat_id: int = 1001,
        message_id: int | None = None,
        user_id: int | None = None,
        from_user: dict[str, Any] | None = None,
    ) -> dict:
        """Queue a ``callback_query`` update: a user pressed an inline button with ``data``.

        ``message_id`` defaults to the chat's latest message; the message attached is the
        one the fake remembers (as the bot sent it, keyboard included) when it knows it.
        """
        chat = self._chat(chat_id)
        if message_id is None:
            message_id = self._last_message_id[chat["id"]] or 1
        message = self._messages.get((chat["id"], message_id)) or {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
        }
        if from_user is None:
            uid = user_id if user_id is not None else (chat["id"] if chat["id"] > 0 else 1001)
            from_user = {"id": uid, "is_bot": False, "first_name": f"User {uid}"}
        callback = {
            "id": str(next(self._ids)),
            "from": from_user,
            "chat_instance": str(chat["id"]),
            "data": data,
            "message": message,
        }
        return self.push_update({"callback_query": callback})

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return len(self._updates)

    def _remember_update(self, data: dict[str, Any]) -> None:
        for key in MESSAGE_UPDATE_KEYS:
            message = data.get(key)
            if isinstance(message, dict):
                self._remember_message(message)
        callback = data.get("callback_query")
        if isinstance(callback, dict) and isinstance(callback.get("message"), dict):
            message = callback["message"]
            chat_id = message.get("chat", {}).get("id")
            if message.get("date") and (chat_id, message.get("message_id")) not in self._messages:
                self._remember_message(message)

    def _remember_message(self, message: dict[str, Any]) -> None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            return
        chat_id = chat["id"]
        self._chats[chat_id] = chat
        message_id = message.get("message_id", 0)
        self._messages[(chat_id, message_id)] = message
        self._last_message_id[chat_id] = max(self._last_message_id[chat_id], message_id)

    def _wake_pollers(self, reason: str) -> None:
        for future in self._pollers:
            if not future.done():
                future.set_result(reason)

    # ------------------------------------------------------------------ faults and limits

    def block_chat(self, chat_id: int | str) -> None:
        """Every send/edit/delete in this chat fails with 403 from now on."""
        self.blocked.add(chat_id)

    def unblock_chat(self, chat_id: int | str) -> None:
        self.blocked.discard(chat_id)

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        *,
        chat_id: int | str | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id``, if given) with an error.

        A 429 without ``retry_after`` gets retry_after=1, as Telegram always sends one.
        ``migrate_to_chat_id``: the group became that supergroup (a 400 with the new id).
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(error_code, description, retry_after, times, chat_id, migrate_to_chat_id)
        self._faults[method.lower()].append(fault)

    def reset_limits(self) -> None:
        """Forget the rate-limit windows (not the ``rate_limited`` count)."""
        self._global_window.clear()
        self._chat_windows.clear()

    def set_handler(self, method: str, handler: Handler) -> None:
        """Answer ``method`` with ``handler(call)`` (sync or async; raise FakeApiError to fail).

        Overrides the built-in handler, or adds a method the fake does not know.
        """
        self._custom[method.lower()] = (method, handler)

    def _check_faults(self, key: str, call: RecordedCall) -> None:
        faults = self._faults.get(key)
        if faults:
            for fault in faults:
                if fault.chat_id is None or fault.chat_id == call.chat_id:
                    fault.times -= 1
                    if fault.times <= 0:
                        faults.remove(fault)
                    raise FakeApiError(
                        fault.error_code,
                        fault.description,
                        retry_after=fault.retry_after,
                        migrate_to_chat_id=fault.migrate_to_chat_id,
                    )
        if call.chat_id is not None and call.chat_id in self.blocked and _targets_chat(key):
            raise FakeApiError(403, self._blocked_description(call.chat_id))
        if self.enforce_limits and _is_send(key):
            self._check_rate(call.chat_id)

    def _blocked_description(self, chat_id: int | str) -> str:
        if isinstance(chat_id, int) and chat_id > 0:
            return "Forbidden: bot was blocked by the user"
        if isinstance(chat_id, int) and str(chat_id).startswith("-100"):
            return "Forbidden: bot was kicked from the supergroup chat"
        if isinstance(chat_id, int):
            return "Forbidden: bot was kicked from the group chat"
        return "Forbidden: bot is not a member of the channel chat"

    def _check_rate(self, chat_id: int | str | None) -> None:
        now = self.clock()
        waits: list[float] = []
        windows = [(self._global_window, *GLOBAL_LIMIT)]
        if chat_id is not None:
            private = isinstance(chat_id, int) and chat_id > 0
            limit = PRIVATE_CHAT_LIMIT if private else GROUP_CHAT_LIMIT
            windows.append((self._chat_windows[chat_id], *limit))
        for window, capacity, period in windows:
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= capacity:
                waits.append(window[0] + period - now)
        if waits:
            self.rate_limited += 1
            retry_after = max(1, math.ceil(max(waits)))
            raise FakeApiError(429, retry_after=retry_after)
        for window, _, _ in windows:
            window.append(now)

    # ------------------------------------------------------------------ recording

    def sent(
        self,
        method: str | None = None,
        chat_id: int | str | None = None,
        *,
        ok: bool | None = None,
    ) -> list[RecordedCall]:
        """Recorded calls of ``method`` (any method addressed to a chat when None),
        to ``chat_id`` when given, and only the successful / failed ones when ``ok`` is given.
        """
        key = method.lower() if method else None
        return [
            call
            for call in self.calls
            if (call.method.lower() == key if key else call.chat_id is not None)
            and (chat_id is None or call.chat_id == chat_id)
            and (ok is None or call.ok == ok)
        ]

    async def wait_for(
        self,
        predicate: Predicate | str,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """The first recorded call matching ``predicate`` (a function, or a method name),
        waiting up to ``timeout`` seconds for it; TimeoutError lists what was recorded.
        """
        if isinstance(predicate, str):
            name = predicate.lower()

            def matches(call: RecordedCall) -> bool:
                return call.method.lower() == name

        else:
            matches = predicate
        for call in self.calls:
            if matches(call):
                return call
        future: asyncio.Future[RecordedCall] = asyncio.get_running_loop().create_future()
        entry = (matches, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            methods = [call.method for call in self.calls]
            if len(methods) > 50:
                methods = [f"... {len(methods) - 50} earlier", *methods[-50:]]
            msg = f"no matching call within {timeout}s; recorded: {methods}"
            raise TimeoutError(msg) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def clear(self) -> None:
        """Forget the recorded calls."""
        self.calls.clear()

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set for a scope (default: {"type": "default"}) and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    def add_file(
        self,
        file_id: str,
        content: bytes,
        *,
        file_path: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Make ``file_id`` known to getFile and its bytes downloadable; returns its file_path."""
        stored = _StoredFile(
            file_id=file_id,
            file_unique_id=_unique_id(file_id),
            content=content,
            file_path=file_path,
            file_name=file_name,
            mime_type=mime_type,
        )
        return self._store_file(stored, "documents")

    def set_chat(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        """Set what the fake says about a chat (title, username, first_name, ...)."""
        chat = {**self._chat(chat_id), **fields}
        self._chats[chat_id] = chat
        return chat

    def set_chat_member(self, chat_id: int, user_id: int, status: str, **fields: Any) -> None:
        """Say what getChatMember answers for this user in this chat ("creator",
        "administrator", "member", "restricted", "left", "kicked"); an administrator gets
        every right unless ``fields`` says otherwise. Unset users are ordinary members."""
        member: dict[str, Any] = {"status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(dict.fromkeys(ADMIN_RIGHTS, True), can_be_edited=False)
            member["is_anonymous"] = False
        member.update(fields)
        self._members[(chat_id, user_id)] = member

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The fake's current copy of a message (sent by the bot or pushed in an update)."""
        return self._messages.get((chat_id, message_id))

    def _record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        for matches, future in list(self._waiters):
            if future.done():
                continue
            try:
                if matches(call):
                    future.set_result(call)
            except Exception as exc:  # a broken predicate must fail its test, not the server
                future.set_exception(exc)

    # ------------------------------------------------------------------ HTTP

    async def _read_params(self, request: web.Request) -> tuple[dict, dict[str, RecordedFile]]:
        params: dict[str, Any] = {}
        files: dict[str, RecordedFile] = {}
        for key, value in request.query.items():
            params[key] = _decode_field(key, value)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = RecordedFile(
                            field=key,
                            filename=value.filename,
                            content=value.file.read(),
                            content_type=value.content_type,
                        )
                    elif isinstance(value, str):
                        params[key] = _decode_field(key, value)
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = self.clock()
        raw_method = request.match_info["method"]
        key = raw_method.lower()
        try:
            params, files = await self._read_params(request)
        except ValueError as exc:
            body = FakeApiError(400, f"Bad Request: {exc}").payload()
            return web.json_response(body, status=400)
        entry = self._custom.get(key) or self._methods.get(key)
        name = entry[0] if entry else raw_method
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int | str):
            chat_id = None
        call = RecordedCall(name, params, chat_id, arrived, files)
        try:
            if request.match_info["token"] != self.token:
                raise FakeApiError(401, "Unauthorized")
            if entry is None:
                raise FakeApiError(404, "Not Found")
            self._check_faults(key, call)
            result = entry[1](call)
            if inspect.isawaitable(result):
                result = await result
        except FakeApiError as exc:
            call.status = exc.error_code
            call.description = exc.description
            self._record(call)
            return web.json_response(exc.payload(), status=exc.error_code)
        call.result = result
        self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(FakeApiError(401, "Unauthorized").payload(), status=401)
        stored = self._paths.get(request.match_info["path"])
        if stored is None or stored.content is None:
            return web.json_response(FakeApiError(404, "Not Found").payload(), status=404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response(FakeApiError(404, "Not Found").payload(), status=404)

    # ------------------------------------------------------------------ helpers

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            if chat_id not in self._username_ids:
                self._username_ids[chat_id] = -1009000000001 - len(self._username_ids)
                self._chats[self._username_ids[chat_id]] = {
                    "id": self._username_ids[chat_id],
                    "type": "channel",
                    "title": chat_id[1:],
                    "username": chat_id[1:],
                }
            return self._chats[self._username_ids[chat_id]]
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            if chat_id is None or chat_id == "":
                raise FakeApiError(400, "Bad Request: chat_id is empty")
            raise FakeApiError(400, "Bad Request: chat not found")
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            elif str(chat_id).startswith("-100"):
                chat = {"id": chat_id, "type": "supergroup", "title": f"Supergroup {chat_id}"}
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    def _new_message(self, params: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        self._last_message_id[chat["id"]] += 1
        message: dict[str, Any] = {
            "message_id": self._last_message_id[chat["id"]],
            "from": self.bot_user,
            "date": int(time.time()),
            "chat": chat,
        }
        reply = params.get("reply_parameters")
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.get("reply_to_message_id")
        original = self._messages.get((chat["id"], reply_to)) if reply_to else None
        if original is not None:
            message["reply_to_message"] = {
                k: v for k, v in original.items() if k != "reply_to_message"
            }
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
        if params.get("protect_content"):
            message["has_protected_content"] = True
        message.update({k: v for k, v in content.items() if v is not None})
        markup = _inline_markup(params.get("reply_markup"))
        if markup is not None:
            self._check_markup(markup)
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    @staticmethod
    def _check_markup(markup: dict[str, Any]) -> None:
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and len(str(data).encode()) > MAX_CALLBACK_DATA_BYTES:
                    raise FakeApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    @staticmethod
    def _check_caption(caption: Any) -> None:
        if isinstance(caption, str) and len(caption) > MAX_CAPTION_LENGTH:
            raise FakeApiError(400, "Bad Request: message caption is too long")

    @staticmethod
    def _check_text(text: Any) -> None:
        if not isinstance(text, str) or not text.strip():
            raise FakeApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise FakeApiError(400, "Bad Request: message is too long")

    def _store_file(self, stored: _StoredFile, folder: str) -> str:
        if stored.file_path is None:
            suffix = PurePosixPath(stored.file_name or "").suffix
            stored.file_path = f"{folder}/file_{next(self._ids)}{suffix}"
        if stored.mime_type is None and stored.file_name:
            stored.mime_type = mimetypes.guess_type(stored.file_name)[0]
        self._files[stored.file_id] = stored
        self._paths[stored.file_path] = stored
        return stored.file_path

    def _input_file(self, kind: str, value: Any, call: RecordedCall) -> _StoredFile:
        """Resolve a photo/document/... parameter: an upload, a URL or a file_id."""
        if not isinstance(value, str) or not value:
            raise FakeApiError(400, f"Bad Request: there is no {kind} in the request")
        if value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise FakeApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            file_id = f"fake-{kind}-{next(self._ids)}"
            mime = mimetypes.guess_type(upload.filename or "")[0]
            stored = _StoredFile(
                file_id=file_id,
                file_unique_id=_unique_id(file_id),
                content=upload.content,
                file_name=upload.filename,
                mime_type=mime or upload.content_type,
            )
            self._store_file(stored, MEDIA_FOLDERS[kind])
            return stored
        if "://" in value:  # a URL Telegram would fetch
            file_id = f"fake-{kind}-{next(self._ids)}"
            stored = _StoredFile(
                file_id=file_id,
                file_unique_id=_unique_id(file_id),
                file_name=PurePosixPath(value.split("?", 1)[0]).name or None,
            )
            self._store_file(stored, MEDIA_FOLDERS[kind])
            return stored
        return self._files.get(value) or _StoredFile(value, _unique_id(value))

    def _media_object(self, kind: str, stored: _StoredFile, params: dict[str, Any]) -> Any:
        media: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if stored.size is not None:
            media["file_size"] = stored.size
        if kind == "photo":
            return [{**media, "width": 1280, "height": 960}]
        if kind in {"document", "audio", "video", "animation"} and stored.file_name:
            media["file_name"] = stored.file_name
        if kind != "photo" and stored.mime_type:
            media["mime_type"] = stored.mime_type
        if kind in {"video", "animation"}:
            media["width"] = params.get("width") or 1280
            media["height"] = params.get("height") or 720
        if kind in {"video", "animation", "audio", "voice"}:
            media["duration"] = params.get("duration") or 0
        if kind == "audio":
            for key in ("performer", "title"):
                if params.get(key):
                    media[key] = params[key]
        return media

    def _stored_or_stub(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, dict]:
        """(the message as the fake knows it or None, a stub to edit when unknown)."""
        chat = self._chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise FakeApiError(400, "Bad Request: message identifier is not specified")
        known = self._messages.get((chat["id"], message_id))
        stub = {
            "message_id": message_id,
            "from": self.bot_user,
            "date": int(time.time()),
            "chat": chat,
        }
        return known, known or stub

    def _edit(self, params: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        known, old = self._stored_or_stub(params)
        if known is not None and all(known.get(k) == v for k, v in changes.items()):
            raise FakeApiError(400, NOT_MODIFIED)
        message = {k: v for k, v in old.items() if k not in changes}
        message.update({k: v for k, v in changes.items() if v is not None})
        message["edit_date"] = int(time.time())
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    # ------------------------------------------------------------------ methods

    def _true(self, call: RecordedCall) -> bool:
        return True

    def _get_me(self, call: RecordedCall) -> dict[str, Any]:
        return self.bot_user

    async def _get_updates(self, call: RecordedCall) -> list[dict[str, Any]]:
        params = call.params
        if self.webhook_url:
            raise FakeApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"] or None
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif isinstance(offset, int) and offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        timeout = timeout if isinstance(timeout, int | float) and timeout > 0 else 0
        # Telegram answers an older long poll with 409 when a newer one arrives.
        self._wake_pollers("conflict")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            allowed = self._allowed_updates
            if allowed is not None:  # Telegram does not keep updates of types not asked for
                kept = [u for u in self._updates if _update_type(u) in allowed]
                if len(kept) != len(self._updates):
                    self._updates = deque(kept)
            batch = list(itertools.islice(self._updates, limit))
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            future: asyncio.Future[str] = loop.create_future()
            self._pollers.add(future)
            try:
                await asyncio.wait((future,), timeout=remaining)
            finally:
                self._pollers.discard(future)
            if future.done() and future.result() == "conflict":
                raise FakeApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )

    def _set_webhook(self, call: RecordedCall) -> bool:
        url = call.params.get("url")
        if not isinstance(url, str) or not url:
            raise FakeApiError(400, "Bad Request: bad webhook: URL must not be empty")
        self.webhook_url = url
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self._wake_pollers("conflict")
        return True

    def _delete_webhook(self, call: RecordedCall) -> bool:
        self.webhook_url = ""
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, call: RecordedCall) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._allowed_updates:
            info["allowed_updates"] = self._allowed_updates
        return info

    def _set_my_commands(self, call: RecordedCall) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise FakeApiError(400, "Bad Request: commands must be a list of up to 100 items")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not COMMAND_RE.match(name):
                raise FakeApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise FakeApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _delete_my_commands(self, call: RecordedCall) -> bool:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _get_my_commands(self, call: RecordedCall) -> list[dict[str, Any]]:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        return self._commands.get(key, [])

    def _set_chat_menu_button(self, call: RecordedCall) -> bool:
        button = call.params.get("menu_button")
        if not isinstance(button, dict):
            button = {"type": "default"}
        self.menu_buttons[call.chat_id] = button
        return True

    def _get_chat_menu_button(self, call: RecordedCall) -> dict[str, Any]:
        button = self.menu_buttons.get(call.chat_id) or self.menu_buttons.get(None)
        return button or {"type": "default"}

    def _answer_callback_query(self, call: RecordedCall) -> bool:
        if not call.params.get("callback_query_id"):
            raise FakeApiError(400, "Bad Request: query is too old or query ID is invalid")
        return True

    def _get_chat(self, call: RecordedCall) -> dict[str, Any]:
        chat = self._chat(call.params.get("chat_id"))
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _get_chat_member(self, call: RecordedCall) -> dict[str, Any]:
        chat = self._chat(call.params.get("chat_id"))
        user_id = call.params.get("user_id")
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise FakeApiError(400, "Bad Request: invalid user_id specified")
        if user_id == self.bot_user["id"]:
            user = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        else:
            known = self._chats.get(user_id, {})
            user = {"id": user_id, "is_bot": False}
            user["first_name"] = known.get("first_name") or f"User {user_id}"
        member = self._members.get((chat["id"], user_id), {"status": "member"})
        return {**member, "user": user}

    def _get_file(self, call: RecordedCall) -> dict[str, Any]:
        file_id = call.params.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise FakeApiError(400, "Bad Request: invalid file_id")
        stored = self._files.get(file_id)
        if stored is None:  # unknown: a path that downloads as 404
            stored = _StoredFile(file_id, _unique_id(file_id))
            stored.file_path = f"unknown/{stored.file_unique_id}"
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.size is not None:
            result["file_size"] = stored.size
        return result

    def _send_message(self, call: RecordedCall) -> dict[str, Any]:
        params = call.params
        self._check_text(params.get("text"))
        content = {
            "text": params["text"],
            "entities": params.get("entities"),
            "link_preview_options": params.get("link_preview_options"),
        }
        return self._new_message(params, content)

    def _media_sender(self, kind: str) -> Handler:
        def send(call: RecordedCall) -> dict[str, Any]:
            params = call.params
            self._chat(params.get("chat_id"))
            self._check_caption(params.get("caption"))
            stored = self._input_file(kind, params.get(kind), call)
            content = {
                kind: self._media_object(kind, stored, params),
                "caption": params.get("caption"),
                "caption_entities": params.get("caption_entities"),
            }
            if params.get("has_spoiler"):
                content["has_media_spoiler"] = True
            return self._new_message(params, content)

        return send

    def _send_media_group(self, call: RecordedCall) -> list[dict[str, Any]]:
        params = call.params
        self._chat(params.get("chat_id"))
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise FakeApiError(400, "Bad Request: media group must include 2-10 items")
        group_id = str(10**12 + next(self._ids))
        resolved = []
        for item in media:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind not in {"photo", "video", "document", "audio"}:
                raise FakeApiError(400, f"Bad Request: unsupported media type {kind!r}")
            self._check_caption(item.get("caption"))
            resolved.append((kind, item, self._input_file(kind, item.get("media"), call)))
        messages = []
        for kind, item, stored in resolved:
            content = {
                "media_group_id": group_id,
                kind: self._media_object(kind, stored, item),
                "caption": item.get("caption"),
                "caption_entities": item.get("caption_entities"),
            }
            messages.append(self._new_message({**params, "reply_markup": None}, content))
        return messages

    def _send_location(self, call: RecordedCall) -> dict[str, Any]:
        params = call.params
        latitude, longitude = params.get("latitude"), params.get("longitude")
        if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
            raise FakeApiError(400, "Bad Request: wrong latitude or longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise FakeApiError(400, "Bad Request: wrong latitude or longitude")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if params.get(key) is not None:
                location[key] = params[key]
        return self._new_message(params, {"location": location})

    def _send_chat_action(self, call: RecordedCall) -> bool:
        self._chat(call.params.get("chat_id"))
        if not call.params.get("action"):
            raise FakeApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _edit_message_text(self, call: RecordedCall) -> dict[str, Any] | bool:
        params = call.params
        self._check_text(params.get("text"))
        markup = _inline_markup(params.get("reply_markup"))
        if markup is not None:
            self._check_markup(markup)
        if not params.get("inline_message_id"):
            known, _ = self._stored_or_stub(params)
            if known is not None and "text" not in known:
                raise FakeApiError(400, "Bad Request: there is no text in the message to edit")
        changes = {
            "text": params["text"],
            "entities": params.get("entities"),
            "reply_markup": markup,
        }
        return self._edit(params, changes)

    def _edit_message_reply_markup(self, call: RecordedCall) -> dict[str, Any] | bool:
        markup = _inline_markup(call.params.get("reply_markup"))
        if markup is not None:
            self._check_markup(markup)
        return self._edit(call.params, {"reply_markup": markup})

    def _edit_message_caption(self, call: RecordedCall) -> dict[str, Any] | bool:
        params = call.params
        self._check_caption(params.get("caption"))
        markup = _inline_markup(params.get("reply_markup"))
        if markup is not None:
            self._check_markup(markup)
        if not params.get("inline_message_id"):
            known, _ = self._stored_or_stub(params)
            if known is not None and "text" in known:
                raise FakeApiError(400, "Bad Request: there is no caption in the message to edit")
        changes = {
            "caption": params.get("caption"),
            "caption_entities": params.get("caption_entities"),
            "reply_markup": markup,
        }
        return self._edit(params, changes)

    def _delete_message(self, call: RecordedCall) -> bool:
        _, stub = self._stored_or_stub(call.params)
        self._messages.pop((stub["chat"]["id"], stub["message_id"]), None)
        return True

    def _source_content(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the source chat, the content of the message to copy or forward)."""
        source_chat = self._chat(params.get("from_chat_id"))
        _, source = self._stored_or_stub({**params, "chat_id": source_chat["id"]})
        content = {k: source[k] for k in CONTENT_KEYS if k in source}
        content["_date"] = source["date"]
        return source_chat, content

    def _copy_message(self, call: RecordedCall) -> dict[str, int]:
        params = call.params
        self._chat(params.get("chat_id"))
        _, content = self._source_content(params)
        content.pop("_date")
        if "caption" in params:
            content["caption"] = params["caption"]
            content["caption_entities"] = params.get("caption_entities")
        self._check_caption(content.get("caption"))
        message = self._new_message(params, content)
        return {"message_id": message["message_id"]}

    def _forward_message(self, call: RecordedCall) -> dict[str, Any]:
        params = call.params
        self._chat(params.get("chat_id"))
        source_chat, content = self._source_content(params)
        date = content.pop("_date")
        if source_chat["type"] == "private":
            sender = {
                "id": source_chat["id"],
                "is_bot": False,
                "first_name": source_chat.get("first_name") or f"User {source_chat['id']}",
            }
            origin = {"type": "user", "date": date, "sender_user": sender}
        else:
            origin = {"type": "chat", "date": date, "sender_chat": source_chat}
        content["forward_origin"] = origin
        return self._new_message({**params, "reply_markup": None}, content)
