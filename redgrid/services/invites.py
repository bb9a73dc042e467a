"""Single-use invitations: a role for a person, or a group chat for a grid's team.

An admin creates an invite for a role in a scope (a grid for secretaries and grid workers,
a community for officers, the district or a community for red informants; admins are
named in the settings and never invited). A community officer creates red informant
invites for their own communities and nothing else (``invite_rights``): the informants of
a community are the officer's to recruit, the team is the district's to appoint.

The code is a random URL-safe token that fits a Telegram deep link (``/start <code>``);
only its SHA-256 is stored, so a copy of the database opens no door. A code is spent by
one conditional UPDATE (``used_at IS NULL AND expires_at > now``): when two people race
for one code, exactly one of them wins.

**Binding a team chat.** ``/bind <code>`` in a group uses the same invites: a grid-scoped
code (secretary or grid worker) presented in a group binds that group to the grid instead
of giving anyone a role. The code is a bearer credential the admin hands to the grid's
team, but holding it is not enough: the group will receive residents' names and phones
(of those who agreed to share them with the team), so only an administrator or the
creator of the group, sending as themselves, may bind it (``BindSender``, which the
caller learns from Telegram). Otherwise anyone holding a code could bind any group they
are merely in. An anonymous administrator (sending as the group) is refused too: the
invite records who bound the group, and nobody could be.

Since everyone in the group can read a code posted there, the code is spent by any
``/bind`` that presents it while it is still valid, even when the binding is then refused
(the sender is not an administrator, or could not be checked; not a grid code; the chat
already belongs to another grid): left valid, it would give any reader of the group the
team's role through ``/start``. Those refusals are ``BindRefused`` and the caller commits
the spent code before replying. A grid has one team chat and a chat serves one grid
(``Grid.team_chat_id`` is unique): binding a grid again moves it to the new chat (the bot
tells the old one); a chat bound to another grid is refused.

The caller owns the transaction; these functions only flush.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import Community, Grid, Invite, Membership, Person, Role
from redgrid.services import people

# Roles an invite can carry; admins come from the settings (ADMIN_IDS).
INVITABLE_ROLES = (Role.SECRETARY, Role.GRID_WORKER, Role.OFFICER, Role.INFORMANT)
GRID_ROLES = (Role.SECRETARY, Role.GRID_WORKER)
# secrets.token_urlsafe(18) gives 24 characters of A-Z a-z 0-9 _ - (144 random bits);
# Telegram allows 64 such characters in a deep link's payload.
CODE_BYTES = 18
MAX_CODE_LENGTH = 64
_CODE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class InviteError(Exception):
    """Nothing was created or redeemed; the reason is one a person can be told."""


class InvalidInvite(InviteError):  # noqa: N818 - the name is the public interface
    """The role and scope asked for cannot make an invite."""


class InviteNotAllowed(InviteError):  # noqa: N818
    """The actor may not invite this role in this scope (see ``invite_rights``)."""


class ScopeNotFound(InviteError):  # noqa: N818
    """No active grid with that code, or no community with that name."""


class InviteNotFound(InviteError):  # noqa: N818
    """No invite has this code (mistyped, truncated, or never issued)."""


class InviteExpired(InviteError):  # noqa: N818
    def __init__(self, invite: Invite) -> None:
        super().__init__(f"invite {invite.id} expired at {invite.expires_at.isoformat()}")
        self.invite = invite


class InviteAlreadyUsed(InviteError):  # noqa: N818
    """Someone (``used_by_id``; None for a group bind by an anonymous admin) used it."""

    def __init__(self, invite: Invite) -> None:
        super().__init__(f"invite {invite.id} was already used")
        self.invite = invite
        self.used_by_id = invite.used_by_id


class BindRefused(InviteError):  # noqa: N818
    """The code was valid and is now spent (it was shown in the group), but the chat was
    not bound. The caller commits, so the spent code stays spent."""


class BindSender(StrEnum):
    """Who sent ``/bind`` in the group, as Telegram tells it."""

    ADMIN = "admin"  # an administrator or the creator of the group, sending as themselves
    MEMBER = "member"  # anyone else in the group
    ANONYMOUS = "anonymous"  # sent as the group (an anonymous administrator) or a channel
    UNKNOWN = "unknown"  # Telegram could not say (getChatMember failed)


class NotAGroupAdmin(BindRefused):
    """Only a group's administrator, known by name, binds it (see the module notes)."""

    def __init__(self, invite: Invite, sender: BindSender) -> None:
        super().__init__(f"invite {invite.id} presented by a sender who is {sender}, not admin")
        self.sender = sender


class NotAGridInvite(BindRefused):
    def __init__(self, invite: Invite) -> None:
        super().__init__(f"invite {invite.id} is for a {invite.role}, not a grid team")
        self.invite = invite


class ChatAlreadyBound(BindRefused):
    def __init__(self, grid: Grid) -> None:
        super().__init__(f"this chat is already the team chat of grid {grid.code}")
        self.grid = grid


@dataclass(frozen=True, slots=True)
class InviteScope:
    """Where an invite's role is held: a grid, a community, or (neither) the district."""

    grid: Grid | None = None
    community: Community | None = None


@dataclass(frozen=True, slots=True)
class InviteRights:
    """What an actor may invite: an admin every role anywhere (``communities`` None), a
    community officer red informants of the communities they serve (at least one)."""

    roles: tuple[Role, ...]
    communities: tuple[Community, ...] | None

    def allows(self, role: Role, community_id: int | None) -> bool:
        """Whether an invite for ``role`` in ``community_id`` (None: a grid, or the
        district) is theirs to create."""
        if role not in self.roles:
            return False
        return self.communities is None or any(c.id == community_id for c in self.communities)


async def invite_rights(session: AsyncSession, actor: people.Actor) -> InviteRights | None:
    """What ``actor`` may invite now, or None for nothing. Read afresh at every step: an
    officer removed from their community (``services/members.py``) invites no more."""
    if actor.is_admin:
        return InviteRights(INVITABLE_ROLES, None)
    communities = (
        await session.exec(
            select(Community)
            .join(Membership, col(Membership.community_id) == Community.id)
            .where(
                Membership.person_id == actor.person_id,
                Membership.role == Role.OFFICER,
                col(Membership.active),
            )
            .order_by(col(Community.name))
        )
    ).all()
    if not communities:
        return None
    return InviteRights((Role.INFORMANT,), tuple(communities))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def looks_like_code(text: str) -> bool:
    """Whether ``text`` could be an invite code (a deep-link payload's alphabet and size)."""
    return 0 < len(text) <= MAX_CODE_LENGTH and set(text) <= _CODE_ALPHABET


async def find_grid(session: AsyncSession, code: str) -> Grid:
    """The active grid with this code (exact, else upper-cased, as codes are written)."""
    code = code.strip()
    for candidate in dict.fromkeys((code, code.upper())):
        grid = (
            await session.exec(select(Grid).where(Grid.code == candidate, col(Grid.active)))
        ).one_or_none()
        if grid is not None:
            return grid
    raise ScopeNotFound(f"no active grid with code {code!r}")


async def find_community(session: AsyncSession, name: str) -> Community:
    """The community with this name; "大富" finds "大富社区" too."""
    name = name.strip()
    for candidate in dict.fromkeys((name, f"{name}社区")):
        community = (
            await session.exec(select(Community).where(Community.name == candidate))
        ).one_or_none()
        if community is not None:
            return community
    raise ScopeNotFound(f"no community named {name!r}")


async def create_invite(
    session: AsyncSession,
    role: Role | str,
    *,
    grid_code: str | None = None,
    community_name: str | None = None,
    by: people.Actor | None = None,
    ttl: timedelta,
    now: datetime,
) -> tuple[Invite, str]:
    """A new single-use invite and its code; the code is returned once and never stored.
    ``by`` is who creates it, checked against ``invite_rights`` (None: the operator at
    the shell, who may create any)."""
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInvite(f"unknown role {role!r}") from None
    if role not in INVITABLE_ROLES:
        raise InvalidInvite("admins are named in the settings (ADMIN_IDS), not invited")
    if ttl <= timedelta(0):
        raise InvalidInvite("an invite must stay valid for some time")
    grid_code = grid_code.strip() if grid_code and grid_code.strip() else None
    community_name = community_name.strip() if community_name and community_name.strip() else None
    if role in GRID_ROLES and (grid_code is None or community_name is not None):
        raise InvalidInvite(f"a {role} invite needs a grid code and no community")
    if role is Role.OFFICER and (community_name is None or grid_code is not None):
        raise InvalidInvite("an officer invite needs a community and no grid")
    if role is Role.INFORMANT and grid_code is not None:
        raise InvalidInvite("an informant invite is for the district or a community, not a grid")
    grid = await find_grid(session, grid_code) if grid_code is not None else None
    community = await find_community(session, community_name) if community_name else None
    if by is not None:
        rights = await invite_rights(session, by)
        if rights is None or not rights.allows(role, community.id if community else None):
            raise InviteNotAllowed(f"person {by.person_id} may not invite a {role} there")
    code = secrets.token_urlsafe(CODE_BYTES)
    invite = Invite(
        code_hash=hash_code(code),
        role=role,
        grid_id=grid.id if grid else None,
        community_id=community.id if community else None,
        created_by_telegram_id=by.telegram_id if by is not None else None,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    await session.flush()
    return invite, code


async def invite_scope(session: AsyncSession, invite: Invite) -> InviteScope:
    grid = await session.get(Grid, invite.grid_id) if invite.grid_id is not None else None
    community = (
        await session.get(Community, invite.community_id)
        if invite.community_id is not None
        else None
    )
    return InviteScope(grid=grid, community=community)


async def _live_invite(session: AsyncSession, code: str, now: datetime) -> Invite:
    """The unused, unexpired invite with this code, else the error that says why not."""
    if not looks_like_code(code):
        raise InviteNotFound("not an invite code")
    invite = (
        await session.exec(select(Invite).where(Invite.code_hash == hash_code(code)))
    ).one_or_none()
    if invite is None:
        raise InviteNotFound("no invite has this code")
    if invite.used_at is not None:
        raise InviteAlreadyUsed(invite)
    if invite.expires_at <= now:
        raise InviteExpired(invite)
    return invite


async def _spend(session: AsyncSession, invite: Invite, used_by_id: int | None, now: datetime):
    """Mark the invite used if nobody did first; else the error naming what happened."""
    result = await session.exec(
        update(Invite)
        .where(
            col(Invite.id) == invite.id,
            col(Invite.used_at).is_(None),
            col(Invite.expires_at) > now,
        )
        .values(used_at=now, used_by_id=used_by_id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(invite)
    if result.rowcount != 1:
        if invite.used_at is not None:
            raise InviteAlreadyUsed(invite)
        raise InviteExpired(invite)


async def redeem_invite(
    session: AsyncSession, code: str, person: Person, now: datetime
) -> Membership:
    """Spend the code and give ``person`` its role in its scope."""
    invite = await _live_invite(session, code, now)
    await _spend(session, invite, person.id, now)
    return await people.grant_role(
        session, person.id, invite.role, grid_id=invite.grid_id, community_id=invite.community_id
    )


async def spent_in_group(session: AsyncSession, invite: Invite) -> bool:
    """Whether a used invite was spent by ``/bind`` in a group rather than redeemed. A
    redemption always grants the invite's role in its scope, and memberships are
    deactivated, never deleted: a code whose user holds no such row, or that names no user
    (an anonymous administrator's ``/bind``), was shown in a group. A binder who held that
    role already cannot be told from its redeemer: the invite does not record how it was
    spent."""
    if invite.used_by_id is None:
        return True
    held = await session.exec(
        select(Membership.id)
        .where(
            Membership.person_id == invite.used_by_id,
            Membership.role == invite.role,
            col(Membership.grid_id).is_not_distinct_from(invite.grid_id),
            col(Membership.community_id).is_not_distinct_from(invite.community_id),
        )
        .limit(1)
    )
    return held.first() is None


@dataclass(frozen=True, slots=True)
class TeamChatBinding:
    grid: Grid
    replaced_chat_id: int | None  # the group that was the grid's team chat until now


async def bind_team_chat(
    session: AsyncSession,
    code: str,
    chat_id: int,
    actor: people.Actor | None,
    sender: BindSender,
    now: datetime,
) -> TeamChatBinding:
    """Bind the group ``chat_id`` to the grid of a grid-team code (see the module notes).

    ``actor`` is who sent ``/bind`` (None when sent as the group or a channel), ``sender``
    their standing in the group; the actor is recorded as the code's user and gains no
    role. The group it replaces, if any, is named so that it can be told it gets the
    grid's tickets no more.
    """
    invite = await _live_invite(session, code, now)
    await _spend(session, invite, actor.person_id if actor is not None else None, now)
    if sender is not BindSender.ADMIN:
        raise NotAGroupAdmin(invite, sender)
    if invite.role not in GRID_ROLES or invite.grid_id is None:
        raise NotAGridInvite(invite)
    grid = await session.get(Grid, invite.grid_id)
    bound = (await session.exec(select(Grid).where(Grid.team_chat_id == chat_id))).one_or_none()
    if bound is not None and bound.id != grid.id:
        raise ChatAlreadyBound(bound)
    replaced = grid.team_chat_id if grid.team_chat_id != chat_id else None
    grid.team_chat_id = chat_id
    grid.updated_at = now
    session.add(grid)
    await session.flush()
    return TeamChatBinding(grid, replaced)


async def move_team_chat(
    session: AsyncSession, old_chat_id: int, new_chat_id: int, now: datetime
) -> Grid | None:
    """A team's group became a supergroup, which Telegram gives a new chat id: the grid
    follows it. Returns the grid, or None if ``old_chat_id`` is no grid's team chat (or
    the move was made already: Telegram tells it both in the old chat and the new one).

    One conditional UPDATE, like ``unbind_team_chat``: of the two service messages and a
    refused push (perhaps in two instances), one moves the grid and the others find
    nothing to do, and a grid bound to another group meanwhile stays there."""
    moved = await session.exec(
        update(Grid)
        .where(col(Grid.team_chat_id) == old_chat_id)
        .values(team_chat_id=new_chat_id, updated_at=now)
        .returning(Grid)
        .execution_options(populate_existing=True)
    )
    return moved.scalars().one_or_none()


async def unbind_team_chat(session: AsyncSession, chat_id: int, now: datetime) -> Grid | None:
    """The bot was removed from the group ``chat_id``: the grid it served (if any) has no
    team chat any more, so its pushes stop going where they cannot arrive. Returns that
    grid; binding a group again takes a new code.

    One conditional UPDATE: of two transactions that see the same removal (the
    my_chat_member update and a refused push, perhaps in two instances), one gets the grid
    and the other None (on PostgreSQL the second waits for the first's row lock, then finds
    the condition false), so the grid's members are told once."""
    unbound = await session.exec(
        update(Grid)
        .where(col(Grid.team_chat_id) == chat_id)
        .values(team_chat_id=None, updated_at=now)
        .returning(Grid)
        .execution_options(populate_existing=True)
    )
    return unbound.scalars().one_or_none()


async def revoke_invite(session: AsyncSession, invite_id: int, now: datetime) -> Invite:
    """Make an unused invite expire now (a link sent to the wrong person, or leaked):
    whoever opens it is told it has expired. A used one is refused: its role is given."""
    invite = await session.get(Invite, invite_id)
    if invite is None:
        raise InviteNotFound(f"no invite has the id {invite_id}")
    if invite.used_at is not None:
        raise InviteAlreadyUsed(invite)
    if invite.expires_at > now:
        invite.expires_at = now
        session.add(invite)
        await session.flush()
    return invite


async def list_invites(
    session: AsyncSession, now: datetime, *, active_only: bool = True
) -> list[Invite]:
    """Invites newest first; ``active_only``: those still unused and unexpired."""
    query = select(Invite).order_by(col(Invite.id).desc())
    if active_only:
        query = query.where(col(Invite.used_at).is_(None), col(Invite.expires_at) > now)
    return list((await session.exec(query)).all())
