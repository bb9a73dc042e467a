"""One reply to an album.

Telegram sends an album as one message per photo, sharing ``media_group_id``, and the bot
sees one update each. A step that answered every one of them would flood the chat, so:

- a step that takes the photos (``album_of`` + ``reply``) answers the album's first photo
  with a message that its later photos edit (the count goes up);
- a hint for something a step does not expect (``answered``) goes to the album's first
  photo only, and so does the idle fallback's menu;
- a step that ends with an album's first photo (Resolve's photo of the result) marks the
  album answered (``mark_answered``), so its later photos get no idle menu.

What was answered lives in the conversation data under ``answered_album``, written with the update
like every step. A person's updates are handled one at a time, each seeing the last one's
conversation data: within a process by the update lock, across instances (which share
Redis, see docs/deployment.md) by Redis's lock. The limit: Redis's lock expires after a
minute, so an update stuck longer than that may overlap the album's next photo, which
then gets a reply of its own.
"""

from dataclasses import dataclass, field

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message

# Not "album": the informant's report keeps its own album id under that name.
KEY = "answered_album"


@dataclass(slots=True)
class Album:
    """The album a message belongs to (``group`` None: it is a message of its own), as far
    as the step has answered it: its reply's message, and the step's counts."""

    group: str | None
    message_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)


async def album_of(message: Message, state: FSMContext) -> Album:
    """The album so far; a fresh one for a message outside an album or an album's first."""
    group = message.media_group_id
    saved = (await state.get_data()).get(KEY) or {}
    if group is None or saved.get("group") != group:
        return Album(group)
    return Album(group, saved.get("message_id"), dict(saved.get("counts", {})))


async def reply(
    message: Message,
    state: FSMContext,
    album: Album,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Answer with ``text``: the album's reply edited when it has one, else a new message
    (which the album's later photos will edit). The album is saved either way."""
    if album.message_id is not None:
        try:
            await message.bot.edit_message_text(
                text=text,
                chat_id=message.chat.id,
                message_id=album.message_id,
                reply_markup=reply_markup,
            )
        except TelegramBadRequest as error:
            if "not modified" not in error.message:  # gone: a new reply takes its place
                album.message_id = None
    if album.message_id is None:
        sent = await message.answer(text, reply_markup=reply_markup)
        album.message_id = sent.message_id
    await save(state, album)


async def save(state: FSMContext, album: Album) -> None:
    """Keep what was answered of an album (a message of its own needs nothing kept)."""
    if album.group is not None:
        await state.update_data(
            {KEY: {"group": album.group, "message_id": album.message_id, "counts": album.counts}}
        )


async def answered(message: Message, state: FSMContext) -> bool:
    """Whether this message is a later photo of an album that was already answered (so it
    gets no reply); else an album is marked as answered from now on."""
    album = await album_of(message, state)
    if album.group is None:
        return False
    if album.counts.get("hinted") or album.message_id is not None:
        return True
    await mark_answered(state, album)
    return False


async def mark_answered(state: FSMContext, album: Album) -> None:
    """The album's later photos get no reply: the step that took its first photo answered
    for all of it (and may have ended, so they would otherwise reach the idle menu)."""
    album.counts["hinted"] = 1
    await save(state, album)
