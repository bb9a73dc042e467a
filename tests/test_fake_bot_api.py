"""The fake Bot API server, driven by a real aiogram ``Bot`` over real HTTP."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from tests.fake_bot_api import FakeBotApi, RecordedCall

TOKEN = "123456:TEST-token"
USER = 4242
GROUP = -100777


def make_bot(api: FakeBotApi, token: str = TOKEN) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    return Bot(token, session=session)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    bot = make_bot(api)
    yield bot
    await bot.session.close()


def keyboard() -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text="Accept", callback_data="case:1:accept")
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def dumped(obj: Any) -> Any:
    """An aiogram object as plain data (objects parsed from a response also hold the bot)."""
    if isinstance(obj, list):
        return [dumped(item) for item in obj]
    return obj.model_dump(exclude_none=True) if obj is not None else None


async def test_get_me(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "redgrid_test_bot"
    assert api.calls[-1].method == "getMe"
    assert api.calls[-1].ok


async def test_send_message_with_inline_keyboard(api: FakeBotApi, bot: Bot) -> None:
    first = await bot.send_message(USER, "hello", reply_markup=keyboard())
    second = await bot.send_message(USER, "again")

    assert isinstance(first, Message)
    assert first.text == "hello"
    assert first.chat.id == USER
    assert first.chat.type == "private"
    assert first.from_user is not None
    assert first.from_user.id == 123456
    assert dumped(first.reply_markup) == dumped(keyboard())
    assert second.message_id == first.message_id + 1
    assert second.reply_markup is None

    call = api.sent("sendMessage", chat_id=USER)[0]
    assert call.params["text"] == "hello"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "case:1:accept"
    assert [c.text for c in api.sent(chat_id=USER)] == ["hello", "again"]


async def test_texts_that_look_like_json_stay_text(api: FakeBotApi, bot: Bot) -> None:
    message = await bot.send_message(GROUP, "123")
    assert message.text == "123"
    assert message.chat.type == "supergroup"
    assert api.sent("sendMessage")[0].params == {"chat_id": GROUP, "text": "123"}


async def test_reply_keyboards_are_not_echoed(bot: Bot) -> None:
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Share", request_location=True)]])
    message = await bot.send_message(USER, "where?", reply_markup=markup)
    assert message.reply_markup is None


async def test_telegram_refusals(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="text is empty"):
        await bot.send_message(USER, "  ")
    button = InlineKeyboardButton(text="x", callback_data="x" * 65)
    markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "hi", reply_markup=markup)


async def test_send_photo_by_file_id_and_upload(api: FakeBotApi, bot: Bot) -> None:
    by_id = await bot.send_photo(USER, "AgACAgQAAxk-photo", caption="a photo")
    assert by_id.photo is not None
    assert by_id.photo[-1].file_id == "AgACAgQAAxk-photo"
    assert by_id.caption == "a photo"

    upload = BufferedInputFile(b"\x89PNG fake", filename="map.png")
    uploaded = await bot.send_photo(USER, upload, reply_markup=keyboard())
    assert uploaded.photo is not None
    assert uploaded.photo[-1].file_size == len(b"\x89PNG fake")
    assert dumped(uploaded.reply_markup) == dumped(keyboard())

    call = api.sent("sendPhoto")[1]
    recorded = call.file("photo")
    assert recorded is not None
    assert (recorded.filename, recorded.content) == ("map.png", b"\x89PNG fake")

    # The uploaded photo can be fetched back like a real one.
    file = await bot.get_file(uploaded.photo[-1].file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == b"\x89PNG fake"


async def test_send_media_group(api: FakeBotApi, bot: Bot) -> None:
    media = [
        InputMediaPhoto(media="photo-1", caption="first"),
        InputMediaPhoto(media=BufferedInputFile(b"two", filename="2.jpg")),
    ]
    messages = await bot.send_media_group(GROUP, media)
    assert len(messages) == 2
    assert messages[0].media_group_id == messages[1].media_group_id is not None
    assert messages[0].caption == "first"
    assert messages[0].photo is not None
    assert messages[0].photo[-1].file_id == "photo-1"
    assert messages[1].message_id == messages[0].message_id + 1

    call = api.sent("sendMediaGroup")[0]
    assert call.params["media"][0] == {"type": "photo", "media": "photo-1", "caption": "first"}
    upload = call.file(call.params["media"][1]["media"])
    assert upload is not None
    assert upload.content == b"two"


async def test_send_document_upload_is_recorded(api: FakeBotApi, bot: Bot) -> None:
    document = BufferedInputFile(b"col1,col2\n1,2\n", filename="report.csv")
    message = await bot.send_document(USER, document, caption="weekly report")
    assert message.document is not None
    assert message.document.file_name == "report.csv"
    assert message.document.mime_type == "text/csv"

    call = api.sent("sendDocument")[0]
    assert call.params["caption"] == "weekly report"
    assert call.params["document"].startswith("attach://")
    recorded = call.file("document")
    assert recorded is not None
    assert recorded.filename == "report.csv"
    assert recorded.content == b"col1,col2\n1,2\n"


async def test_location_edit_delete_copy_forward(api: FakeBotApi, bot: Bot) -> None:
    location = await bot.send_location(USER, latitude=31.2304, longitude=121.4737)
    assert location.location is not None
    assert location.location.latitude == pytest.approx(31.2304)

    sent = await bot.send_message(USER, "draft", reply_markup=keyboard())
    edited = await bot.edit_message_text("final", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "final"
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text("final", chat_id=USER, message_id=sent.message_id)
    marked = await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=keyboard()
    )
    assert isinstance(marked, Message)
    assert dumped(marked.reply_markup) == dumped(keyboard())

    photo = await bot.send_photo(USER, "photo-id", caption="old")
    recaptioned = await bot.edit_message_caption(
        chat_id=USER, message_id=photo.message_id, caption="new"
    )
    assert isinstance(recaptioned, Message)
    assert recaptioned.caption == "new"

    copied = await bot.copy_message(GROUP, from_chat_id=USER, message_id=sent.message_id)
    assert api.message(GROUP, copied.message_id)["text"] == "final"
    forwarded = await bot.forward_message(GROUP, from_chat_id=USER, message_id=sent.message_id)
    assert forwarded.text == "final"
    assert forwarded.forward_origin is not None
    assert await bot.delete_message(USER, sent.message_id)
    assert api.message(USER, sent.message_id) is None
    assert await bot.send_chat_action(USER, "typing")


async def test_commands_menu_webhook_and_chat(api: FakeBotApi, bot: Bot) -> None:
    commands = [BotCommand(command="start", description="Start")]
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.set_my_commands(commands, scope=scope, language_code="zh")
    assert dumped(await bot.get_my_commands(scope=scope, language_code="zh")) == dumped(commands)
    assert await bot.get_my_commands() == []
    assert api.commands({"type": "all_private_chats"}, "zh") == [
        {"command": "start", "description": "Start"}
    ]
    assert await bot.delete_my_commands(scope=scope, language_code="zh")
    assert await bot.get_my_commands(scope=scope, language_code="zh") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])

    assert await bot.set_chat_menu_button()
    assert await bot.delete_webhook(drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.url == ""
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type) == (GROUP, "supergroup")
    assert await bot.answer_callback_query("cb-1", text="ok")


async def test_chat_members(api: FakeBotApi, bot: Bot) -> None:
    api.set_chat_member(GROUP, USER, "administrator")
    api.set_chat_member(GROUP, USER + 1, "creator")
    admin = await bot.get_chat_member(GROUP, USER)
    assert isinstance(admin, ChatMemberAdministrator)
    assert (admin.user.id, admin.can_manage_chat, admin.is_anonymous) == (USER, True, False)
    assert isinstance(await bot.get_chat_member(GROUP, USER + 1), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(GROUP, USER + 2), ChatMemberMember)
    me = await bot.get_chat_member(GROUP, 123456)
    assert me.user.is_bot
    api.fail_next("getChatMember", 400, "Bad Request: member list is inaccessible")
    with pytest.raises(TelegramBadRequest, match="inaccessible"):
        await bot.get_chat_member(GROUP, USER)


async def test_blocked_chat_is_forbidden(api: FakeBotApi, bot: Bot) -> None:
    api.block_chat(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    assert await bot.send_message(USER + 1, "others still work")
    failed = api.sent(chat_id=USER, ok=False)
    assert [(c.method, c.status) for c in failed] == [("sendMessage", 403)]


async def test_injected_errors(api: FakeBotApi, bot: Bot) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "too fast")
    assert caught.value.retry_after == 7

    api.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(USER, "boom")
    assert (await bot.send_message(USER, "recovered")).text == "recovered"
    assert api.rate_limited == 0  # injected errors are not the rate limiter's


async def test_wrong_token_and_unknown_method(api: FakeBotApi) -> None:
    wrong = make_bot(api, token="654321:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()

    async with aiohttp.ClientSession() as session:  # aiogram cannot call unknown methods
        url = f"{api.base_url}/bot{TOKEN}/noSuchMethod"
        async with session.post(url) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }


async def test_get_updates_offset_limit_and_long_poll(api: FakeBotApi, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        api.push_message(text, chat_id=USER)
    updates = await bot.get_updates(limit=2)
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert [u.message.text for u in updates if u.message] == ["three"]
    assert api.pending_updates == 1
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert api.pending_updates == 0

    loop = asyncio.get_running_loop()
    started = loop.time()
    loop.call_later(0.05, lambda: api.push_message("late", chat_id=USER))
    updates = await bot.get_updates(timeout=10)
    assert [u.message.text for u in updates if u.message] == ["late"]
    assert loop.time() - started < 1


async def test_push_callback_carries_the_bots_message(api: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "choose", reply_markup=keyboard())
    api.push_callback("case:1:accept", chat_id=USER)
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.data == "case:1:accept"
    assert query.from_user.id == USER
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert dumped(query.message.reply_markup) == dumped(keyboard())

    # Updates of types the poller did not ask for are dropped, as Telegram does.
    api.push_message("ignored", chat_id=USER)
    assert (
        await bot.get_updates(offset=update.update_id + 1, allowed_updates=["callback_query"]) == []
    )
    assert api.pending_updates == 0


async def test_dispatcher_polls_and_answers(api: FakeBotApi, bot: Bot) -> None:
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))

    api.push_message("hi there", chat_id=USER)
    call = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == USER, timeout=3)
    assert call.params["text"] == "echo: hi there"

    await dp.stop_polling()
    await asyncio.wait_for(polling, timeout=3)
    assert polling.done()
    assert polling.exception() is None


async def test_wait_for_times_out_with_recorded_methods(api: FakeBotApi, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(TimeoutError, match="getMe"):
        await api.wait_for("sendMessage", timeout=0.05)


async def test_stop_releases_a_pending_long_poll(api: FakeBotApi, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(api.stop(), timeout=2)
    assert await asyncio.wait_for(poll, timeout=2) == []


async def test_enforced_rate_limits() -> None:
    now = [100.0]
    async with FakeBotApi(token=TOKEN, enforce_limits=True, clock=lambda: now[0]) as api:
        bot = make_bot(api)
        try:
            # 1/s in a private chat: 3 quick sends, 2 refused.
            results = await asyncio.gather(
                *(bot(SendMessage(chat_id=USER, text=f"#{i}")) for i in range(3)),
                return_exceptions=True,
            )
            refused = [r for r in results if isinstance(r, TelegramRetryAfter)]
            assert len(refused) == 2
            assert all(r.retry_after == 1 for r in refused)
            assert api.rate_limited == 2
            now[0] += 1.0
            assert await bot.send_message(USER, "a second later")

            # 20/min in a group.
            for i in range(20):
                await bot.send_message(GROUP, f"g{i}")
                now[0] += 0.05
            with pytest.raises(TelegramRetryAfter) as caught:
                await bot.send_message(GROUP, "one too many")
            assert 55 <= caught.value.retry_after <= 60

            # 30/s overall; chat actions and edits are not sends.
            now[0] += 60
            for i in range(30):
                await bot.send_message(USER + 1 + i, "broadcast")
            assert await bot.send_chat_action(USER, "typing")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(USER + 100, "31st")
            assert api.rate_limited == 4
            assert len(api.sent("sendMessage", ok=True)) == 1 + 1 + 20 + 30
        finally:
            await bot.session.close()


def test_recorded_call_helpers() -> None:
    call = RecordedCall("sendPhoto", {"chat_id": 1, "caption": "c"}, 1, 0.0)
    assert call.ok
    assert call.text == "c"
    assert call.file("photo") is None
