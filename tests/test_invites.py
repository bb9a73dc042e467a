"""Invites on SQLite and PostgreSQL: the service, the deep link, /bind, /invite and the CLI."""

import asyncio
import hashlib
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.methods import GetChatMember
from aiogram.types import (
    Chat,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    ChatMemberUpdated,
    Message,
    Update,
    User,
)
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from redgrid.bot.settings import Settings, get_settings
from redgrid.cli import EXIT_REFUSED, EXIT_USAGE, app
from redgrid.models import Grid, Invite, Membership, Person, Role
from redgrid.models.base import utcnow
from redgrid.models.db import create_engine, create_session_factory
from redgrid.services import invites, people
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.invites import (
    BindSender,
    ChatAlreadyBound,
    InvalidInvite,
    InviteAlreadyUsed,
    InviteExpired,
    InviteNotAllowed,
    InviteNotFound,
    NotAGridInvite,
    NotAGroupAdmin,
    ScopeNotFound,
)
from tests.bot_harness import BOT_USER, TOKEN, bot_harness, messages
from tests.bot_harness import Person as ChatPerson
from tests.district_files import dumps, small_district
from tests.fake_bot_api import FakeBotApi

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TTL = timedelta(days=7)
ADMIN_ID = 555
LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")
TEAM_CHAT = -1001234567890


@pytest.fixture
async def grids(session_factory) -> dict[str, Grid]:
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        return {g.code: g for g in (await session.exec(select(Grid))).all()}


async def make_invite(session_factory, role: Role, now: datetime = NOW, **scope) -> str:
    async with session_factory() as session, session.begin():
        _, code = await invites.create_invite(session, role, ttl=TTL, now=now, **scope)
    return code


async def new_person(session_factory, telegram_id: int) -> Person:
    async with session_factory() as session, session.begin():
        return await people.get_or_create_person(session, telegram_id, f"p{telegram_id}", None)


async def redeem(session_factory, code: str, person: Person, now: datetime = NOW) -> Membership:
    async with session_factory() as session, session.begin():
        return await invites.redeem_invite(session, code, person, now)


async def stored_invites(session_factory) -> list[Invite]:
    async with session_factory() as session:
        return list((await session.exec(select(Invite).order_by(Invite.id))).all())


async def roles_of(session_factory, person_id: int) -> list[tuple[Role, int | None, int | None]]:
    async with session_factory() as session:
        return [
            (m.role, m.grid_id, m.community_id)
            for m in await people.memberships(session, person_id)
        ]


# The service ------------------------------------------------------------------------------


async def test_create_stores_only_the_hash(session_factory, grids):
    admin = await new_person(session_factory, ADMIN_ID)
    async with session_factory() as session, session.begin():
        _invite, code = await invites.create_invite(
            session,
            Role.SECRETARY,
            grid_code="A",
            by=people.Actor(admin.id, ADMIN_ID, True),
            ttl=TTL,
            now=NOW,
        )
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", code)
    [stored] = await stored_invites(session_factory)
    assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert (stored.role, stored.grid_id, stored.community_id) == (
        Role.SECRETARY,
        grids["A"].id,
        None,
    )
    assert (stored.created_by_telegram_id, stored.expires_at, stored.used_at) == (
        ADMIN_ID,
        NOW + TTL,
        None,
    )
    async with session_factory() as session:
        raw = (await session.exec(text("SELECT * FROM invite"))).all()
    assert code not in repr(raw)
    other = await make_invite(session_factory, Role.SECRETARY, grid_code="A")
    assert other != code


async def test_redeem_grants_the_role_once(session_factory, grids):
    code = await make_invite(session_factory, Role.GRID_WORKER, grid_code="B")
    worker = await new_person(session_factory, 11)
    membership = await redeem(session_factory, code, worker, NOW + timedelta(days=1))
    assert (membership.role, membership.grid_id) == (Role.GRID_WORKER, grids["B"].id)
    [stored] = await stored_invites(session_factory)
    assert (stored.used_at, stored.used_by_id) == (NOW + timedelta(days=1), worker.id)

    someone = await new_person(session_factory, 12)
    with pytest.raises(InviteAlreadyUsed) as used:
        await redeem(session_factory, code, someone)
    assert used.value.used_by_id == worker.id
    with pytest.raises(InviteAlreadyUsed):
        await redeem(session_factory, code, worker)
    assert await roles_of(session_factory, someone.id) == []


async def test_expired_and_unknown_codes_change_nothing(session_factory, grids):
    code = await make_invite(session_factory, Role.OFFICER, community_name="大富社区")
    person = await new_person(session_factory, 13)
    with pytest.raises(InviteExpired):
        await redeem(session_factory, code, person, NOW + TTL)
    for garbage in ("", "nope", "x" * 65, "has space", "末", code[:-1], code + "A"):
        with pytest.raises(InviteNotFound):
            await redeem(session_factory, garbage, person)
    assert await roles_of(session_factory, person.id) == []
    [stored] = await stored_invites(session_factory)
    assert stored.used_at is None
    # still good before it expires
    await redeem(session_factory, code, person, NOW + TTL - timedelta(seconds=1))
    assert await roles_of(session_factory, person.id) == [(Role.OFFICER, None, stored.community_id)]


async def test_two_people_racing_for_one_code_one_wins(session_factory, grids):
    code = await make_invite(session_factory, Role.SECRETARY, grid_code="A")
    first, second = await new_person(session_factory, 21), await new_person(session_factory, 22)
    both_ready = asyncio.Barrier(2)

    async def attempt(person: Person) -> str:
        async with session_factory() as session, session.begin():
            await session.exec(select(Invite))  # both have read it unused: a real race
            await both_ready.wait()
            try:
                await invites.redeem_invite(session, code, person, NOW)
            except InviteAlreadyUsed:
                return "lost"
            return "won"

    outcomes = await asyncio.gather(attempt(first), attempt(second))
    assert sorted(outcomes) == ["lost", "won"]
    winner = first if outcomes[0] == "won" else second
    loser = second if winner is first else first
    assert await roles_of(session_factory, winner.id) == [(Role.SECRETARY, grids["A"].id, None)]
    assert await roles_of(session_factory, loser.id) == []
    [stored] = await stored_invites(session_factory)
    assert stored.used_by_id == winner.id


@pytest.mark.parametrize(
    ("role", "scope", "error"),
    [
        (Role.SECRETARY, {}, InvalidInvite),
        (Role.SECRETARY, {"community_name": "大富社区"}, InvalidInvite),
        (Role.GRID_WORKER, {"grid_code": "A", "community_name": "大富社区"}, InvalidInvite),
        (Role.OFFICER, {}, InvalidInvite),
        (Role.OFFICER, {"grid_code": "A"}, InvalidInvite),
        (Role.INFORMANT, {"grid_code": "A"}, InvalidInvite),
        (Role.ADMIN, {}, InvalidInvite),
        ("mayor", {"grid_code": "A"}, InvalidInvite),
        (Role.SECRETARY, {"grid_code": "Z"}, ScopeNotFound),
        (Role.OFFICER, {"community_name": "月球社区"}, ScopeNotFound),
    ],
)
async def test_wrong_role_and_scope_are_refused(session_factory, grids, role, scope, error):
    async with session_factory() as session, session.begin():
        with pytest.raises(error):
            await invites.create_invite(session, role, ttl=TTL, now=NOW, **scope)
        with pytest.raises(InvalidInvite):
            await invites.create_invite(
                session, Role.SECRETARY, grid_code="A", ttl=timedelta(0), now=NOW
            )
    assert await stored_invites(session_factory) == []


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.INFORMANT, {"community_name": "东铜社区"}),  # another community
        (Role.INFORMANT, {}),  # the whole district
        (Role.OFFICER, {"community_name": "大富社区"}),
        (Role.SECRETARY, {"grid_code": "A"}),
    ],
)
async def test_an_officer_invites_red_informants_of_their_community_only(
    session_factory, grids, role, scope
):
    officer = await new_person(session_factory, 41)
    async with session_factory() as session, session.begin():
        await people.grant_role(
            session, officer.id, Role.OFFICER, community_id=grids["A"].community_id
        )
    actor = people.Actor(officer.id, 41, False)
    async with session_factory() as session, session.begin():
        with pytest.raises(InviteNotAllowed):
            await invites.create_invite(session, role, by=actor, ttl=TTL, now=NOW, **scope)
        invite, _code = await invites.create_invite(
            session, Role.INFORMANT, community_name="大富", by=actor, ttl=TTL, now=NOW
        )
    assert (invite.created_by_telegram_id, invite.community_id) == (41, grids["A"].community_id)
    resident = people.Actor((await new_person(session_factory, 42)).id, 42, False)
    async with session_factory() as session:
        assert await invites.invite_rights(session, resident) is None
        with pytest.raises(InviteNotAllowed):
            await invites.create_invite(
                session, Role.INFORMANT, community_name="大富", by=resident, ttl=TTL, now=NOW
            )


async def test_informants_hold_the_district_or_a_community(session_factory, grids):
    district = await make_invite(session_factory, Role.INFORMANT)
    community = await make_invite(session_factory, Role.INFORMANT, community_name="大富")
    rider, courier = await new_person(session_factory, 31), await new_person(session_factory, 32)
    await redeem(session_factory, district, rider)
    await redeem(session_factory, community, courier)
    assert await roles_of(session_factory, rider.id) == [(Role.INFORMANT, None, None)]
    assert await roles_of(session_factory, courier.id) == [
        (Role.INFORMANT, None, grids["A"].community_id)
    ]


async def test_bind_spends_the_code_even_when_refused(session_factory, grids):
    code_a = await make_invite(session_factory, Role.SECRETARY, grid_code="A")
    code_b = await make_invite(session_factory, Role.GRID_WORKER, grid_code="B")
    officer = await make_invite(session_factory, Role.OFFICER, community_name="大富社区")
    by_member = await make_invite(session_factory, Role.GRID_WORKER, grid_code="B")
    binder = await new_person(session_factory, 21)
    actor = people.Actor(binder.id, binder.telegram_id, False)
    admin = BindSender.ADMIN
    async with session_factory() as session, session.begin():
        binding = await invites.bind_team_chat(session, code_a, TEAM_CHAT, actor, admin, NOW)
        assert (binding.grid.code, binding.grid.team_chat_id) == ("A", TEAM_CHAT)
        assert binding.replaced_chat_id is None
    refusals = (
        (code_b, admin, ChatAlreadyBound),
        (officer, admin, NotAGridInvite),
        (by_member, BindSender.MEMBER, NotAGroupAdmin),
    )
    for code, sender, error in refusals:
        async with session_factory() as session:
            with pytest.raises(error):
                await invites.bind_team_chat(session, code, TEAM_CHAT, actor, sender, NOW)
            await session.commit()
    stored = await stored_invites(session_factory)
    assert {(invite.used_at, invite.used_by_id) for invite in stored} == {(NOW, binder.id)}
    async with session_factory() as session:
        assert (await session.get(Grid, grids["B"].id)).team_chat_id is None
        # binding the grid again moves it to the new chat
        again = await make_invite(session_factory, Role.SECRETARY, grid_code="A")
        binding = await invites.bind_team_chat(session, again, TEAM_CHAT - 1, actor, admin, NOW)
        assert binding.grid.team_chat_id == TEAM_CHAT - 1
        assert binding.replaced_chat_id == TEAM_CHAT


# The bot ----------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({ADMIN_ID}))


@pytest.fixture
async def harness(settings, session_factory, grids):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


async def live_invite(session_factory, role: Role, **scope) -> str:
    return await make_invite(session_factory, role, now=utcnow(), **scope)


async def roles_of_user(session_factory, telegram_id: int) -> list:
    async with session_factory() as session:
        person = (await session.exec(select(Person).where(Person.telegram_id == telegram_id))).one()
    return await roles_of(session_factory, person.id)


async def test_deep_link_makes_a_secretary_in_each_language(harness, session_factory, grids):
    zh = harness.person(language_code="zh-hans")
    [reply] = await zh.text(
        f"/start {await live_invite(session_factory, Role.SECRETARY, grid_code='A')}"
    )
    assert "支部书记" in reply.text
    assert "网格A" in reply.text
    assert reply.button("待办工单")  # the team's menu
    assert await roles_of_user(session_factory, zh.id) == [(Role.SECRETARY, grids["A"].id, None)]

    en = harness.person(language_code="en")
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    [reply] = await en.text(f"/start {code}")
    assert "You are now the party branch secretary of grid 网格A (A)." in reply.text
    assert await roles_of_user(session_factory, en.id) == [(Role.SECRETARY, grids["A"].id, None)]

    again = harness.person(language_code="en")
    [reply] = await again.text(f"/start {code}")
    assert "already been used" in reply.text
    assert reply.button("Raise a complaint")
    [reply] = await en.text(f"/start {code}")
    assert "You have already used this invitation" in reply.text
    assert await roles_of_user(session_factory, again.id) == []


async def test_expired_and_garbage_links(harness, session_factory):
    expired = await make_invite(
        session_factory, Role.GRID_WORKER, now=utcnow() - TTL - timedelta(minutes=1), grid_code="B"
    )
    person = harness.person(language_code="en")
    [reply] = await person.text(f"/start {expired}")
    assert "has expired" in reply.text
    for payload in ("hello", "x" * 64):
        [reply] = await person.text(f"/start {payload}")
        assert "This link is not valid" in reply.text
        assert reply.button("Raise a complaint")
    zh = harness.person(language_code="zh-hans")
    [reply] = await zh.text(f"/start {expired}")
    assert "已过期" in reply.text
    assert await roles_of_user(session_factory, person.id) == []


def group_update(harness, person: ChatPerson, chat_id: int, text: str) -> Update:
    message = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="supergroup", title="网格A工作群"),
        from_user=person.user,
        text=text,
    )
    return Update(update_id=next(harness.update_ids), message=message)


def group_admin(harness, person: ChatPerson, *chat_ids: int, owner: bool = False) -> None:
    """Telegram will say (getChatMember) that ``person`` administers, or created, the groups."""
    rights = {
        name: True
        for name, field in ChatMemberAdministrator.model_fields.items()
        if name.startswith("can_") and field.is_required()
    }
    for chat_id in chat_ids:
        harness.session.chat_members[(chat_id, person.id)] = (
            ChatMemberOwner(user=person.user, is_anonymous=False)
            if owner
            else ChatMemberAdministrator(user=person.user, is_anonymous=False, **rights)
        )


async def grid_chat(session_factory, code: str) -> int | None:
    async with session_factory() as session:
        return (await session.exec(select(Grid).where(Grid.code == code))).one().team_chat_id


async def test_bind_in_a_group(harness, session_factory):
    secretary = harness.person(language_code="en")
    group_admin(harness, secretary, TEAM_CHAT)
    code_a = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    [reply] = messages(
        await harness.feed(group_update(harness, secretary, TEAM_CHAT, f"/bind {code_a}"))
    )
    assert reply.chat_id == TEAM_CHAT
    assert "now the team chat of grid 网格A (A)" in reply.text
    assert await grid_chat(session_factory, "A") == TEAM_CHAT
    assert await roles_of_user(session_factory, secretary.id) == []  # binding gives no role

    code_b = await live_invite(session_factory, Role.GRID_WORKER, grid_code="B")
    [reply] = messages(
        await harness.feed(group_update(harness, secretary, TEAM_CHAT, f"/bind {code_b}"))
    )
    assert "already the team chat of grid 网格A (A)" in reply.text
    assert await grid_chat(session_factory, "B") is None
    # both codes were shown in the group: neither gives a role any more
    for code in (code_a, code_b):
        [reply] = await secretary.text(f"/start {code}")
        assert "was shown in a group chat, so it no longer works" in reply.text

    [reply] = messages(await harness.feed(group_update(harness, secretary, TEAM_CHAT, "/bind")))
    assert "Send /bind followed by the code" in reply.text
    [reply] = messages(
        await harness.feed(group_update(harness, secretary, TEAM_CHAT, "/bind nonsense"))
    )
    assert "not valid" in reply.text
    zh = harness.person(language_code="zh-hans")
    [reply] = messages(
        await harness.feed(group_update(harness, zh, TEAM_CHAT - 5, f"/bind {code_a}"))
    )
    assert "已被使用" in reply.text


async def unused(session_factory, code: str) -> bool:
    async with session_factory() as session:
        found = await session.exec(
            select(Invite).where(Invite.code_hash == invites.hash_code(code))
        )
        return found.one().used_at is None


async def test_only_an_admin_of_the_group_binds_it(harness, session_factory):
    """Holding a code is not enough: whoever binds a group must administer it, else
    anyone with a code could send a grid's tickets to any group they are in."""
    member = harness.person(language_code="en")
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")

    calls = await harness.feed(group_update(harness, member, TEAM_CHAT, f"/bind {code}"))

    [asked] = [call for call in calls if call.name == "GetChatMember"]
    assert (asked.method.chat_id, asked.method.user_id) == (TEAM_CHAT, member.id)
    [reply] = messages(calls)
    assert "Only an administrator of this group can make it a grid's team chat" in reply.text
    assert "ask the district admin for a new one" in reply.text
    assert await grid_chat(session_factory, "A") is None
    # the code was shown to the group: nobody there may take the team's role with it
    assert not await unused(session_factory, code)
    reader = harness.person(language_code="en")
    [reply] = await reader.text(f"/start {code}")
    assert "was shown in a group chat, so it no longer works" in reply.text
    assert await roles_of_user(session_factory, reader.id) == []

    zh = harness.person(language_code="zh-hans")
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    [reply] = messages(await harness.feed(group_update(harness, zh, TEAM_CHAT, f"/bind {code}")))
    assert "只有本群管理员才能" in reply.text
    assert await grid_chat(session_factory, "A") is None

    # the group's creator and its administrators may
    owner, admin = harness.person(language_code="en"), harness.person(language_code="zh-hans")
    group_admin(harness, owner, TEAM_CHAT, owner=True)
    group_admin(harness, admin, TEAM_CHAT - 1)
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    [reply] = messages(await harness.feed(group_update(harness, owner, TEAM_CHAT, f"/bind {code}")))
    assert "now the team chat of grid 网格A (A)" in reply.text
    code = await live_invite(session_factory, Role.GRID_WORKER, grid_code="B")
    [reply] = messages(
        await harness.feed(group_update(harness, admin, TEAM_CHAT - 1, f"/bind {code}"))
    )
    assert "本群已设为网格B（B）的工作群" in reply.text
    assert (await grid_chat(session_factory, "A"), await grid_chat(session_factory, "B")) == (
        TEAM_CHAT,
        TEAM_CHAT - 1,
    )
    # an invalid code is answered as before, whoever sends it
    [reply] = messages(await harness.feed(group_update(harness, member, TEAM_CHAT, "/bind x")))
    assert "not valid" in reply.text


def sent_as_chat(harness, chat_id: int, sender_chat: Chat, text: str) -> Update:
    """A message in the group ``chat_id`` sent as ``sender_chat``: the group itself (an
    anonymous administrator) or a channel; Telegram names a stand-in bot as its sender."""
    stand_in = User(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot")
    message = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="supergroup", title="网格A工作群"),
        from_user=stand_in,
        sender_chat=sender_chat,
        text=text,
    )
    return Update(update_id=next(harness.update_ids), message=message)


async def test_an_anonymous_admin_is_asked_to_bind_as_themselves(harness, session_factory):
    """Telegram vouches that an anonymous sender administers the group, but the invite
    records who bound the group, and here nobody could be."""
    group = Chat(id=TEAM_CHAT, type="supergroup", title="网格A工作群")
    channel = Chat(id=-1009999, type="channel", title="东乡发布")
    for sender_chat in (group, channel):
        code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")

        calls = await harness.feed(sent_as_chat(harness, TEAM_CHAT, sender_chat, f"/bind {code}"))

        assert [call.name for call in calls] == ["SendMessage"]  # nobody to ask Telegram about
        # no person, no language: the district's
        assert "无法确认是谁在绑定本群" in calls[0].text
        assert "关闭“保持匿名”" in calls[0].text
        assert await grid_chat(session_factory, "A") is None
        assert not await unused(session_factory, code)


async def test_start_with_a_code_shown_in_a_group_says_so(harness, session_factory, grids):
    """A code spent by /bind in a group, bound or refused, answered /start with "You have
    already used this invitation; your role is unchanged." to the member who sent /bind
    (who never held the role) and "already been used" to everyone else: each now hears
    that it was shown in a group and so no longer works. One redeemed by /start says, as
    before, who used it."""
    member, reader = harness.person(language_code="en"), harness.person(language_code="zh-hans")
    refused = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    await harness.feed(group_update(harness, member, TEAM_CHAT, f"/bind {refused}"))
    group = Chat(id=TEAM_CHAT, type="supergroup", title="网格A工作群")
    anonymous = await live_invite(session_factory, Role.GRID_WORKER, grid_code="A")
    await harness.feed(sent_as_chat(harness, TEAM_CHAT, group, f"/bind {anonymous}"))
    group_admin(harness, member, TEAM_CHAT)
    bound = await live_invite(session_factory, Role.GRID_WORKER, grid_code="A")
    await harness.feed(group_update(harness, member, TEAM_CHAT, f"/bind {bound}"))
    assert await grid_chat(session_factory, "A") == TEAM_CHAT

    for code in (refused, anonymous, bound):
        [reply] = await member.text(f"/start {code}")
        assert "This invitation's code was shown in a group chat" in reply.text, code
        assert "already" not in reply.text
        [reply] = await reader.text(f"/start {code}")
        assert "该邀请码曾在群聊中出现" in reply.text, code
    assert await roles_of_user(session_factory, member.id) == []
    assert await roles_of_user(session_factory, reader.id) == []

    redeemed = await live_invite(session_factory, Role.SECRETARY, grid_code="B")
    await member.text(f"/start {redeemed}")
    [reply] = await member.text(f"/start {redeemed}")
    assert "You have already used this invitation" in reply.text
    [reply] = await reader.text(f"/start {redeemed}")
    assert "已被使用" in reply.text


async def test_a_group_admin_telegram_cannot_confirm_binds_nothing(harness, session_factory):
    """getChatMember failing (Telegram unreachable, or it will not tell a bot that is no
    administrator) binds nothing, and the reply says what to do."""
    person = harness.person(language_code="en")
    group_admin(harness, person, TEAM_CHAT)
    errors = (
        lambda method: TelegramNetworkError(method=method, message="Request timeout error"),
        lambda method: TelegramBadRequest(
            method=method, message="Bad Request: member list is inaccessible"
        ),
    )
    for error in errors:
        harness.session.failing[GetChatMember] = error
        code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")

        [reply] = messages(
            await harness.feed(group_update(harness, person, TEAM_CHAT, f"/bind {code}"))
        )

        assert "I could not check with Telegram that you are an administrator" in reply.text
        assert "make me an administrator of the group" in reply.text
        assert await grid_chat(session_factory, "A") is None
        assert not await unused(session_factory, code)
    del harness.session.failing[GetChatMember]
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    await harness.feed(group_update(harness, person, TEAM_CHAT, f"/bind {code}"))
    assert await grid_chat(session_factory, "A") == TEAM_CHAT


async def test_a_channel_is_no_team_chat(harness, session_factory):
    """The bot does not ask Telegram for channel posts, and one that came anyway binds
    nothing and spends nothing."""
    assert "channel_post" not in harness.dispatcher.resolve_used_update_types()
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    channel = Chat(id=-1009999, type="channel", title="东乡发布")
    post = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=channel,
        sender_chat=channel,
        text=f"/bind {code}",
    )
    assert await harness.feed(Update(update_id=next(harness.update_ids), channel_post=post)) == []
    assert await grid_chat(session_factory, "A") is None
    assert await unused(session_factory, code)


async def test_bind_in_private_points_to_the_group(harness, session_factory):
    person = harness.person(language_code="en")
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    [reply] = await person.text(f"/bind {code}")
    assert "team's group" in reply.text
    assert await grid_chat(session_factory, "A") is None
    assert all(invite.used_at is None for invite in await stored_invites(session_factory))


def admin_of(harness, language_code: str = "en") -> ChatPerson:
    user = User(id=ADMIN_ID, is_bot=False, first_name="Admin", language_code=language_code)
    return ChatPerson(harness, user)


async def test_admin_invites_in_chat(harness, session_factory, grids):
    admin = admin_of(harness)
    [prompt] = await admin.text("/invite")
    assert "Choose a role" in prompt.text
    [reply] = messages(await admin.press(prompt.button("party branch secretary")))
    assert "Type the grid's code (for example A)" in reply.text
    [hint] = await admin.sticker()
    assert "grid's code as text" in hint.text
    [reply] = messages(await admin.text("Z9"))
    assert "no grid with the code Z9" in reply.text
    [reply] = messages(await admin.text("a"))
    assert "secretary of grid 网格A (A)" in reply.text
    [(username, code)] = LINK.findall(reply.text)
    assert username == "redgrid_test_bot"
    assert f"/bind {code}" in reply.text

    newcomer = harness.person(language_code="en")
    [welcome] = await newcomer.text(f"/start {code}")
    assert "party branch secretary of grid 网格A" in welcome.text
    assert await roles_of_user(session_factory, newcomer.id) == [
        (Role.SECRETARY, grids["A"].id, None)
    ]

    # an officer: a community button; an informant: the whole district
    [prompt] = await admin.text("/invite")
    [prompt] = messages(await admin.press(prompt.button("community officer")))
    [reply] = messages(await admin.press(prompt.button("东铜社区")))
    assert "community officer of 东铜社区" in reply.text
    [prompt] = await admin.text("/invite")
    [prompt] = messages(await admin.press(prompt.button("red informant")))
    [hint] = await admin.sticker()
    assert "Choose a community" in hint.text
    [reply] = messages(await admin.text("月球"))
    assert "no community named 月球" in reply.text
    [reply] = messages(await admin.press(prompt.button("whole district")))
    assert "red informant of the whole district" in reply.text
    assert [i.role for i in await stored_invites(session_factory)] == [
        Role.SECRETARY,
        Role.OFFICER,
        Role.INFORMANT,
    ]
    assert {i.created_by_telegram_id for i in await stored_invites(session_factory)} == {ADMIN_ID}


async def test_invite_can_be_cancelled(harness, session_factory):
    admin = admin_of(harness)
    [prompt] = await admin.text("/invite")
    [hint] = await admin.text("secretary please")
    assert "Choose a role with the buttons" in hint.text
    [reply] = messages(await admin.press(prompt.button("grid worker")))
    cancelled, _menu = await admin.text("/cancel")  # the catch-alls let commands through
    assert "Cancelled" in cancelled.text
    [stale] = await admin.press(prompt.button("grid worker"))
    assert "no longer valid" in stale.method.text
    [prompt] = await admin.text("/invite")
    [reply] = messages(await admin.press(prompt.button("Cancel")))
    assert "No invitation was created" in reply.text
    assert await stored_invites(session_factory) == []


async def test_non_admins_cannot_invite(harness, session_factory):
    person = harness.person(language_code="en")
    [reply] = await person.text("/invite")
    assert "Only district admins" in reply.text
    [answer] = await person.press("i1:role:secretary")
    assert "no longer valid" in answer.method.text
    [answer] = await person.press("i1:dist:")
    assert "no longer valid" in answer.method.text
    zh = harness.person(language_code="zh-hans")
    [reply] = await zh.text("/invite")
    assert "管理员" in reply.text
    assert await stored_invites(session_factory) == []


async def test_a_forged_community_button_is_refused(harness, session_factory, grids):
    """Even an admin's forged button, with an id beyond the id column, gets a refusal
    (PostgreSQL would reject the query, and the admin read an apology)."""
    admin = admin_of(harness)
    await admin.text("/invite")
    await admin.press("i1:role:officer")
    for value in ("99999999999999", "0", "-1", "x"):
        [answer] = await admin.press(f"i1:comm:{value}")
        assert "no longer valid" in answer.method.text
    assert await stored_invites(session_factory) == []


# The command line --------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def redgrid(settings_env, database_url, monkeypatch, tmp_path):
    """``redgrid ARGS...`` against this test's database, with the small district loaded."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("BOT_USERNAME", raising=False)

    def invoke(*args: str):
        get_settings.cache_clear()  # each command is a new process: it reads the environment
        return runner.invoke(app, list(args), catch_exceptions=False)

    district = tmp_path / "district.geojson"
    district.write_bytes(dumps(small_district()))
    assert invoke("district", "import", str(district)).exit_code == 0
    return invoke


def redeem_in(database_url: str, code: str, telegram_id: int) -> Membership:
    async def work() -> Membership:
        engine = create_engine(database_url)
        try:
            factory = create_session_factory(engine)
            person = await new_person(factory, telegram_id)
            return await redeem(factory, code, person, utcnow())
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_cli_invite_prints_a_link_that_redeems(redgrid, monkeypatch, database_url):
    monkeypatch.setenv("BOT_USERNAME", "@dongxiang_grid_bot")
    result = redgrid("invite", "--role", "secretary", "--grid", "A", "--ttl-days", "2")
    assert result.exit_code == 0, result.output
    assert "secretary of grid A (网格A), single use, valid until" in result.output
    [(username, code)] = LINK.findall(result.output)
    assert username == "dongxiang_grid_bot"
    assert f"Code: {code}" in result.output
    membership = redeem_in(database_url, code, 77)
    assert membership.role is Role.SECRETARY

    listed = redgrid("invites", "--all")
    assert "used" in listed.output
    assert "grid A" in listed.output
    assert redgrid("invites").output.startswith("No usable invites")


def test_cli_revokes_an_unused_invite(redgrid, database_url):
    result = redgrid("invite", "--role", "secretary", "--grid", "A")
    code = re.search(r"Code: (\S+)", result.output)[1]
    [line] = redgrid("invites").output.splitlines()
    invite_id = line.split()[0]
    revoked = redgrid("invites", "--revoke", invite_id)
    assert revoked.exit_code == 0, revoked.output
    assert f"Invite {invite_id} (secretary grid A" in revoked.output
    assert "expired" in redgrid("invites", "--all").output
    with pytest.raises(InviteExpired):
        redeem_in(database_url, code, 78)

    assert redgrid("invites", "--revoke", "999").exit_code == EXIT_REFUSED
    other = redgrid("invite", "--role", "grid_worker", "--grid", "A")
    used = re.search(r"Code: (\S+)", other.output)[1]
    redeem_in(database_url, used, 79)
    used_id = redgrid("invites", "--all").output.splitlines()[0].split()[0]
    refused = redgrid("invites", "--revoke", used_id)
    assert refused.exit_code == EXIT_REFUSED
    assert "already used" in refused.output


def test_cli_invite_refusals(redgrid):
    bad_grid = redgrid("invite", "--role", "grid_worker", "--grid", "Z")
    assert bad_grid.exit_code == EXIT_REFUSED
    assert "no active grid with code 'Z'" in bad_grid.output
    assert redgrid("invite", "--role", "officer", "--community", "月球").exit_code == EXIT_REFUSED
    for args in (
        ("--role", "admin"),
        ("--role", "mayor", "--grid", "A"),
        ("--role", "secretary"),
        ("--role", "officer", "--grid", "A"),
        ("--role", "informant", "--grid", "A", "--community", "大富社区"),
        ("--role", "secretary", "--grid", "A", "--ttl-days", "0"),
        # An empty name made a district-wide informant invite.
        ("--role", "informant", "--community", ""),
        ("--role", "informant", "--community", "  "),
        ("--role", "secretary", "--grid", ""),
        # Each crashed after the checks, in timedelta: no invite, a traceback.
        *(("--role", "informant", "--ttl-days", days) for days in ("nan", "inf", "1e9", "366")),
    ):
        result = redgrid("invite", *args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
    assert redgrid("invites", "--all").output.startswith("No invites.")


def test_cli_invite_without_a_username_prints_the_start_command(redgrid, database_url):
    result = redgrid("invite", "--role", "informant", "--community", "大富")
    assert result.exit_code == 0, result.output
    assert "t.me" not in result.output
    assert "neither BOT_USERNAME nor BOT_TOKEN is set" in result.output
    [code] = re.findall(r"/start ([A-Za-z0-9_-]+)", result.output)
    assert redeem_in(database_url, code, 78).role is Role.INFORMANT


@pytest.fixture
def fake_api():
    """The fake Bot API served from its own thread: the command runs its own event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = FakeBotApi(token=TOKEN, username="fake_grid_bot")
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    yield api
    asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_cli_invite_asks_telegram_for_the_username(redgrid, monkeypatch, fake_api):
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE", fake_api.base_url)
    result = redgrid("invite", "--role", "officer", "--community", "东铜社区")
    assert result.exit_code == 0, result.output
    [(username, _code)] = LINK.findall(result.output)
    assert username == "fake_grid_bot"
    assert [call.method for call in fake_api.calls] == ["getMe"]


async def test_a_team_group_that_becomes_a_supergroup_stays_bound(harness, session_factory):
    """Telegram says it in the old group (migrate_to_chat_id) and in the new supergroup
    (migrate_from_chat_id); either moves the grid, and the other finds nothing to do."""
    secretary = harness.person(language_code="en")
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    old_group, supergroup = -4001, -1001234567890
    group_admin(harness, secretary, old_group, owner=True)
    await harness.feed(group_update(harness, secretary, old_group, f"/bind {code}"))
    assert await grid_chat(session_factory, "A") == old_group

    def service(chat_id: int, **migration: int) -> Update:
        message = Message(
            message_id=next(harness.update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="group" if chat_id == old_group else "supergroup"),
            from_user=secretary.user,
            **migration,
        )
        return Update(update_id=next(harness.update_ids), message=message)

    assert await harness.feed(service(old_group, migrate_to_chat_id=supergroup)) == []
    assert await grid_chat(session_factory, "A") == supergroup
    assert await harness.feed(service(supergroup, migrate_from_chat_id=old_group)) == []
    assert await grid_chat(session_factory, "A") == supergroup


def bot_status_update(harness, chat_id: int, new) -> Update:
    """Telegram tells the bot that its status in the group ``chat_id`` is now ``new``."""
    event = ChatMemberUpdated(
        chat=Chat(id=chat_id, type="supergroup", title="网格A工作群"),
        from_user=User(id=9, is_bot=False, first_name="Group admin"),
        date=datetime.now(UTC),
        old_chat_member=ChatMemberMember(user=BOT_USER),
        new_chat_member=new,
    )
    return Update(update_id=next(harness.update_ids), my_chat_member=event)


async def test_a_team_group_that_removes_the_bot_is_unbound_and_the_team_told(
    harness, session_factory
):
    """Otherwise every new ticket's card goes on being sent to a chat that refuses it, and
    nobody learns that the group gets nothing any more."""
    zh, en = harness.person(language_code="zh-hans"), harness.person(language_code="en")
    for member in (zh, en):
        await member.text(
            f"/start {await live_invite(session_factory, Role.GRID_WORKER, grid_code='A')}"
        )
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    group_admin(harness, en, TEAM_CHAT)
    await harness.feed(group_update(harness, en, TEAM_CHAT, f"/bind {code}"))

    calls = await harness.feed(bot_status_update(harness, TEAM_CHAT, ChatMemberLeft(user=BOT_USER)))

    assert await grid_chat(session_factory, "A") is None
    told = {call.chat_id: call.text for call in messages(calls)}
    assert set(told) == {zh.id, en.id}
    assert "I was removed from the group chat of grid 网格A (A)" in told[en.id]
    assert "我已被移出网格A（A）的工作群" in told[zh.id]
    # another group the bot leaves is no team's chat: nothing to do, nobody told
    kicked = ChatMemberBanned(user=BOT_USER, until_date=0)
    assert await harness.feed(bot_status_update(harness, TEAM_CHAT - 7, kicked)) == []


async def test_a_team_group_that_mutes_the_bot_stays_bound_and_the_team_is_told(
    harness, session_factory
):
    worker = harness.person(language_code="en")
    await worker.text(
        f"/start {await live_invite(session_factory, Role.GRID_WORKER, grid_code='A')}"
    )
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    group_admin(harness, worker, TEAM_CHAT)
    await harness.feed(group_update(harness, worker, TEAM_CHAT, f"/bind {code}"))
    permissions = {
        name: name != "can_send_messages"
        for name in ChatMemberRestricted.model_fields
        if name.startswith("can_")
    }
    muted = ChatMemberRestricted(user=BOT_USER, until_date=0, is_member=True, **permissions)

    [told] = messages(await harness.feed(bot_status_update(harness, TEAM_CHAT, muted)))

    assert told.chat_id == worker.id
    assert "I may no longer post in the group chat of grid 网格A (A)" in told.text
    assert await grid_chat(session_factory, "A") == TEAM_CHAT


async def test_binding_a_grid_to_another_group_tells_the_group_it_replaces(
    harness, session_factory
):
    """The grid's tickets move to the new group; the old one fell silent without a word,
    and nobody there could tell that someone had taken the grid's tickets elsewhere."""
    secretary = harness.person(language_code="en")
    first, second = TEAM_CHAT, TEAM_CHAT - 1
    group_admin(harness, secretary, first, second)
    code = await live_invite(session_factory, Role.SECRETARY, grid_code="A")
    await harness.feed(group_update(harness, secretary, first, f"/bind {code}"))
    code = await live_invite(session_factory, Role.GRID_WORKER, grid_code="A")

    calls = await harness.feed(group_update(harness, secretary, second, f"/bind {code}"))

    assert await grid_chat(session_factory, "A") == second
    told = {call.chat_id: call.text for call in messages(calls)}
    assert "now the team chat of grid 网格A (A)" in told[second]
    assert "本群已不再是网格A（A）的工作群" in told[first]  # group pushes: the district's language
    # binding the same group again tells nobody else
    code = await live_invite(session_factory, Role.GRID_WORKER, grid_code="A")
    [reply] = messages(
        await harness.feed(group_update(harness, secretary, second, f"/bind {code}"))
    )
    assert reply.chat_id == second
