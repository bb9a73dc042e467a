"""Greeting, menu, language and cancel through the real dispatcher, in both languages."""

from datetime import UTC, datetime

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import (
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    Message,
    Update,
)
from sqlalchemy import event, func
from sqlmodel import select

from redgrid.bot.settings import Settings
from redgrid.handlers import common
from redgrid.models import Person
from tests.bot_harness import BOT_ID, BOT_USER, TOKEN, bot_harness, messages


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({1}))


@pytest.fixture
async def harness(settings, session_factory):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


async def test_start_greets_in_the_clients_language(harness):
    zh = harness.person(language_code="zh-hans")
    en = harness.person(language_code="en-GB")
    [reply] = await zh.text("/start")
    assert "东乡区" in reply.text
    assert reply.button("投诉")
    [reply] = await en.text("/start")
    assert "Dongxiang District" in reply.text
    assert reply.button("Raise a complaint")


async def test_language_switch_is_saved(harness):
    person = harness.person(language_code="en")
    [prompt] = await person.text("/language")
    [reply] = messages(await person.press(prompt.button("中文")))
    assert "中文" in reply.text
    [reply] = await person.text("/start")
    assert "东乡区" in reply.text


async def test_forged_language_button_is_refused(harness):
    person = harness.person(language_code="en")
    [answer] = await person.press("l1:xx")
    assert answer.name == "AnswerCallbackQuery"
    assert "no longer valid" in answer.method.text


async def test_unknown_input_gets_a_hint(harness):
    person = harness.person(language_code="en")
    [reply] = await person.sticker()
    assert "did not understand" in reply.text


@pytest.mark.parametrize("data", ["zz:1", "", "m1:nonsense", "x" * 64])
async def test_unknown_buttons_are_refused_politely(harness, data):
    person = harness.person(language_code="zh-hans")
    [answer] = await person.press(data)
    assert answer.name == "AnswerCallbackQuery"
    assert answer.method.show_alert is True
    assert "失效" in answer.method.text


async def test_a_failing_handler_rolls_back_and_apologises(harness, monkeypatch, session_factory):
    """A crash in a handler leaves nothing half-written and the person hears about it."""

    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(common, "help_text", explode)
    person = harness.person(language_code="zh-hans")
    [apology] = await person.text("/help")
    assert "出错" in apology.text
    async with session_factory() as session:
        count = (await session.exec(select(func.count()).select_from(Person))).one()
    assert count == 0  # even the new person's row was rolled back


async def test_a_step_no_handler_knows_gets_a_way_out(harness):
    """A conversation step saved by an older version of the bot (renamed since) must not
    leave the person talking to silence: they are told how to get out, in their language."""
    person = harness.person(language_code="zh-hans")
    await person.text("/start")
    key = StorageKey(bot_id=BOT_ID, chat_id=person.id, user_id=person.id)
    await harness.storage.set_state(key, "Complaint:renamed_step")
    for send in (person.text("你好"), person.sticker()):
        [reply] = messages(await send)
        assert "/cancel" in reply.text
        assert "没有看懂" in reply.text
    assert await harness.storage.get_state(key) == "Complaint:renamed_step"
    [cancelled, _menu] = await person.text("/cancel")
    assert "已取消" in cancelled.text


async def test_a_draft_an_older_version_left_incomplete_gets_a_way_out(harness):
    """A draft saved by an older version may lack what a step now expects: the step then
    fails on every try. The apology must show the way out instead of a loop of "try
    again"; /cancel clears the broken draft."""
    person = harness.person(language_code="zh-hans")
    await person.text("/start")
    key = StorageKey(bot_id=BOT_ID, chat_id=person.id, user_id=person.id)
    await harness.storage.set_state(key, "Complaint:photos")
    await harness.storage.set_data(key, {"category": "noise"})  # no description
    for _attempt in range(2):
        apology = messages(await person.photo())[-1]
        assert "出错" in apology.text
        assert "/cancel" in apology.text
    [cancelled, _menu] = await person.text("/cancel")
    assert "已取消" in cancelled.text
    assert await harness.storage.get_state(key) is None


async def test_the_apology_speaks_the_chosen_language(harness, monkeypatch):
    """An English client who chose 中文 reads the apology in Chinese too, although the
    failed update's transaction (where their choice was read) was rolled back."""

    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    person = harness.person(language_code="en")
    [prompt] = await person.text("/language")
    await person.press(prompt.button("中文"))
    monkeypatch.setattr(common, "help_text", explode)
    [apology] = await person.text("/help")
    assert "出错" in apology.text


async def test_blocking_the_bot_marks_the_person_unreachable(harness, session_factory):
    person = harness.person(language_code="en")
    await person.text("/start")

    def membership_change(new_member) -> Update:
        return Update(
            update_id=next(harness.update_ids),
            my_chat_member=ChatMemberUpdated(
                chat=Chat(id=person.id, type="private"),
                from_user=person.user,
                date=datetime.now(UTC),
                old_chat_member=ChatMemberMember(user=BOT_USER),
                new_chat_member=new_member,
            ),
        )

    async def unreachable_at():
        async with session_factory() as session:
            found = await session.exec(select(Person).where(Person.telegram_id == person.id))
            return found.one().unreachable_at

    await harness.feed(membership_change(ChatMemberBanned(user=BOT_USER, until_date=0)))
    assert await unreachable_at() is not None
    await harness.feed(membership_change(ChatMemberMember(user=BOT_USER)))
    assert await unreachable_at() is None


@pytest.mark.parametrize("gone", [False, True], ids=["blocked", "chat-not-found"])
async def test_a_refused_reply_marks_only_a_person_who_blocked_the_bot(
    harness, session_factory, gone
):
    """A reply Telegram refuses in a private chat means the person blocked the bot (403)
    or the account is gone (400 "chat not found", as a refused push counts it); one
    refused in a group says nothing about the person who wrote there."""
    resident, secretary = harness.person(language_code="en"), harness.person(language_code="en")
    group = -100777
    (harness.session.gone if gone else harness.session.blocked).update({resident.id, group})
    assert await resident.text("/start") == []
    in_group = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=Chat(id=group, type="supergroup", title="team"),
        from_user=secretary.user,
        text="/help",
    )
    assert await harness.feed(Update(update_id=next(harness.update_ids), message=in_group)) == []
    async with session_factory() as session:
        people = {p.telegram_id: p for p in (await session.exec(select(Person))).all()}
    assert people[resident.id].unreachable_at is not None
    assert people[secretary.id].unreachable_at is None


async def test_the_conversation_state_is_read_with_the_person(harness, engine):
    """No update reads its conversation state on its own: with the person (one query), or,
    for someone met for the first time, not at all."""
    state_reads = []

    def record(_connection, _cursor, statement, *_args) -> None:
        reads_state = statement.startswith("SELECT") and "fsm_record" in statement
        if reads_state and "FROM person" not in statement:
            state_reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        newcomer = harness.person(language_code="en")
        await newcomer.text("/new")  # first contact: the person is created
        await newcomer.text("/cancel")
        await newcomer.text("/new")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert state_reads == []
