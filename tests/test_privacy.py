"""/mydata and /forget through the real dispatcher, on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update
from sqlmodel import select

from redgrid.bot.settings import Settings
from redgrid.models import OutboxMessage, OutboxStatus, Person, Role, Ticket, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import people, tickets
from redgrid.services.categories import load_categories
from tests.bot_harness import BOT_ID, TOKEN, bot_harness, messages


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url)


@pytest.fixture
async def harness(settings, session_factory):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


async def person_of(session_factory, telegram_id: int) -> Person | None:
    async with session_factory() as session:
        rows = await session.exec(select(Person).where(Person.telegram_id == telegram_id))
        return rows.one_or_none()


async def file_ticket(session_factory, telegram_id: int, description: str) -> Ticket:
    async with session_factory() as session, session.begin():
        person = (await session.exec(select(Person).where(Person.telegram_id == telegram_id))).one()
        person.phone = "13800000000"
        draft = tickets.TicketDraft(
            source=TicketSource.RESIDENT,
            category="noise",
            description=description,
            address="湖滨花园3栋",
            contact_consent=True,
        )
        return await tickets.create_ticket(session, draft, person, load_categories(), utcnow())


def fsm_key(telegram_id: int) -> StorageKey:
    return StorageKey(bot_id=BOT_ID, chat_id=telegram_id, user_id=telegram_id)


async def test_mydata_sends_a_json_document(harness, session_factory):
    resident = harness.person(first_name="王小明", language_code="zh-hans")
    await resident.text("/start")
    ticket = await file_ticket(session_factory, resident.id, "楼下烧烤摊半夜太吵")

    [document] = await resident.text("/mydata")
    assert document.name == "SendDocument"
    assert document.chat_id == resident.id
    assert document.method.document.filename == "redgrid-mydata.json"
    assert document.text  # the caption, in Chinese
    data = json.loads(document.method.document.data.decode("utf-8"))
    assert data["profile"]["display_name"] == "王小明"
    assert data["profile"]["telegram_id"] == resident.id
    assert data["profile"]["phone"] == "13800000000"
    [exported] = data["tickets"]
    assert (exported["number"], exported["description"]) == (ticket.number, "楼下烧烤摊半夜太吵")
    assert "楼下烧烤摊半夜太吵".encode() in document.method.document.data  # not \u escapes


async def test_mydata_includes_the_draft_being_written(harness):
    """A half-written complaint is data we keep about the person (/forget erases it), so
    /mydata shows it too; someone writing nothing gets no draft."""
    resident = harness.person(language_code="en")
    [document] = await resident.text("/mydata")
    assert "draft" not in json.loads(document.method.document.data)
    await harness.storage.set_state(fsm_key(resident.id), "Complaint:photos")
    await harness.storage.set_data(
        fsm_key(resident.id), {"category": "noise", "description": "半夜施工"}
    )

    [document] = await resident.text("/mydata")
    assert json.loads(document.method.document.data)["draft"] == {
        "step": "Complaint:photos",
        "data": {"category": "noise", "description": "半夜施工"},
    }
    assert await harness.storage.get_state(fsm_key(resident.id)) == "Complaint:photos"


async def test_mydata_and_forget_are_private_only(harness, session_factory):
    resident = harness.person(language_code="en")
    for command in ("/mydata", "/forget"):
        message = Message(
            message_id=next(harness.update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=-100777, type="supergroup", title="楼栋群"),
            from_user=resident.user,
            text=command,
        )
        update = Update(update_id=next(harness.update_ids), message=message)
        [reply] = await harness.feed(update)
        assert reply.name == "SendMessage"
        assert "private chat" in reply.text
    assert (await person_of(session_factory, resident.id)).forgotten_at is None


async def test_forget_erases_the_person_and_keeps_tickets(harness, session_factory):
    resident = harness.person(first_name="李四", language_code="en")
    await resident.text("/start")
    ticket = await file_ticket(session_factory, resident.id, "路灯坏了")
    before = await person_of(session_factory, resident.id)
    async with session_factory() as session, session.begin():
        await people.grant_role(session, before.id, Role.INFORMANT)
    await harness.storage.set_state(fsm_key(resident.id), "Complaint:description")
    await harness.storage.set_data(fsm_key(resident.id), {"description": "半截投诉"})

    [prompt] = await resident.text("/forget")
    assert "stay" in prompt.text
    calls = await resident.press(prompt.button("Erase my data"))
    [done] = messages(calls)
    assert "has been erased" in done.text
    assert "EditMessageReplyMarkup" in [call.name for call in calls]

    async with session_factory() as session:
        forgotten = await session.get(Person, before.id)
        assert forgotten.telegram_id == -before.id
        assert (forgotten.display_name, forgotten.phone, forgotten.locale) == ("", None, None)
        assert forgotten.forgotten_at is not None
        assert await people.memberships(session, before.id) == []
        kept = await session.get(Ticket, ticket.id)
        assert (kept.number, kept.reporter_id, kept.description) == (
            ticket.number,
            before.id,
            "路灯坏了",
        )
    assert await harness.storage.get_state(fsm_key(resident.id)) is None
    assert await harness.storage.get_data(fsm_key(resident.id)) == {}

    # the same Telegram account comes back as a new person
    [greeting] = await resident.text("/start")
    assert "Dongxiang District" in greeting.text
    fresh = await person_of(session_factory, resident.id)
    assert fresh.id != before.id
    assert fresh.display_name == "李四"
    [document] = await resident.text("/mydata")
    assert json.loads(document.method.document.data)["tickets"] == []


async def test_a_forged_confirm_only_affects_the_presser(harness, session_factory):
    victim = harness.person(first_name="Victim", language_code="en")
    forger = harness.person(first_name="Forger", language_code="en")
    [prompt] = await victim.text("/forget")
    await forger.text("/start")
    forger_before = await person_of(session_factory, forger.id)

    [done] = messages(await forger.press(prompt.button("Erase my data").callback_data))
    assert "has been erased" in done.text
    assert done.chat_id == forger.id

    victim_row = await person_of(session_factory, victim.id)
    assert (victim_row.display_name, victim_row.forgotten_at) == ("Victim", None)
    async with session_factory() as session:
        assert (await session.get(Person, forger_before.id)).forgotten_at is not None


async def test_forget_erases_the_pushes_that_carried_the_person(harness, session_factory):
    """The outbox keeps the text it sent: after /forget neither the person's chat id (which
    would link the erased profile back to the account) nor the sent cards with their name
    and phone remain. A card still owed to the team stays: the team needs it."""
    resident = harness.person(first_name="李四", language_code="zh-hans")
    await resident.text("/start")
    ticket = await file_ticket(session_factory, resident.id, "路灯坏了")
    sent, pending = OutboxStatus.SENT, OutboxStatus.PENDING
    rows = {
        "to them, sent": (resident.id, None, sent),
        "to them, pending": (resident.id, None, pending),
        "their card, sent": (7000099, ticket.id, sent),
        "their card, failed": (7000099, ticket.id, OutboxStatus.FAILED),
        "their card, owed": (7000099, ticket.id, pending),
        "someone else's": (7000098, None, sent),
    }
    async with session_factory() as session, session.begin():
        person = await person_of(session_factory, resident.id)
        for label, (chat_id, ticket_id, status) in rows.items():
            to_them = chat_id == resident.id
            session.add(
                OutboxMessage(
                    chat_id=chat_id,
                    person_id=person.id if to_them else None,
                    ticket_id=ticket_id,
                    method="sendMessage",
                    params={"text": f"{label}: 李四 13800000000"},
                    status=status,
                )
            )

    [prompt] = await resident.text("/forget")
    await resident.press(prompt.button("删除我的信息"))

    async with session_factory() as session:
        left = (await session.exec(select(OutboxMessage))).all()
    assert sorted(row.params["text"].split(":")[0] for row in left) == [
        "someone else's",
        "their card, owed",
    ]


async def test_forget_can_be_cancelled(harness, session_factory):
    resident = harness.person(language_code="zh-hans")
    [prompt] = await resident.text("/forget")
    [reply] = messages(await resident.press(prompt.button("取消")))
    assert reply.button("投诉")
    assert (await person_of(session_factory, resident.id)).forgotten_at is None
