"""`redgrid invite` and `redgrid invites`: single-use invites, created, listed, revoked."""

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from redgrid.bot.settings import MAX_INVITE_TTL_DAYS, Settings, get_settings
from redgrid.cli.base import (
    EXIT_REFUSED,
    EXIT_USAGE,
    _,
    _column,
    _require_current_schema,
    _role,
    _row_id,
    _scope_not_found,
    _with_engine,
    app,
)
from redgrid.languages import N_
from redgrid.models.base import utcnow
from redgrid.models.db import create_session_factory
from redgrid.models.people import Role
from redgrid.services.invites import (
    GRID_ROLES,
    INVITABLE_ROLES,
    InvalidInvite,
    InviteAlreadyUsed,
    InviteNotFound,
    InviteScope,
    ScopeNotFound,
    create_invite,
    invite_scope,
    list_invites,
    revoke_invite,
)


@app.command(
    "invite",
    help=N_(
        "Create a single-use invite: print its deep link and code.\n\n"
        "Opening the link gives the person the role. A grid code sent as `/bind CODE` in a"
        " group by one of its administrators makes that group the grid's team chat instead."
        " Codes are stored hashed: this is the only time the code is shown."
    ),
)
def invite(
    role: Annotated[
        str,
        typer.Option(
            help=N_(
                "secretary (party branch secretary), grid_worker (grid worker), officer"
                " (community officer) or informant (red informant)."
            ),
            show_default=False,
        ),
    ],
    grid: Annotated[
        str | None, typer.Option(help=N_("The grid's code (secretary, grid_worker)."))
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(
            help=N_("The community's name (officer; informant: else the whole district).")
        ),
    ] = None,
    ttl_days: Annotated[
        float | None,
        typer.Option(help=N_("Days the code stays valid (default: INVITE_TTL_DAYS).")),
    ] = None,
) -> None:
    if role not in {r.value for r in INVITABLE_ROLES}:
        names = ", ".join(r.value for r in INVITABLE_ROLES)
        typer.echo(
            _("Unknown role {role}: use one of {roles} (admins go in ADMIN_IDS).").format(
                role=repr(role), roles=names
            ),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if grid is not None and community is not None:
        typer.echo(_("Give --grid or --community, not both."), err=True)
        raise typer.Exit(EXIT_USAGE)
    for option, value in (("--grid", grid), ("--community", community)):
        if value is not None and not value.strip():  # not "the whole district" by accident
            typer.echo(
                _("{option} is empty: name one, or leave the option out.").format(option=option),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE)
    settings = get_settings()
    days = settings.invite_ttl_days if ttl_days is None else ttl_days
    if not 0 < days <= MAX_INVITE_TTL_DAYS:  # NaN too
        typer.echo(
            _("--ttl-days must be more than 0 and at most {limit}.").format(
                limit=MAX_INVITE_TTL_DAYS
            ),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            invite, code = await create_invite(
                session,
                role,
                grid_code=grid,
                community_name=community,
                ttl=timedelta(days=days),
                now=utcnow(),
            )
            return invite, await invite_scope(session, invite), code

    try:
        created, scope, code = _with_engine(work)
    except InvalidInvite:  # the role and the options do not go together
        typer.echo(_(_INVITE_SCOPE_RULES[Role(role)]), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ScopeNotFound:
        typer.echo(
            _scope_not_found(grid, community, N_("no active grid with code {code}")), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    expires = created.expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    typer.echo(
        _("Invite {id}: {role} of {scope}, single use, valid until {time} ({timezone}).").format(
            id=created.id,
            role=_role(created.role),
            scope=_scope_text(scope),
            time=expires,
            timezone=settings.timezone,
        )
    )
    username, problem = _bot_username(settings)
    if username is not None:
        typer.echo(_("Link: {url}").format(url=f"https://t.me/{username}?start={code}"))
    typer.echo(_("Code: {code}").format(code=code))
    if username is None:
        typer.echo(
            _("No link: {reason}. Set BOT_USERNAME to print one.").format(reason=problem),
            err=True,
        )
        typer.echo(_("The person opens the bot and sends: /start {code}").format(code=code))
    if created.role in GRID_ROLES:
        typer.echo(
            _(
                "Or, in the team's group chat, `/bind {code}` sent by an administrator of the"
                " group makes it the grid's team chat."
            ).format(code=code)
        )


# What each invitable role needs besides itself: the one reason create_invite refuses an
# invite the command's own checks let through.
_INVITE_SCOPE_RULES = {
    Role.SECRETARY: N_("Refused: a secretary invite needs a grid (--grid) and no community."),
    Role.GRID_WORKER: N_("Refused: a grid_worker invite needs a grid (--grid) and no community."),
    Role.OFFICER: N_("Refused: an officer invite needs a community (--community) and no grid."),
    Role.INFORMANT: N_(
        "Refused: an informant invite is for the district or a community, not a grid."
    ),
}


def _scope_text(scope: InviteScope) -> str:
    if scope.grid is not None:
        return _("grid {code} ({name})").format(code=scope.grid.code, name=scope.grid.name)
    if scope.community is not None:
        return scope.community.name
    return _("the district")


def _bot_username(settings: Settings) -> tuple[str | None, str | None]:
    """The bot's username from BOT_USERNAME, else from Telegram's getMe; else why not."""
    if settings.bot_username:
        return settings.bot_username, None
    if settings.bot_token is None:
        return None, _("neither BOT_USERNAME nor BOT_TOKEN is set")
    import aiohttp
    from aiogram.exceptions import TelegramAPIError

    from redgrid.bot.factory import create_bot

    async def ask() -> str | None:
        bot = create_bot(settings)
        try:
            return (await asyncio.wait_for(bot.me(), timeout=20)).username
        finally:
            await bot.session.close()

    try:
        username = asyncio.run(ask())
    except (TelegramAPIError, aiohttp.ClientError, OSError, TimeoutError) as error:
        return None, _("could not ask Telegram for the bot's username ({reason})").format(
            reason=error or type(error)
        )
    if not username:
        return None, _("Telegram returned no username for the bot")
    return username, None


@app.command(
    "invites",
    help=N_(
        "List invites (codes are stored hashed, so only their role, scope and state), or"
        " revoke one by the id the list shows."
    ),
)
def invites_list(
    all_: Annotated[
        bool, typer.Option("--all", help=N_("Include used and expired invites."))
    ] = False,
    revoke: Annotated[
        int | None, _row_id(N_("Revoke the unused invite with this id: its link expires now."))
    ] = None,
) -> None:
    if revoke is not None:

        async def expire(engine: AsyncEngine):
            await _require_current_schema(engine)
            async with create_session_factory(engine)() as session, session.begin():
                invite = await revoke_invite(session, revoke, utcnow())
                return invite, await invite_scope(session, invite)

        try:
            invite, scope = _with_engine(expire)
        except InviteNotFound:
            typer.echo(
                _("No invite has the id {id}; see `redgrid invites --all`.").format(id=revoke),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        except InviteAlreadyUsed:
            typer.echo(_("Refused: invite {id} is already used.").format(id=revoke), err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(
            _("Invite {id} ({role} {scope}) is revoked.").format(
                id=revoke, role=_role(invite.role), scope=_scope_text(scope)
            )
        )
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            rows = await list_invites(session, utcnow(), active_only=not all_)
            return [(row, await invite_scope(session, row)) for row in rows]

    rows = _with_engine(work)
    if not rows:
        typer.echo(_("No invites.") if all_ else _("No usable invites (--all shows the others)."))
        return
    tz = get_settings().tz
    now = utcnow()
    for row, scope in rows:
        if row.used_at is not None:
            used = f"{row.used_at.astimezone(tz):%Y-%m-%d %H:%M}"
            state = (
                _("used {time} by person {id}").format(time=used, id=row.used_by_id)
                if row.used_by_id
                else _("used {time} (anonymous /bind)").format(time=used)
            )
        elif row.expires_at <= now:
            state = _("expired")
        else:
            state = _("valid until {time}").format(
                time=f"{row.expires_at.astimezone(tz):%Y-%m-%d %H:%M}"
            )
        typer.echo(f"{row.id:>5}  {_column(_role(row.role), 12)} {_scope_text(scope)}  {state}")
