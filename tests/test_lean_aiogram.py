"""aiogram imported lean (redgrid/lean_aiogram.py) builds the same models, only later.

The checks that matter run in fresh interpreters, where the order of imports is ours: one
imports redgrid first, as the bot does (lean), the other sets REDGRID_EAGER_AIOGRAM=1
(aiogram as it comes). Each feeds realistic updates and Bot API answers through aiogram,
then builds every type and method, and reports what it saw; the two reports must agree.
If an aiogram upgrade changes what the lean import relies on, these tests fail.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

PHOTO = [
    {"file_id": f"photo-{size}", "file_unique_id": f"u-{size}", "width": size, "height": size}
    for size in (90, 320, 800)
]
USER = {"id": 7001, "is_bot": False, "first_name": "李", "language_code": "zh-hans"}
BOT = {"id": 424242, "is_bot": True, "first_name": "redgrid", "username": "redgrid_test_bot"}
CHAT = {"id": 7001, "type": "private", "first_name": "李"}
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "✅ 确认", "callback_data": "dr:confirm"}],
        [{"text": "地图", "url": "https://example.org/map?lat=28.23&lon=116.60"}],
    ]
}
UPDATES = [
    {  # a photo with a caption, its entities and an inline keyboard, replying to a location
        "update_id": 1,
        "message": {
            "message_id": 11,
            "date": 1767225600,
            "chat": CHAT,
            "from": USER,
            "photo": PHOTO,
            "caption": "/new 小区门口 @redgrid_test_bot https://example.org",
            "caption_entities": [
                {"type": "bot_command", "offset": 0, "length": 4},
                {"type": "mention", "offset": 10, "length": 17},
                {"type": "url", "offset": 28, "length": 19},
            ],
            "reply_markup": KEYBOARD,
            "reply_to_message": {
                "message_id": 10,
                "date": 1767225500,
                "chat": CHAT,
                "from": USER,
                "location": {"latitude": 28.2314, "longitude": 116.6021},
            },
        },
    },
    {  # a location with text entities (as a venue-less share with a live period)
        "update_id": 2,
        "message": {
            "message_id": 12,
            "date": 1767225660,
            "chat": CHAT,
            "from": USER,
            "location": {"latitude": 28.2314, "longitude": 116.6021, "live_period": 60},
            "text": "路灯坏了 详情",
            "entities": [{"type": "text_link", "offset": 5, "length": 2, "url": "https://x.org"}],
        },
    },
    {  # a button pressed under the bot's message
        "update_id": 3,
        "callback_query": {
            "id": "4242",
            "from": USER,
            "chat_instance": "ci-1",
            "data": "dr:confirm",
            "message": {
                "message_id": 13,
                "date": 1767225700,
                "chat": CHAT,
                "from": BOT,
                "text": "确认提交？",
                "reply_markup": KEYBOARD,
            },
        },
    },
    {  # the bot added to a group as an administrator
        "update_id": 4,
        "my_chat_member": {
            "chat": {"id": -100123, "type": "supergroup", "title": "东风网格"},
            "from": USER,
            "date": 1767225800,
            "old_chat_member": {"status": "left", "user": BOT},
            "new_chat_member": {
                "status": "administrator",
                "user": BOT,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
            },
        },
    },
]
SENT = {"message_id": 14, "date": 1767225900, "chat": CHAT, "from": BOT, "text": "已收到"}


def probe() -> dict[str, Any]:
    """Run in a fresh interpreter after ``import redgrid``: what aiogram does, as data."""
    import pydantic_core
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.methods import GetUpdates, SendMessage
    from aiogram.types import InlineKeyboardMarkup, MessageEntity, Update
    from pydantic import BaseModel, TypeAdapter

    from redgrid import lean_aiogram

    models = _models()
    report: dict[str, Any] = {
        "lean": lean_aiogram.is_lean(),
        "built at import": sorted(name for name, cls in models.items() if _built(cls)),
        "model_rebuild": BaseModel.model_rebuild.__func__.__qualname__,
        "hooks left": [type(f).__name__ for f in sys.meta_path if "lean" in type(f).__module__],
    }

    # What the bot does with updates and answers.
    bot = Bot("424242:TEST-token")
    session = AiohttpSession()
    polled = session.check_response(
        bot, GetUpdates(), 200, json.dumps({"ok": True, "result": UPDATES})
    )
    updates = [Update.model_validate(data, context={"bot": bot}) for data in UPDATES]
    report["updates"] = [
        {
            "event": update.event_type,
            "same as polled": update == polled,
            "classes": _classes(update),
            "json": update.model_dump_json(exclude_unset=True),
            "python": update.model_dump(mode="json"),
            "event as Any": pydantic_core.to_json(update.event).decode(),
            "user as Any": TypeAdapter(Any).dump_python(update.event.from_user, mode="json"),
        }
        for update, polled in zip(updates, polled.result, strict=True)
    ]
    method = SendMessage(
        chat_id=7001,
        text="<b>已收到</b>",
        entities=[MessageEntity(type="bold", offset=0, length=3)],
        reply_markup=InlineKeyboardMarkup.model_validate(KEYBOARD),
    )
    shortcut = updates[0].message.answer("好的", reply_markup=method.reply_markup)
    report["requests"] = [
        {key: str(session.prepare_value(value, bot=bot, files={})) for key, value in dump.items()}
        for dump in (method.model_dump(warnings=False), shortcut.model_dump(warnings=False))
    ]
    answer = session.check_response(bot, method, 200, json.dumps({"ok": True, "result": SENT}))
    report["answer"] = [_classes(answer.result), answer.result.model_dump(mode="json")]

    # Then every other model, built where it is first asked for.
    report["built after the updates"] = sorted(n for n, cls in models.items() if _built(cls))
    report["models"] = {name: _fingerprint(cls) for name, cls in models.items()}
    report["unbuilt at the end"] = sorted(n for n, cls in models.items() if not _built(cls))
    report["names that differ"] = _namespace_conflicts()
    return report


def _models() -> dict[str, type]:
    """Every TelegramObject in aiogram.types.__all__ and TelegramMethod in aiogram.methods."""
    import aiogram.methods
    import aiogram.types
    from aiogram.methods.base import TelegramMethod
    from aiogram.types.base import TelegramObject

    models = {}
    for module, base in ((aiogram.types, TelegramObject), (aiogram.methods, TelegramMethod)):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, base) and value is not base:
                models[f"{module.__name__}.{name}"] = value
    return models


def _built(cls: type) -> bool:
    return cls.__pydantic_complete__ and cls.__pydantic_fields_complete__


def _classes(value: Any) -> Any:
    """The class of every object in a model, as a tree of names."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        fields = {name: _classes(getattr(value, name)) for name in type(value).model_fields}
        return [type(value).__qualname__, {k: v for k, v in fields.items() if v is not None}]
    if isinstance(value, list | tuple):
        return [_classes(item) for item in value]
    return None if value is None else type(value).__qualname__


def _fingerprint(cls: type) -> dict[str, Any]:
    """What a model was built from: its fields' types and its own pydantic-core schema."""
    try:
        cls.__pydantic_validator__.title  # noqa: B018 - builds it if not built yet
        fields = {name: repr(field.annotation) for name, field in cls.model_fields.items()}
        schema = _own_schema(cls.__pydantic_core_schema__)
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}
    # Reprs of functions end with their address, which differs between two interpreters.
    return {"fields": re.sub(r" at 0x[0-9a-f]+", "", json.dumps(fields)), "schema": schema}


def _own_schema(schema: Any) -> str:
    """A model's core schema, with the models it nests by reference only.

    A model nests another one either inline or by reference to its definition, depending
    on whether that other one was built first: the same validator either way. (Each
    nested model is compared in its own right.)
    """
    definitions = {}
    if schema["type"] == "definitions":
        definitions = {definition["ref"]: definition for definition in schema["definitions"]}
        schema = schema["schema"]
    if schema["type"] == "definition-ref":
        schema = definitions[schema["schema_ref"]]

    def walk(node: Any, top: bool = False) -> Any:
        if isinstance(node, list | tuple):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "definition-ref":
            return {"ref": _no_id(node["schema_ref"])}
        if "ref" in node and not top:
            return {"ref": _no_id(node["ref"])}
        return {key: _no_id(value) if key == "ref" else walk(value) for key, value in node.items()}

    return json.dumps(walk(schema, top=True), default=_name, sort_keys=True)


def _no_id(ref: str) -> str:
    """A model's ref ends with the id() of its class, which differs between interpreters."""
    return re.sub(r":\d+$", "", ref)


def _name(value: Any) -> str:
    return getattr(value, "__qualname__", None) or type(value).__qualname__


def _namespace_conflicts() -> list[str]:
    """Names that a module of aiogram's models binds to something else than aiogram.types
    does: where the lean import's module-level names and aiogram's rebuild could differ."""
    import aiogram.types

    return [
        f"{module_name}.{name}"
        for module_name, module in list(sys.modules.items())
        if module_name.startswith(("aiogram.types.", "aiogram.methods."))
        for name in aiogram.types.__all__
        if name in vars(module) and vars(module)[name] is not getattr(aiogram.types, name)
    ]


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """The probe's report from a lean and from an eager interpreter, run side by side."""
    code = (
        "import redgrid, json, sys\n"  # redgrid first, as the bot's entry points do
        "from tests.test_lean_aiogram import probe\n"
        "json.dump(probe(), sys.stdout)\n"
    )
    environ = {key: value for key, value in os.environ.items() if key != "REDGRID_EAGER_AIOGRAM"}
    processes = {
        mode: subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", code],
            cwd=ROOT,
            env=environ if mode == "lean" else {**environ, "REDGRID_EAGER_AIOGRAM": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("lean", "eager")
    }
    reports = {}
    for mode, process in processes.items():
        output, errors = process.communicate()
        assert process.returncode == 0, f"{mode}: {errors}"
        reports[mode] = json.loads(output)
    return reports


@pytest.fixture
def lean(reports) -> dict[str, Any]:
    return reports["lean"]


@pytest.fixture
def eager(reports) -> dict[str, Any]:
    return reports["eager"]


def test_importing_redgrid_leaves_aiogram_types_unbuilt_until_used(lean):
    assert lean["lean"] is True
    assert not [name for name in lean["built at import"] if name.startswith("aiogram.types.")]
    for used in ("Update", "Message", "Chat", "User", "CallbackQuery", "PhotoSize", "Location"):
        assert f"aiogram.types.{used}" in lean["built after the updates"]
    assert "aiogram.types.Poll" not in lean["built after the updates"]  # nothing used it


def test_the_lean_import_leaves_nothing_behind(lean):
    assert lean["model_rebuild"] == "BaseModel.model_rebuild"
    assert lean["hooks left"] == []
    assert lean["names that differ"] == []


def test_the_switch_imports_aiogram_as_it_comes(eager):
    assert eager["lean"] is False
    assert eager["unbuilt at the end"] == []
    types = [name for name in eager["models"] if name.startswith("aiogram.types.")]
    assert set(types) <= set(eager["built at import"])


def test_every_type_and_method_builds_lazily_as_aiogram_builds_it(lean, eager):
    errors = {name: model["error"] for name, model in lean["models"].items() if "error" in model}
    assert errors == {}
    assert lean["unbuilt at the end"] == []
    assert len(lean["models"]) > 500  # ~400 types and ~190 methods in aiogram 3.31
    different = [name for name, model in lean["models"].items() if model != eager["models"][name]]
    assert different == []


def test_updates_and_answers_come_out_the_same(lean, eager):
    events = [update["event"] for update in lean["updates"]]
    assert events == ["message", "message", "callback_query", "my_chat_member"]
    assert all(update["same as polled"] for update in lean["updates"])
    assert lean["updates"] == eager["updates"]
    assert lean["requests"] == eager["requests"]
    assert lean["answer"] == eager["answer"]


def test_a_type_first_used_at_the_top_of_a_script():
    """pydantic's own lazy build looks for the caller's namespace five frames up."""
    code = (
        "import redgrid\n"
        "from aiogram.types import Dice\n"
        "print(Dice.__pydantic_validator__.validate_python({'emoji': 'x', 'value': 6}).value)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "6\n"), result.stderr


def test_install_does_nothing_once_aiogram_is_imported():
    import aiogram.types  # noqa: F401

    from redgrid import lean_aiogram

    hooks = list(sys.meta_path)
    assert lean_aiogram.install() is False
    assert sys.meta_path == hooks


def test_another_aiogram_minor_is_left_alone(monkeypatch):
    from redgrid import lean_aiogram

    monkeypatch.setattr(lean_aiogram, "_installed_version", lambda: "3.32.0")
    assert lean_aiogram._Hook().find_spec("aiogram", None) is None


@pytest.mark.skipif(bool(os.environ.get("REDGRID_EAGER_AIOGRAM")), reason="switched off")
def test_the_suite_itself_runs_on_lean_aiogram():
    """conftest imports redgrid before any test imports aiogram, as the bot does."""
    from redgrid import lean_aiogram

    assert lean_aiogram.is_lean()
