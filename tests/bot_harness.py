"""Drive the real Dispatcher with real Update objects, no network.

``RecordingSession`` stands in for the HTTP session (like aiogram's own ``MockedSession``):
it records every Bot API call and answers with a plausible result. ``BotHarness`` builds
the bot and dispatcher through the production factories and offers people who type,
send photos and locations, and press buttons.

    harness.resident.text("/start")
    harness.resident.press(button)          # an InlineKeyboardButton from a recorded call
    harness.calls_to(chat_id)               # what the bot sent there
"""

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    GetChatMember,
    SendDocument,
    SendLocation,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberMember,
    Contact,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Location,
    Message,
    PhotoSize,
    Sticker,
    TelegramObject,
    Update,
    User,
)

from redgrid.bot.factory import create_bot, create_dispatcher
from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import OutboxSender
from redgrid.bot.pacing import Limits, SendPacer
from redgrid.bot.settings import Settings
from redgrid.bot.storage import DatabaseStorage, PerKeyIsolation
from redgrid.services.categories import load_categories

BOT_ID = 424242
TOKEN = f"{BOT_ID}:TEST-token"
BOT_USER = User(id=BOT_ID, is_bot=True, first_name="redgrid", username="redgrid_test_bot")


@dataclass
class RecordedCall:
    method: TelegramMethod
    result: Any

    @property
    def name(self) -> str:
        return type(self.method).__name__

    @property
    def chat_id(self) -> int | None:
        return getattr(self.method, "chat_id", None)

    @property
    def text(self) -> str:
        """The text or caption a person reads."""
        return getattr(self.method, "text", None) or getattr(self.method, "caption", None) or ""

    @property
    def buttons(self) -> list[InlineKeyboardButton]:
        markup = getattr(self.method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            return [button for row in markup.inline_keyboard for button in row]
        return []

    def button(self, text_part: str) -> InlineKeyboardButton:
        """The button whose label contains ``text_part``."""
        for button in self.buttons:
            if text_part in button.text:
                return button
        labels = [button.text for button in self.buttons]
        raise AssertionError(f"no button containing {text_part!r} in {labels}")


class RecordingSession(BaseSession):
    """Records calls and fabricates results; chats in ``blocked`` answer 403, those in
    ``gone`` 400 "chat not found" (a deleted account or group). getChatMember answers from
    ``chat_members`` ((chat id, user id) -> ChatMember), else an ordinary member; a method
    in ``failing`` raises the error made for it (Telegram refused, or could not be reached).
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[RecordedCall] = []
        self.blocked: set[int] = set()
        self.gone: set[int] = set()
        self.chat_members: dict[tuple[int, int], ChatMember] = {}
        self.failing: dict[type[TelegramMethod], Callable[[TelegramMethod], TelegramAPIError]] = {}
        self._message_ids = itertools.count(1000)

    async def close(self) -> None:
        pass

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover
        raise NotImplementedError

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None):
        chat_id = getattr(method, "chat_id", None)
        if chat_id in self.blocked:
            raise TelegramForbiddenError(method=method, message="Forbidden: bot was blocked")
        if chat_id in self.gone:
            raise TelegramBadRequest(method=method, message="Bad Request: chat not found")
        if type(method) in self.failing:
            raise self.failing[type(method)](method)
        result = self._result(method)
        self.calls.append(RecordedCall(method, result))
        return result

    def _message(self, method: TelegramMethod, **content: Any) -> Message:
        chat_id = method.chat_id
        chat_type = "private" if int(chat_id) > 0 else "supergroup"
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type=chat_type),
            from_user=BOT_USER,
            **content,
        )

    def _result(self, method: TelegramMethod) -> Any:
        if isinstance(method, SendMessage):
            # Telegram echoes inline keyboards only, never reply keyboards.
            markup = method.reply_markup
            inline = markup if isinstance(markup, InlineKeyboardMarkup) else None
            return self._message(method, text=method.text, reply_markup=inline)
        if isinstance(method, SendPhoto):
            photo = [PhotoSize(file_id=str(method.photo), file_unique_id="u", width=1, height=1)]
            return self._message(method, photo=photo, caption=method.caption)
        if isinstance(method, SendMediaGroup):
            return [self._message(method, caption=media.caption) for media in method.media]
        if isinstance(method, SendLocation):
            location = Location(latitude=method.latitude, longitude=method.longitude)
            return self._message(method, location=location)
        if isinstance(method, SendDocument):
            document = Document(file_id="doc", file_unique_id="doc")
            return self._message(method, document=document, caption=method.caption)
        if isinstance(method, EditMessageText | EditMessageReplyMarkup):
            return True
        if isinstance(method, GetChatMember):
            member = self.chat_members.get((method.chat_id, method.user_id))
            user = User(id=method.user_id, is_bot=False, first_name=f"User {method.user_id}")
            return member or ChatMemberMember(user=user)
        if type(method).__name__ == "GetMe":
            return BOT_USER
        return True


def mount(value: Any, bot: Bot) -> Any:
    """Bind every object of an update to the bot, as polling and webhooks do when they
    validate Telegram's JSON with the bot in the context. (aiogram would otherwise dump the
    update and validate it again, a cost no production update pays.)"""
    if isinstance(value, TelegramObject):
        value.as_(bot)
        for name in type(value).model_fields:
            mount(getattr(value, name), bot)
    elif isinstance(value, list | tuple):
        for item in value:
            mount(item, bot)
    return value


def messages(calls: list[RecordedCall]) -> list[RecordedCall]:
    """The messages among the calls (not callback answers, chat actions or edits)."""
    return [call for call in calls if call.name in ("SendMessage", "SendPhoto", "SendDocument")]


@dataclass
class Person:
    """Someone who talks to the bot in a private chat."""

    harness: "BotHarness"
    user: User
    last_message: Message | None = None
    last_pressed: Message | None = None  # the message whose button they pressed last

    @property
    def id(self) -> int:
        return self.user.id

    def _message(self, **content: Any) -> Message:
        message = Message(
            message_id=next(self.harness.update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=self.user.id, type="private"),
            from_user=self.user,
            **content,
        )
        self.last_message = message
        return message

    async def send(self, **content: Any) -> list[RecordedCall]:
        """Send a message with any content (text=..., photo=..., sticker=...)."""
        update = Update(update_id=next(self.harness.update_ids), message=self._message(**content))
        return await self.harness.feed(update)

    async def text(self, text: str) -> list[RecordedCall]:
        return await self.send(text=text)

    async def photo(self, file_id: str = "photo-1", media_group_id: str | None = None):
        sizes = [PhotoSize(file_id=file_id, file_unique_id=f"u-{file_id}", width=800, height=600)]
        return await self.send(photo=sizes, media_group_id=media_group_id)

    async def location(self, latitude: float, longitude: float, live_period: int | None = None):
        location = Location(latitude=latitude, longitude=longitude, live_period=live_period)
        return await self.send(location=location)

    async def contact(self, phone: str) -> list[RecordedCall]:
        contact = Contact(phone_number=phone, first_name=self.user.first_name, user_id=self.id)
        return await self.send(contact=contact)

    async def sticker(self) -> list[RecordedCall]:
        sticker = Sticker(
            file_id="sticker",
            file_unique_id="sticker",
            type="regular",
            width=1,
            height=1,
            is_animated=False,
            is_video=False,
        )
        return await self.send(sticker=sticker)

    async def press(
        self, button: InlineKeyboardButton | str, message_chat_id: int | None = None
    ) -> list[RecordedCall]:
        """Press an inline button (or send raw callback data, as a forger would)."""
        data = button if isinstance(button, str) else button.callback_data
        chat_id = message_chat_id if message_chat_id is not None else self.id
        message = Message(
            message_id=next(self.harness.update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            from_user=BOT_USER,
            text="…",
        )
        self.last_pressed = message
        query = CallbackQuery(
            id=str(next(self.harness.update_ids)),
            from_user=self.user,
            chat_instance="ci",
            message=message,
            data=data,
        )
        update = Update(update_id=next(self.harness.update_ids), callback_query=query)
        return await self.harness.feed(update)


@dataclass
class BotHarness:
    settings: Settings
    bot: Bot
    session: RecordingSession
    dispatcher: Any
    storage: BaseStorage
    sender: OutboxSender
    update_ids: Any = field(default_factory=lambda: itertools.count(1))
    _user_ids: Any = field(default_factory=lambda: itertools.count(7_000_001))

    def person(self, first_name: str = "Li", language_code: str | None = "zh-hans") -> Person:
        user = User(
            id=next(self._user_ids),
            is_bot=False,
            first_name=first_name,
            language_code=language_code,
        )
        return Person(self, user)

    async def feed(self, update: Update) -> list[RecordedCall]:
        """Feed one update through the whole dispatcher; returns the calls it caused."""
        before = len(self.session.calls)
        await self.dispatcher.feed_update(self.bot, mount(update, self.bot))
        await self.sender.wait_idle()
        return self.session.calls[before:]

    def calls_to(self, chat_id: int, name: str | None = None) -> list[RecordedCall]:
        return [
            call
            for call in self.session.calls
            if call.chat_id == chat_id and (name is None or call.name == name)
        ]

    def last_to(self, chat_id: int, where: Callable[[RecordedCall], bool] = bool) -> RecordedCall:
        for call in reversed(self.session.calls):
            if call.chat_id == chat_id and where(call):
                return call
        raise AssertionError(f"nothing was sent to chat {chat_id}")


@asynccontextmanager
async def bot_harness(
    settings: Settings,
    session_factory,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> AsyncIterator[BotHarness]:
    """A bot and dispatcher built by the production factories, over a recording session."""
    recording = RecordingSession()
    bot = create_bot(settings, session=recording)
    storage = storage or DatabaseStorage(session_factory)
    # No pacing: tests check what is sent, not Telegram's per-chat limits (tests/test_pacing).
    no_limits = SendPacer(
        Limits(per_second=10_000, private_chat_interval=0, group_per_minute=10_000, spacing=0)
    )
    i18n = create_i18n(settings.default_locale)
    sender = OutboxSender(
        bot, session_factory, i18n=i18n, pacer=no_limits, admin_telegram_ids=settings.admin_ids
    )
    dispatcher = create_dispatcher(
        settings,
        session_factory=session_factory,
        storage=storage,
        events_isolation=events_isolation or PerKeyIsolation(),
        i18n=i18n,
        catalogue=load_categories(),
        sender=sender,
    )
    try:
        yield BotHarness(settings, bot, recording, dispatcher, storage, sender)
    finally:
        await storage.close()
