"""The resident's complaint conversation through the real dispatcher, on both databases."""

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import EditMessageText
from aiogram.types import (
    Chat,
    Contact,
    Document,
    InlineKeyboardButton,
    Message,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)
from sqlmodel import col, select

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import (
    CategoryCb,
    ChoiceCb,
    DraftAction,
    DraftCb,
    FollowCb,
    MenuCb,
    MenuItem,
    TicketAction,
    TicketCb,
)
from redgrid.models import (
    EventKind,
    Grid,
    Role,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
    TicketSource,
    TicketStatus,
)
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.people import get_or_create_person, grant_role
from tests.bot_harness import BOT_ID, TOKEN, BotHarness, bot_harness, messages
from tests.bot_harness import Person as Client
from tests.district_files import dumps, small_district

INSIDE_A = (28.2305, 116.6005)
NEAR_INSIDE_A = (28.2306, 116.6006)  # about 15 m from INSIDE_A
NEAR_A = (28.2305, 116.5992)  # about 80 m west of grid A's west edge
FAR = (28.5, 116.9)
CATALOGUE = load_categories()


def draft(action: DraftAction) -> str:
    return DraftCb(action=action).pack()


def category(code: str) -> str:
    return CategoryCb(code=code).pack()


BACK, CANCEL = draft(DraftAction.BACK), draft(DraftAction.CANCEL)
DONE, SKIP = draft(DraftAction.PHOTOS_DONE), draft(DraftAction.SKIP_PHOTOS)
SHARE, ANONYMOUS = draft(DraftAction.CONSENT_SHARE), draft(DraftAction.CONSENT_ANONYMOUS)
CONFIRM, EDIT = draft(DraftAction.CONFIRM), draft(DraftAction.EDIT)
DESK, NEW_ANYWAY = draft(DraftAction.DISTRICT_DESK), draft(DraftAction.NEW_ANYWAY)
TYPE_ADDRESS = draft(DraftAction.PLACE_ADDRESS)
NO_PHONE = draft(DraftAction.NO_PHONE)
KEEP = ChoiceCb(kind="keep", index=0).pack()


def button(calls, data: str) -> InlineKeyboardButton:
    """The button with this callback data among the calls' keyboards (it was shown)."""
    for call in reversed(calls):
        for found in call.buttons:
            if found.callback_data == data:
                return found
    shown = [b.callback_data for call in calls for b in call.buttons]
    raise AssertionError(f"no button {data!r} in {shown}")


def respond_by(world, ticket: Ticket) -> str:
    """The respond-by time as the resident reads it (district time)."""
    return ticket.respond_by.astimezone(world.harness.settings.tz).strftime("%Y-%m-%d %H:%M")


def district() -> dict:
    """The small district, with a nickname (幸福小区) that two compounds share."""
    document = small_district()
    document["features"][1]["properties"]["compounds"] = ["东铜新村|幸福小区"]
    document["features"][2]["properties"]["compounds"] = ["幸福家园|幸福小区"]
    return document


@dataclass
class World:
    harness: BotHarness
    grids: dict[str, Grid]
    secretary: Client
    session_factory: object

    async def state(self, client: Client) -> tuple[str | None, dict]:
        key = StorageKey(bot_id=BOT_ID, chat_id=client.id, user_id=client.id)
        storage = self.harness.storage
        return await storage.get_state(key), await storage.get_data(key)

    async def tickets(self) -> list[Ticket]:
        async with self.session_factory() as session:
            return list((await session.exec(select(Ticket).order_by(col(Ticket.id)))).all())

    async def file_directly(self, client: Client, latlon=INSIDE_A, code="sanitation") -> Ticket:
        """A ticket filed through the service, as if earlier today."""
        async with self.session_factory() as session, session.begin():
            person = await get_or_create_person(session, client.id, client.user.full_name, "en")
            return await tickets.create_ticket(
                session,
                tickets.TicketDraft(
                    source=TicketSource.RESIDENT,
                    category=code,
                    description="垃圾桶满了",
                    latitude=latlon[0],
                    longitude=latlon[1],
                    grid_id=self.grids["A"].id,
                ),
                person,
                CATALOGUE,
                utcnow(),
            )


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({1}))


async def make_world(settings, session_factory):
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(district())))
        grids = {grid.code: grid for grid in (await session.exec(select(Grid))).all()}
    async with bot_harness(settings, session_factory) as harness:
        secretary = harness.person("Wang", language_code="zh-hans")
        async with session_factory() as session, session.begin():
            person = await get_or_create_person(session, secretary.id, "Wang", "zh_CN")
            await grant_role(session, person.id, Role.SECRETARY, grid_id=grids["A"].id)
        yield World(harness, grids, secretary, session_factory)


@pytest.fixture
async def world(settings, session_factory):
    async for built in make_world(settings, session_factory):
        yield built


async def to_place(client: Client, *, code="sanitation", description="楼道里堆满了垃圾", photos=1):
    calls = await client.text("/new")
    calls = await client.press(button(calls, category(code)))
    calls = await client.text(description)
    for n in range(photos):
        calls = await client.photo(f"photo-{n}")
    return await client.press(button(calls, DONE if photos else SKIP))


async def share(client: Client):
    """Let the team see one's name; asked for a phone too, go on without it."""
    calls = await client.press(SHARE)
    if any(b.callback_data == NO_PHONE for call in calls for b in call.buttons):
        calls = await client.press(NO_PHONE)
    return calls


async def to_summary(client: Client, *, latlon=INSIDE_A, consent=SHARE, **options):
    await to_place(client, **options)
    calls = await client.location(*latlon)
    if button(calls, consent).callback_data == SHARE:
        return await share(client)
    return await client.press(consent)


# --- the whole way through ------------------------------------------------------------


async def test_full_flow_in_chinese(world):
    resident = world.harness.person("Li", language_code="zh-hans")
    [prompt] = await resident.text("/new")
    assert "投诉" in prompt.text
    calls = await resident.press(prompt.button("🧹 环境卫生"))
    assert "描述" in messages(calls)[0].text
    calls = await resident.text("楼道里堆满了垃圾，已经一周没人清理")
    assert "照片" in messages(calls)[0].text
    [ack] = await resident.photo("photo-1")
    assert "1" in ack.text
    calls = messages(await resident.press(button([ack], DONE)))
    assert isinstance(calls[0].method.reply_markup, ReplyKeyboardMarkup)
    assert calls[0].method.reply_markup.keyboard[0][0].request_location
    calls = await resident.location(*INSIDE_A)
    [ack, consent] = messages(calls)
    assert isinstance(ack.method.reply_markup, ReplyKeyboardRemove)
    assert "网格A" in ack.text
    calls = messages(await resident.press(button([consent], SHARE)))
    assert calls[0].method.reply_markup.keyboard[0][0].request_contact  # no phone on file
    [saved, summary] = messages(await resident.contact("+86 138 0013 8000"))
    assert isinstance(saved.method.reply_markup, ReplyKeyboardRemove)
    assert "13800138000" in saved.text
    assert "可查看您的姓名和电话" in summary.text
    assert "环境卫生" in summary.text
    assert summary.text.count("网格A") == 1  # where it goes: the spot's grid, said once
    calls = await resident.press(button([summary], CONFIRM))

    [ticket] = await world.tickets()
    assert ticket.number == "DX-000001"
    assert ticket.grid_id == world.grids["A"].id
    assert ticket.source is TicketSource.RESIDENT
    assert ticket.contact_consent is True
    assert (ticket.latitude, ticket.longitude) == INSIDE_A
    async with world.session_factory() as session:
        [photo] = (await session.exec(select(TicketPhoto))).all()
        assert (photo.file_id, photo.file_unique_id) == ("photo-1", "u-photo-1")
    pushed = world.harness.calls_to(world.secretary.id)
    assert [call.name for call in pushed] == ["SendPhoto", "SendLocation", "SendMessage"]
    assert "DX-000001" in pushed[-1].text
    assert "Li, 13800138000" in pushed[-1].text  # the team can call
    assert button(pushed, TicketCb(action=TicketAction.ACCEPT, ticket_id=ticket.id).pack())
    reply = world.harness.last_to(resident.id, lambda c: c.name == "SendMessage")
    assert "DX-000001" in reply.text
    assert "网格A" in reply.text
    assert respond_by(world, ticket) in reply.text
    assert reply.button("投诉")  # the main menu
    assert await world.state(resident) == (None, {})


async def test_full_flow_in_english(world):
    resident = world.harness.person("Tom", language_code="en")
    [prompt] = await resident.text("/new")
    assert "category" in prompt.text
    calls = await resident.press(prompt.button("Sanitation"))
    assert "Describe" in messages(calls)[0].text
    await resident.text("Rubbish piles up in the stairwell")
    await resident.photo("p1")
    calls = await resident.photo("p2")
    assert "2 of 5" in calls[0].text
    calls = await resident.press(button(calls, DONE))
    assert "Where is the problem" in messages(calls)[0].text
    calls = await resident.location(*INSIDE_A)
    assert "grid 网格A (A)" in calls[0].text
    calls = await resident.press(button(calls, ANONYMOUS))
    assert "anonymous" in messages(calls)[-1].text
    await resident.press(button(calls, CONFIRM))

    [ticket] = await world.tickets()
    assert ticket.contact_consent is False
    pushed = world.harness.calls_to(world.secretary.id)
    assert [call.name for call in pushed] == ["SendMediaGroup", "SendLocation", "SendMessage"]
    assert "匿名" in pushed[-1].text
    assert "Tom" not in pushed[-1].text
    reply = world.harness.last_to(resident.id, lambda c: c.name == "SendMessage")
    assert "Your complaint is filed" in reply.text
    assert "DX-000001" in reply.text
    assert "grid 网格A (A)" in reply.text
    assert respond_by(world, ticket) in reply.text


async def test_the_menu_button_starts_a_complaint(world):
    resident = world.harness.person(language_code="en")
    calls = await resident.press(MenuCb(item=MenuItem.COMPLAIN).pack())
    assert button(calls, category("noise"))
    assert (await world.state(resident))[0] == "Complaint:category"


async def test_a_complaint_is_not_started_in_a_group(world):
    resident = world.harness.person(language_code="en")
    group = Chat(id=-1001234, type="supergroup", title="neighbours")
    in_group = Message(
        message_id=next(world.harness.update_ids),
        date=datetime.now(UTC),
        chat=group,
        from_user=resident.user,
        text="/new@redgrid_test_bot",
    )
    update = Update(update_id=next(world.harness.update_ids), message=in_group)
    [reply] = messages(await world.harness.feed(update))
    assert "in a private chat" in reply.text
    assert reply.chat_id == group.id
    [refusal] = await resident.press(MenuCb(item=MenuItem.COMPLAIN).pack(), group.id)
    assert "in a private chat" in refusal.method.text
    key = StorageKey(bot_id=BOT_ID, chat_id=group.id, user_id=resident.id)
    assert await world.harness.storage.get_state(key) is None


# --- photos ---------------------------------------------------------------------------


async def test_an_album_gets_one_reply_and_every_photo(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("noise"))
    await resident.text("Loud music every night")
    calls = []
    for n in range(3):
        calls += await resident.photo(f"a{n}", media_group_id="album-1")
    [ack] = messages(calls)
    edits = [call for call in calls if isinstance(call.method, EditMessageText)]
    assert len(edits) == 2
    assert "3 of 5" in edits[-1].method.text
    assert edits[-1].method.message_id == ack.result.message_id
    await resident.press(button(calls, DONE))
    state, data = await world.state(resident)
    assert state == "Complaint:place"
    assert [p[0] for p in data["photos"]] == ["a0", "a1", "a2"]


async def test_the_sixth_photo_is_refused(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("noise"))
    await resident.text("Loud music every night")
    for n in range(5):
        await resident.photo(f"p{n}")
    [refusal] = await resident.photo("p5")
    assert "at most 5 photos" in refusal.text
    assert len((await world.state(resident))[1]["photos"]) == 5
    # an album past the limit is told once
    calls = await resident.photo("q1", media_group_id="g")
    calls += await resident.photo("q2", media_group_id="g")
    assert len(messages(calls)) == 1


async def test_an_album_past_the_limit_gets_one_reply_counting_what_did_not_fit(world):
    resident = world.harness.person()  # Chinese: one plural form
    english = world.harness.person(language_code="en")
    for person in (resident, english):
        await person.text("/new")
        await person.press(category("noise"))
        await person.text("Loud music every night")
    calls = []
    for n in range(7):
        calls += await resident.photo(f"s{n}", media_group_id="seven")
    assert len(messages(calls)) == 1
    edits = [call for call in calls if isinstance(call.method, EditMessageText)]
    assert "有 2 张未添加" in edits[-1].method.text
    assert len((await world.state(resident))[1]["photos"]) == 5
    calls = []
    for n in range(6):
        calls += await english.photo(f"e{n}", media_group_id="six")
    assert len(messages(calls)) == 1
    edits = [call for call in calls if isinstance(call.method, EditMessageText)]
    assert "so 1 photo was not added." in edits[-1].method.text
    calls = []
    for n in range(2):
        calls += await english.photo(f"f{n}", media_group_id="two-more")
    edits = [call for call in calls if isinstance(call.method, EditMessageText)]
    assert "so 2 photos were not added." in edits[-1].method.text


async def test_an_album_where_it_is_not_expected_gets_one_hint(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("noise"))
    calls = []
    for n in range(3):  # photos first, no caption: at the description step
        calls += await resident.photo(f"d{n}", media_group_id="early")
    [hint] = messages(calls)
    assert "describe the problem" in hint.text
    await resident.text("Loud music every night")
    await resident.press(SKIP)
    calls = []
    for n in range(3):  # and at the place step
        calls += await resident.photo(f"p{n}", media_group_id="late")
    [hint] = messages(calls)
    assert "share a location" in hint.text
    assert (await world.state(resident))[1]["photos"] == []


async def test_a_photo_with_a_caption_is_description_and_first_photo(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("noise"))
    photo = PhotoSize(file_id="cap", file_unique_id="u-cap", width=1, height=1)
    content = await resident.send(photo=[photo], caption="Broken street lamp")
    assert "1 of 5" in content[0].text
    state, data = await world.state(resident)
    assert state == "Complaint:photos"
    assert data["description"] == "Broken street lamp"
    assert data["photos"] == [["cap", "u-cap"]]


async def test_a_caption_on_a_later_photo_joins_the_description(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("facilities"))
    await resident.text("Street lamp broken")
    photo = PhotoSize(file_id="gate", file_unique_id="u-gate", width=1, height=1)
    note, ack = await resident.send(photo=[photo], caption="The one at gate 3")
    assert "added to the description" in note.text
    assert "1 of 5" in ack.text
    data = (await world.state(resident))[1]
    assert data["description"] == "Street lamp broken\nThe one at gate 3"
    # one that would not fit is not kept, and the person is told
    photo = PhotoSize(file_id="far", file_unique_id="u-far", width=1, height=1)
    note, _ack = await resident.send(photo=[photo], caption="x" * 990)
    assert "not kept" in note.text
    data = (await world.state(resident))[1]
    assert data["description"] == "Street lamp broken\nThe one at gate 3"
    assert len(data["photos"]) == 2


async def test_an_image_sent_as_a_file_is_asked_for_as_a_photo(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident, photos=0)
    await resident.press(BACK)
    document = Document(file_id="f", file_unique_id="f", mime_type="image/jpeg")
    [reply] = await resident.send(document=document)
    assert "as a photo" in reply.text
    assert (await world.state(resident))[1]["photos"] == []


# --- wrong input, Back, Cancel --------------------------------------------------------


async def test_a_sticker_at_every_step_gets_that_steps_hint(world):
    await world.file_directly(world.harness.person(), NEAR_INSIDE_A)
    resident = world.harness.person(language_code="en")
    expected = {
        "Complaint:category": "choose a category",
        "Complaint:description": "describe the problem",
        "Complaint:photos": "send photos",
        "Complaint:place": "share a location",
        "Complaint:place_address": "type the name of the compound",
        "Complaint:place_choice": "choose one of the places",
        "Complaint:duplicate": "follow that complaint",
        "Complaint:consent": "one of the two buttons",
        "Complaint:phone": "share your phone number",
        "Complaint:summary": "press Confirm",
        "Complaint:edit": "what to change",
    }
    seen = []

    async def poke() -> None:
        before = await world.state(resident)
        [hint] = await resident.sticker()
        assert expected[before[0]] in hint.text, (before[0], hint.text)
        assert hint.buttons  # the step's buttons come again
        assert await world.state(resident) == before
        seen.append(before[0])

    calls = await resident.text("/new")
    await poke()
    await resident.press(button(calls, category("sanitation")))
    await poke()
    [hint] = await resident.photo("no-caption")  # a photo is not a description either
    assert "describe the problem" in hint.text
    await resident.text("Rubbish")
    await poke()
    calls = await resident.press(SKIP)
    await poke()
    [hint] = await resident.photo("x")  # a photo where a place is expected
    assert "share a location" in hint.text
    await resident.press(button(calls, TYPE_ADDRESS))
    await poke()
    await resident.text("幸福小区")
    await poke()
    await resident.press(BACK)
    await resident.press(BACK)
    await resident.location(*INSIDE_A)
    await poke()
    await resident.press(NEW_ANYWAY)
    await poke()
    await resident.press(SHARE)
    await poke()
    await resident.press(NO_PHONE)
    await poke()
    await resident.press(EDIT)
    await poke()
    assert seen == list(expected)
    [hint] = await resident.text("/mytickets")
    assert "/cancel" in hint.text


async def test_a_description_over_1000_characters_is_refused(world):
    resident = world.harness.person(language_code="en")
    await resident.text("/new")
    await resident.press(category("other"))
    [reply] = await resident.text("x" * 1001)
    assert "1001" in reply.text
    assert "1000" in reply.text
    assert await world.state(resident) == ("Complaint:description", {"category": "other"})
    await resident.text("y" * 1000)
    assert (await world.state(resident))[1]["description"] == "y" * 1000


async def test_back_from_every_step_keeps_what_was_entered(world):
    resident = world.harness.person(language_code="en")
    await to_summary(resident, description="Street lamp <b>broken</b>", photos=2)
    _, full = await world.state(resident)

    calls = await resident.press(BACK)  # summary → consent
    assert "✓ 👤" in button(calls, SHARE).text
    calls = await resident.press(BACK)  # consent → place, which shows the place
    assert "grid 网格A (A)" in messages(calls)[-1].text
    assert button(calls, KEEP)
    calls = await resident.press(BACK)  # place → photos, with the count
    assert "2 of 5" in messages(calls)[-1].text
    calls = await resident.press(BACK)  # photos → description, with the text (escaped)
    assert "Street lamp &lt;b&gt;broken&lt;/b&gt;" in messages(calls)[-1].text
    calls = await resident.press(BACK)  # description → category, marked
    assert "✓" in button(calls, category("sanitation")).text
    state, data = await world.state(resident)
    assert state == "Complaint:category"
    assert {k: data[k] for k in ("category", "description", "photos", "place", "consent")} == {
        k: full[k] for k in ("category", "description", "photos", "place", "consent")
    }

    # and forward again without retyping anything
    await resident.press(category("sanitation"))
    calls = await resident.press(KEEP)
    calls = await resident.press(button(calls, DONE))
    calls = await resident.press(button(calls, KEEP))
    calls = await resident.press(button(calls, SHARE))
    await resident.press(button(calls, CONFIRM))
    [ticket] = await world.tickets()
    assert ticket.description == "Street lamp <b>broken</b>"
    assert ticket.grid_id == world.grids["A"].id


async def test_back_from_the_address_steps(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    await resident.press(TYPE_ADDRESS)
    await resident.text("幸福小区")
    assert (await world.state(resident))[0] == "Complaint:place_choice"
    await resident.press(BACK)
    assert (await world.state(resident))[0] == "Complaint:place_address"
    await resident.press(BACK)
    assert (await world.state(resident))[0] == "Complaint:place"
    calls = await resident.press(BACK)  # leaving the place step removes its keyboard
    assert isinstance(messages(calls)[0].method.reply_markup, ReplyKeyboardRemove)
    assert (await world.state(resident))[0] == "Complaint:photos"


async def test_cancel_at_every_step_sends_nothing(world):
    resident = world.harness.person(language_code="en")

    async def cancel() -> None:
        state, _ = await world.state(resident)
        assert state is not None
        calls = messages(await resident.press(CANCEL))
        assert "Cancelled. Nothing was sent." in calls[0].text
        assert button(calls, MenuCb(item=MenuItem.COMPLAIN).pack())
        assert await world.state(resident) == (None, {})
        return calls

    await resident.text("/new")
    await cancel()
    await resident.text("/new")
    await resident.press(category("noise"))
    await cancel()
    await to_place(resident, photos=0)
    await resident.press(BACK)
    await cancel()  # photos
    await to_place(resident)
    calls = await cancel()  # place: the location keyboard goes too
    assert isinstance(calls[0].method.reply_markup, ReplyKeyboardRemove)
    await to_place(resident)
    await resident.press(TYPE_ADDRESS)
    await cancel()
    await to_place(resident)
    await resident.text("幸福小区")
    await cancel()
    await to_place(resident)
    await resident.location(*INSIDE_A)
    await cancel()  # consent
    await to_summary(resident)
    await cancel()
    await to_summary(resident)
    await resident.press(EDIT)
    await cancel()
    # and /cancel, handled by common.py, works inside the conversation too
    await to_summary(resident)
    cancelled, menu = await resident.text("/cancel")
    assert "Cancelled" in cancelled.text
    assert isinstance(cancelled.method.reply_markup, ReplyKeyboardRemove)
    assert menu.button("Raise a complaint")
    assert await world.state(resident) == (None, {})
    assert await world.tickets() == []


async def test_start_stops_a_draft_and_its_location_keyboard(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    cancelled, greeting = messages(await resident.text("/start"))
    assert "Cancelled" in cancelled.text
    assert isinstance(cancelled.method.reply_markup, ReplyKeyboardRemove)
    assert greeting.button("Raise a complaint")
    assert await world.state(resident) == (None, {})


async def test_new_restarts_a_draft(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    calls = await resident.text("/new")
    assert isinstance(messages(calls)[0].method.reply_markup, ReplyKeyboardRemove)
    assert await world.state(resident) == ("Complaint:category", {})


async def test_edit_changes_one_thing_and_returns_to_the_summary(world):
    resident = world.harness.person(language_code="en")
    await to_summary(resident, description="Old text")
    await resident.press(EDIT)
    await resident.press(ChoiceCb(kind="edit", index=1).pack())  # description
    [summary] = await resident.text("New text")
    assert "Please check your complaint" in summary.text
    assert "New text" in summary.text
    [refusal] = await resident.press(ChoiceCb(kind="edit", index=9).pack())
    assert refusal.name == "AnswerCallbackQuery"  # not in the edit menu any more: stale
    await resident.press(EDIT)
    [refusal] = await resident.press(ChoiceCb(kind="edit", index=9).pack())
    assert refusal.method.show_alert
    await resident.press(ChoiceCb(kind="edit", index=0).pack())
    calls = await resident.press(category("noise"))
    assert "Noise" in messages(calls)[0].text
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert (ticket.category, ticket.description) == ("noise", "New text")


async def test_showing_ones_name_asks_for_the_phone_once(world):
    resident = world.harness.person("Tom", language_code="en")
    await to_place(resident)
    await resident.location(*INSIDE_A)
    calls = await resident.press(SHARE)
    assert "call you" in messages(calls)[0].text
    assert button(calls, NO_PHONE)
    stranger = Contact(phone_number="13900139000", first_name="Zhao", user_id=resident.id + 1)
    [refusal] = await resident.send(contact=stranger)
    assert "your own number" in refusal.text
    [refusal] = await resident.text("12345")
    assert "not a mainland China mobile number" in refusal.text
    calls = await resident.press(BACK)  # back to the consent step: the keyboard goes
    assert isinstance(messages(calls)[0].method.reply_markup, ReplyKeyboardRemove)
    calls = await resident.press(SHARE)  # asked once a draft: straight to the summary
    assert "the team sees your name\n" in messages(calls)[-1].text
    await resident.press(EDIT)
    await resident.press(ChoiceCb(kind="edit", index=4).pack())
    await resident.press(ANONYMOUS)
    await resident.press(CONFIRM)
    async with world.session_factory() as session:
        [ticket] = (await session.exec(select(Ticket))).all()
        assert ticket.contact_consent is False
    # typed, the number is kept for the next complaints
    await to_place(resident)
    await resident.location(*NEAR_A)
    await resident.press(SHARE)
    [saved, summary] = messages(await resident.text("138-0013-8000"))
    assert "13800138000 is saved" in saved.text
    assert "your name and phone" in summary.text
    await resident.press(CONFIRM)
    await to_place(resident, code="noise")
    await resident.location(*INSIDE_A)
    [summary] = messages(await resident.press(SHARE))
    assert "your name and phone" in summary.text


# --- place ----------------------------------------------------------------------------


async def created_routing(world, ticket: Ticket) -> str:
    async with world.session_factory() as session:
        event = (
            await session.exec(
                select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.CREATED
                )
            )
        ).one()
    return event.details["routing"]


async def test_a_location_just_outside_goes_to_the_nearest_grid(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [ack, _consent] = messages(await resident.location(*NEAR_A))
    assert "just outside" in ack.text
    assert "grid 网格A (A)" in ack.text
    await share(resident)
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert ticket.grid_id == world.grids["A"].id
    assert await created_routing(world, ticket) == "nearby"


async def test_a_desk_complaint_before_the_admin_opened_the_bot_is_not_lost_in_silence(
    world, caplog
):
    """ADMIN_IDS names admin 1, who has never written to the bot, and Telegram lets no bot
    write first: the enterprise desk's new ticket reaches nobody. That is logged as an
    error with the ticket's number, and once the admin opens the bot the greeting says a
    ticket waits in their queue."""
    resident = world.harness.person(language_code="en")
    with caplog.at_level(logging.ERROR):
        await to_summary(resident, code="enterprise")
        await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert ticket.desk == "enterprise"
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert ticket.number in error.getMessage()
    assert "nobody who can act on it can be reached" in error.getMessage()
    admin = Client(world.harness, User(id=1, is_bot=False, first_name="Admin", language_code="en"))
    [greeting] = await admin.text("/start")
    assert "1 open ticket waits in your queue" in greeting.text
    assert "/queue" in greeting.text
    [greeting] = await resident.text("/start")
    assert "queue" not in greeting.text


@pytest.mark.parametrize(
    ("code", "who"),
    [
        ("sanitation", "the grid team"),
        ("utilities", "the community officers"),  # routed to the community's queue
        ("enterprise", "the district office"),  # a district desk, wherever the spot is
    ],
)
async def test_the_consent_question_names_who_will_handle_the_complaint(world, code, who):
    resident = world.harness.person(language_code="en")
    await to_place(resident, code=code)
    consent = messages(await resident.location(*INSIDE_A))[-1]
    assert f"May {who} see your name and phone number?" in consent.text


async def test_a_desk_summary_names_the_spots_grid_and_where_it_goes(world):
    """A desk category goes to the district wherever the spot is: the summary says both."""
    resident = world.harness.person("Qian", language_code="en")
    summary = messages(await to_summary(resident, code="enterprise"))[-1]
    assert "Belongs to: grid 网格A (A)\n" in summary.text
    assert "Goes to: district desk: Enterprise help\n" in summary.text


async def test_far_outside_offers_the_district_desk(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [offer] = await resident.location(*FAR)
    assert "outside the grids" in offer.text
    calls = await resident.press(button([offer], DESK))
    assert isinstance(messages(calls)[0].method.reply_markup, ReplyKeyboardRemove)
    calls = await share(resident)
    assert "the district's general queue" in html.unescape(messages(calls)[-1].text)
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert (ticket.grid_id, ticket.community_id, ticket.desk) == (None, None, None)
    assert (ticket.latitude, ticket.longitude) == FAR
    assert await created_routing(world, ticket) == "district"
    reply = world.harness.last_to(resident.id, lambda c: c.name == "SendMessage")
    assert "the district's general queue" in html.unescape(reply.text)


async def test_an_old_district_desk_button_does_not_wipe_the_place(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [offer] = await resident.location(*FAR)
    await resident.location(*INSIDE_A)  # found after all
    await resident.press(BACK)  # consent → place, where the old offer's button applies
    [refusal] = await resident.press(button([offer], DESK))
    assert refusal.method.show_alert
    state, data = await world.state(resident)
    assert state == "Complaint:place"
    assert data["place"]["grid_id"] == world.grids["A"].id
    # and a forged one at a fresh place step
    other = world.harness.person(language_code="en")
    await to_place(other)
    [refusal] = await other.press(DESK)
    assert refusal.method.show_alert
    assert (await world.state(other))[0] == "Complaint:place"


async def test_a_typed_address_finds_its_grid(world):
    resident = world.harness.person(language_code="zh-hans")
    await to_place(resident)
    [ack, _consent] = messages(await resident.text("湖滨花园3栋2单元"))
    assert "湖滨花园" in ack.text
    assert "网格A" in ack.text
    await share(resident)
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert ticket.grid_id == world.grids["A"].id
    assert ticket.address == "湖滨花园3栋2单元"
    assert ticket.latitude is None
    assert await created_routing(world, ticket) == "address"


async def test_an_ambiguous_address_asks_which(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    await resident.press(TYPE_ADDRESS)
    [question] = await resident.text("幸福小区")
    assert "several places" in question.text
    labels = [b.text for b in question.buttons if b.callback_data.startswith("p1:addr")]
    assert labels == ["东铜新村 · grid 网格B (B)", "幸福家园 · grid 网格C (C)"]
    [refusal] = await resident.press(ChoiceCb(kind="addr", index=5).pack())
    assert refusal.method.show_alert
    await resident.press(button([question], ChoiceCb(kind="addr", index=1).pack()))
    await resident.press(ANONYMOUS)
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert ticket.grid_id == world.grids["C"].id
    assert ticket.address == "幸福家园（幸福小区）"


async def test_a_near_miss_is_recorded_under_the_compound_it_matched(world):
    """The team must not go looking for 湖滨花苑: the address names the compound found."""
    resident = world.harness.person(language_code="zh-hans")
    await to_place(resident)
    [ack, _consent] = messages(await resident.text("湖滨花苑5栋"))
    assert "湖滨花园" in ack.text
    [summary] = messages(await resident.press(ANONYMOUS))
    assert "湖滨花园（湖滨花苑5栋）" in summary.text
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert ticket.address == "湖滨花园（湖滨花苑5栋）"
    # an address that names the compound is kept as typed
    await to_place(resident)
    await resident.text("湖滨花园3栋")
    await resident.press(ANONYMOUS)
    await resident.press(CONFIRM)
    assert (await world.tickets())[-1].address == "湖滨花园3栋"


async def test_an_unknown_address_offers_the_other_ways(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [reply] = await resident.text("<i>Mars</i> base")
    assert "could not find «&lt;i&gt;Mars&lt;/i&gt; base»" in reply.text
    assert button([reply], DESK)
    assert (await world.state(resident))[0] == "Complaint:place_address"
    await resident.text("Lakeside Garden")
    assert (await world.state(resident))[0] == "Complaint:consent"
    # the district desk after an unknown address keeps the address
    await to_place(resident)
    await resident.text("火星基地")
    await resident.press(DESK)
    await share(resident)
    await resident.press(CONFIRM)
    [ticket] = await world.tickets()
    assert (ticket.grid_id, ticket.address) == (None, "火星基地")


async def test_an_address_may_be_200_characters_and_no_longer(world):
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [refusal] = await resident.text("路" * 201)
    assert refusal.text == "That address is 201 characters long; please keep it to 200 at most."
    assert (await world.state(resident))[0] == "Complaint:place"
    [unknown] = await resident.text("路" * 200)
    assert "could not find" in unknown.text  # taken, and looked up


# --- restart, duplicates, limits, forged buttons --------------------------------------


async def test_a_draft_survives_a_restart(world, settings, session_factory):
    resident = world.harness.person("Li", language_code="zh-hans")
    await resident.text("/new")
    await resident.press(category("facilities"))
    await resident.text("路灯坏了")
    async with bot_harness(settings, session_factory) as restarted:
        same = Client(restarted, resident.user)
        [ack] = await same.photo("after-restart")
        assert "1" in ack.text
        await same.press(button([ack], DONE))
        calls = await same.location(*INSIDE_A)
        assert button(calls, SHARE)
        await share(same)
        await same.press(CONFIRM)
        [ticket] = await world.tickets()
        assert (ticket.category, ticket.description) == ("facilities", "路灯坏了")
        assert ticket.number == "DX-000001"
        assert [c.name for c in restarted.calls_to(world.secretary.id)][-1] == "SendMessage"


async def test_a_nearby_open_ticket_can_be_followed_instead(world):
    earlier = await world.file_directly(world.harness.person("Zhao"), INSIDE_A)
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [_ack, hint] = messages(await resident.location(*NEAR_INSIDE_A))
    assert earlier.number in hint.text
    assert "m from here" in hint.text
    assert "垃圾桶满了" in hint.text
    follow = hint.button("Follow")
    [reply] = messages(await resident.press(follow))
    assert "You now follow" in reply.text
    assert earlier.number in reply.text
    assert await world.state(resident) == (None, {})
    async with world.session_factory() as session:
        [follower] = (await session.exec(select(TicketFollower))).all()
    assert follower.ticket_id == earlier.id
    assert [t.id for t in await world.tickets()] == [earlier.id]
    # following again, from anywhere, is harmless
    [reply] = messages(await resident.press(follow))
    assert "already follow" in reply.text


async def test_only_the_hinted_ticket_can_be_followed_and_only_by_whom_it_was_shown(world):
    """Following shows a ticket's photos and history and lets one add to it, so a Follow
    button is honoured only for the ticket the hint showed, pressed by the person it was
    shown to: a forged button naming another open ticket, or the hint's button pressed by
    someone else (a forwarded hint), follows nothing and leaves the draft as it was."""
    earlier = await world.file_directly(world.harness.person("Zhao"), INSIDE_A)
    unseen = await world.file_directly(world.harness.person("Qian"), NEAR_A, code="noise")
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [_ack, hint] = messages(await resident.location(*NEAR_INSIDE_A))
    follow = hint.button("Follow").callback_data
    stranger = world.harness.person(language_code="zh-hans")

    presses = [
        (resident, f"t1:fol:{unseen.id}"),  # the old layout, naming a ticket never shown
        (resident, follow.replace(f":{earlier.id}:", f":{unseen.id}:")),
        (resident, follow[:-1] + ("A" if follow[-1] != "A" else "B")),
        (stranger, follow),
    ]
    for client, data in presses:
        [answer] = await client.press(data)
        assert answer.method.show_alert, data
        assert answer.method.text in ("This button is no longer valid.", "该按钮已失效。"), data
    async with world.session_factory() as session:
        assert (await session.exec(select(TicketFollower))).all() == []
        followed = select(TicketEvent).where(TicketEvent.kind == EventKind.FOLLOWED)
        assert (await session.exec(followed)).all() == []
    assert (await world.state(resident))[0] == "Complaint:duplicate"
    assert await world.state(stranger) == (None, {})

    [reply] = messages(await resident.press(follow))
    assert "You now follow" in reply.text


async def test_file_mine_anyway_and_other_categories_get_no_hint(world):
    await world.file_directly(world.harness.person("Zhao"), INSIDE_A)
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    calls = await resident.location(*NEAR_INSIDE_A)
    calls = await resident.press(button(calls, NEW_ANYWAY))
    assert button(calls, SHARE)
    await share(resident)
    await resident.press(CONFIRM)
    assert len(await world.tickets()) == 2
    # noise here is not the same problem
    other = world.harness.person(language_code="en")
    await to_place(other, code="noise")
    [_ack, consent] = messages(await other.location(*NEAR_INSIDE_A))
    assert button([consent], SHARE)


async def test_ones_own_nearby_ticket_is_shown_but_not_followed(world):
    resident = world.harness.person(language_code="en")
    mine = await world.file_directly(resident, INSIDE_A)
    await to_place(resident)
    [_ack, hint] = messages(await resident.location(*NEAR_INSIDE_A))
    assert "You reported it yourself" in hint.text
    assert not any(b.callback_data.startswith("o1:") for b in hint.buttons)
    secret = world.harness.settings.bot_token.get_secret_value()
    [refusal] = await resident.press(FollowCb.offer(secret, resident.id, mine.id).pack())
    assert "your own complaint" in refusal.method.text


async def test_an_old_follow_button_leaves_a_new_draft_alone(world):
    await world.file_directly(world.harness.person("Zhao"), INSIDE_A)
    resident = world.harness.person(language_code="en")
    await to_place(resident)
    [_ack, hint] = messages(await resident.location(*NEAR_INSIDE_A))
    follow = hint.button("Follow")
    await resident.press(button([hint], NEW_ANYWAY))
    # the hint's button, pressed later while the draft is at the consent step
    [reply] = messages(await resident.press(follow))
    assert "You now follow" in reply.text
    assert "draft was not sent" not in reply.text
    state, data = await world.state(resident)
    assert state == "Complaint:consent"
    assert data["description"] == "楼道里堆满了垃圾"
    await share(resident)
    await resident.press(CONFIRM)
    assert len(await world.tickets()) == 2


async def test_the_daily_limit(settings, session_factory):
    limited = settings.model_copy(update={"daily_ticket_limit": 1})
    async for world in make_world(limited, session_factory):
        resident = world.harness.person(language_code="en")
        # reached while the draft was being written: refused at Confirm
        await to_summary(resident)
        await world.file_directly(resident)
        calls = messages(await resident.press(CONFIRM))
        assert "1 complaints today" in calls[-1].text
        assert await world.state(resident) == (None, {})
        assert len(await world.tickets()) == 1
        # and from then on, refused at the start
        [reply] = await resident.text("/new")
        assert "try again tomorrow" in reply.text
        assert await world.state(resident) == (None, {})
        [reply] = messages(await resident.press(MenuCb(item=MenuItem.COMPLAIN).pack()))
        assert "try again tomorrow" in reply.text
        # others are not limited by it
        other = world.harness.person(language_code="en")
        assert button(await other.text("/new"), category("noise"))
        # nor by the reports they filed as a red informant: those have their own limit
        async with world.session_factory() as session, session.begin():
            person = await get_or_create_person(session, other.id, "Sun", "en")
            report = tickets.TicketDraft(
                source=TicketSource.INFORMANT,
                category="sanitation",
                description="垃圾桶满了",
                grid_id=world.grids["B"].id,
            )
            await tickets.create_ticket(session, report, person, CATALOGUE, utcnow())
        await to_summary(other, code="noise")
        await other.press(CONFIRM)
        assert len(await world.tickets()) == 3


async def test_a_double_confirm_files_one_ticket(world):
    resident = world.harness.person(language_code="en")
    calls = await to_summary(resident)
    confirm = button(calls, CONFIRM)
    await resident.press(confirm)
    [answer] = await resident.press(confirm)
    assert answer.name == "AnswerCallbackQuery"
    assert "no longer valid" in answer.method.text
    assert len(await world.tickets()) == 1


async def test_forged_buttons_are_refused_politely(world):
    resident = world.harness.person(language_code="en")
    for data in ("c1:nonexistent", "t1:fol:99999", "t1:fol:99999999999", "d1:confirm"):
        [answer] = await resident.press(data)
        assert "no longer valid" in answer.method.text, data
    await resident.text("/new")
    [answer] = await resident.press("c1:nonexistent")
    assert answer.method.show_alert
    assert "no longer valid" in answer.method.text
    assert await world.state(resident) == ("Complaint:category", {})
    # a closed ticket cannot be followed
    closed = await world.file_directly(world.harness.person("Zhao"))
    async with world.session_factory() as session, session.begin():
        ticket = await session.get(Ticket, closed.id)
        ticket.status = TicketStatus.CLOSED
    secret = world.harness.settings.bot_token.get_secret_value()
    [answer] = await resident.press(FollowCb.offer(secret, resident.id, closed.id).pack())
    assert answer.method.show_alert
    async with world.session_factory() as session:
        assert (await session.exec(select(TicketFollower))).all() == []


async def test_html_in_the_description_is_escaped(world):
    resident = world.harness.person(language_code="en")
    calls = await to_summary(resident, description="<b>bold</b> & <script>")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in messages(calls)[-1].text
    await resident.press(CONFIRM)
    card = world.harness.calls_to(world.secretary.id)[-1]
    assert "&lt;b&gt;bold&lt;/b&gt;" in card.text
    assert "<b>bold" not in card.text


async def test_switching_language_mid_draft_keeps_the_draft_and_says_how_to_go_on(world):
    """/language in the middle of a complaint: the draft goes on, so the reply says so in
    the new language and offers no main menu (whose buttons would lead away from it)."""
    resident = world.harness.person("Chen", language_code="zh-TW")
    await to_place(resident)
    [prompt] = await resident.text("/language")
    assert "语言" in prompt.text

    reply = answer_of(await resident.press(prompt.button("English")), resident)

    assert "Language: English" in reply.text
    assert "/cancel" in reply.text
    assert not reply.buttons
    assert (await world.state(resident))[0] == "Complaint:place"
    hint = answer_of(await resident.sticker(), resident)
    assert "Please share a location" in hint.text
    calls = await resident.location(*INSIDE_A)
    assert "May the grid team see your name" in messages(calls)[-1].text


async def test_forget_mid_draft_takes_the_location_keyboard_away(world):
    """/forget ends the draft like /cancel does, so the "share location" keyboard of the
    place step must go too: pressed afterwards, it would send a location to nothing."""
    resident = world.harness.person("Zhou", language_code="zh-hans")
    await to_place(resident)
    [question] = await resident.text("/forget")

    calls = await resident.press(question.button("删除"))

    [erased] = messages(calls)
    assert "已删除" in erased.text
    assert isinstance(erased.method.reply_markup, ReplyKeyboardRemove)
    assert (await world.state(resident))[0] is None


def answer_of(calls, client: Client):
    """The one message sent to ``client`` among ``calls``."""
    [answer] = [call for call in messages(calls) if call.chat_id == client.id]
    return answer
