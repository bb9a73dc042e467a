"""`redgrid informants` and `redgrid members`: the red informants and the district's team,
listed, paused, removed."""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from redgrid.bot.settings import Settings, get_settings
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
    ngettext,
)
from redgrid.languages import N_
from redgrid.models.base import utcnow
from redgrid.models.db import create_session_factory
from redgrid.models.informants import InformantStatus, WorkType
from redgrid.services.informants import (
    IllegalStatusChange,
    InformantNotFound,
    list_informants,
    set_status,
)
from redgrid.services.invites import InviteScope, ScopeNotFound
from redgrid.services.members import (
    AlreadyRemoved,
    Fallback,
    GapKind,
    InformantMembership,
    MemberRow,
    MembershipNotFound,
    Removal,
    list_members,
    remove_membership,
)


@app.command(
    "informants",
    help=N_(
        "List the red informants with their points, or pause, resume or remove one (by the id"
        " the list shows)."
    ),
)
def informants_command(
    pause: Annotated[int | None, _row_id(N_("Pause the informant with this id."))] = None,
    resume: Annotated[int | None, _row_id(N_("Resume a paused informant."))] = None,
    remove: Annotated[
        int | None,
        _row_id(N_("Remove an informant (the role goes; a new invite brings them back).")),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help=N_("Include removed informants."))] = False,
) -> None:
    actions = [
        (person_id, status)
        for person_id, status in (
            (pause, InformantStatus.PAUSED),
            (resume, InformantStatus.ACTIVE),
            (remove, InformantStatus.REMOVED),
        )
        if person_id is not None
    ]
    if len(actions) > 1:
        typer.echo(_("Give one of --pause, --resume, --remove."), err=True)
        raise typer.Exit(EXIT_USAGE)
    settings = get_settings()

    if actions:
        [(person_id, status)] = actions

        async def change(engine: AsyncEngine):
            await _require_current_schema(engine)
            async with create_session_factory(engine)() as session, session.begin():
                profile = await set_status(session, person_id, status, utcnow(), by=None)
                return profile.display_name

        try:
            name = _with_engine(change)
        except InformantNotFound:
            typer.echo(
                _("No informant has the id {id}; see `redgrid informants`.").format(id=person_id),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        except IllegalStatusChange as error:
            typer.echo(
                _("Refused: informant {id} is {status}.").format(
                    id=person_id, status=_(_STATUSES[error.status])
                ),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(
            _("Informant {id} ({name}) is now {status}.").format(
                id=person_id, name=name, status=_(_STATUSES[status])
            )
        )
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await list_informants(session, utcnow(), include_removed=all_, tz=settings.tz)

    rows = _with_engine(work)
    if not rows:
        typer.echo(_("No informants.") if all_ else _("No informants (--all shows removed ones)."))
        return
    for row in rows:
        record = _(
            "joined {date}  reports {reports}  points {month} this month, {total} in all"
        ).format(
            date=row.joined_at.astimezone(settings.tz).strftime("%Y-%m-%d"),
            reports=row.reports,
            month=row.points_month,
            total=row.points_total,
        )
        typer.echo(
            f"{row.person_id:>5}  {_column(row.display_name, 20)} {row.phone:<11}"
            f"  {_column(_(_WORK_TYPES[row.work_type]), 19)} {_column(row.community or '-', 10)}"
            f" {_column(_(_STATUSES[row.status]), 7)}  {record}"
        )


# The bot's words for them (handlers/informant/shared.py).
_STATUSES = {
    InformantStatus.ACTIVE: N_("active"),
    InformantStatus.PAUSED: N_("paused"),
    InformantStatus.REMOVED: N_("removed"),
}


_WORK_TYPES = {
    WorkType.FOOD_DELIVERY: N_("food delivery rider"),
    WorkType.COURIER: N_("courier"),
    WorkType.RIDE_HAILING: N_("ride-hailing driver"),
    WorkType.OTHER: N_("other work"),
}


@app.command(
    "members",
    help=N_(
        "List the district's team (secretaries, grid workers, officers, admins by membership),"
        " or remove a membership by the id the list shows. Red informants: `redgrid informants`."
    ),
)
def members_command(
    grid: Annotated[
        str | None, typer.Option(help=N_("Only the team of the grid with this code."))
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(help=N_("Only the community's officers and the teams of its grids.")),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help=N_("Include removed memberships."))] = False,
    remove: Annotated[
        int | None,
        _row_id(
            N_(
                "Remove the membership with this id: the person is told, and the team's"
                " tickets no longer reach them."
            )
        ),
    ] = None,
) -> None:
    if grid is not None and community is not None:
        typer.echo(_("Give --grid or --community, not both."), err=True)
        raise typer.Exit(EXIT_USAGE)
    if remove is not None:
        if grid is not None or community is not None or all_:
            typer.echo(_("--remove takes the membership's id alone."), err=True)
            raise typer.Exit(EXIT_USAGE)
        _remove_member(remove)
        return
    settings = get_settings()

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await list_members(
                session, grid_code=grid, community_name=community, include_removed=all_
            )

    try:
        rows = _with_engine(work)
    except ScopeNotFound:
        typer.echo(_scope_not_found(grid, community, N_("no grid with code {code}")), err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if not rows:
        typer.echo(
            _("No team members.") if all_ else _("No team members (--all shows removed ones).")
        )
        return
    for row in rows:
        since = _("since {date}").format(
            date=row.since.astimezone(settings.tz).strftime("%Y-%m-%d")
        )
        name = _("(erased)") if row.forgotten else row.name or "-"
        telegram_id = "-" if row.forgotten else row.telegram_id  # a tombstone, not an account
        state = "" if row.active else f"  {_removed_when(row, settings)}"
        typer.echo(
            f"{row.membership_id:>5}  {_column(name, 20)} {telegram_id:>12}"
            f"  {_column(_role(row.role), 12)} {_member_scope(row)}  {since}{state}"
        )


def _removed_when(row: MemberRow, settings: Settings) -> str:
    """Removed rows before revision 0006 kept no date."""
    if row.removed_at is None:
        return _("removed (date unknown)")
    return _("removed {time}").format(
        time=row.removed_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    )


def _member_scope(row: MemberRow) -> str:
    if row.grid is not None:
        details = [row.grid.name]
        if row.community is not None:
            details.append(row.community.name)
        if not row.grid.active:
            details.append(_("retired"))
        return _("grid {code} ({name})").format(code=row.grid.code, name=_(", ").join(details))
    if row.community is not None:
        return row.community.name
    return _("the district")


def _remove_member(membership_id: int) -> None:
    """Deactivate the membership and stage the person's farewell in one transaction; the
    running bot sends it."""
    settings = get_settings()
    # aiogram only for this part: the farewell is rendered and staged as the bot's pushes are.
    from redgrid.bot.i18n import create_i18n
    from redgrid.bot.notifier import Notifier
    from redgrid.bot.pushes import locale_of
    from redgrid.handlers.invites import farewell_text

    i18n = create_i18n(settings.default_locale)

    async def work(engine: AsyncEngine) -> Removal:
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            removal = await remove_membership(session, membership_id, settings.admin_ids, utcnow())
            person = removal.person
            if person.forgotten_at is None:
                scope = InviteScope(grid=removal.grid, community=removal.community)
                with i18n.context(), i18n.use_locale(locale_of(person, settings)):
                    text = farewell_text(removal.membership.role, scope)
                Notifier(session).message(person.telegram_id, text, person_id=person.id)
            return removal

    try:
        removal = _with_engine(work)
    except MembershipNotFound:
        typer.echo(
            _("No team membership has the id {id}; see `redgrid members --all`.").format(
                id=membership_id
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except AlreadyRemoved:
        typer.echo(
            _("Refused: membership {id} is already removed.").format(id=membership_id), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except InformantMembership as error:
        typer.echo(
            _(
                "Refused: membership {id} is a red informant's; use"
                " `redgrid informants --remove {person_id}`."
            ).format(id=membership_id, person_id=error.person_id),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    person, membership = removal.person, removal.membership
    who = _("(erased)") if person.forgotten_at is not None else person.display_name or "-"
    where = (
        _("grid {code}").format(code=removal.grid.code)
        if removal.grid is not None
        else removal.community.name
        if removal.community is not None
        else _("the district")
    )
    typer.echo(
        _("Membership {id} ({name}, {role} of {scope}) is removed.").format(
            id=membership_id, name=who, role=_role(membership.role), scope=where
        )
    )
    if person.forgotten_at is None:
        typer.echo(_("They are told so when the bot next sends its pushes."))
    if removal.dropped_pushes:
        typer.echo(
            ngettext(
                "{count} pending push about the team's tickets will not be sent to them.",
                "{count} pending pushes about the team's tickets will not be sent to them.",
                removal.dropped_pushes,
            ).format(count=removal.dropped_pushes)
        )
    if removal.grid is not None and removal.grid.team_chat_id is not None:
        typer.echo(
            _(
                "They may still read grid {code}'s team chat: remove them from that group too."
            ).format(code=removal.grid.code)
        )
    if removal.gap is not None:
        typer.echo(_gap_warning(removal), err=True)


_FALLBACK_TEXT = {
    Fallback.OFFICERS: N_("the community's officers"),
    Fallback.ADMINS: N_("the district admins"),
    Fallback.NOBODY: N_("nobody (no officer or admin can be reached)"),
}


def _gap_warning(removal: Removal) -> str:
    gap = removal.gap
    if gap.kind is GapKind.NO_SECRETARY:
        return _("Warning: grid {code} has no secretary left, only grid workers.").format(
            code=removal.grid.code
        )
    if gap.kind is GapKind.NO_TEAM:
        return _(
            "Warning: grid {code} has no team member left: its tickets now reach {fallback}."
        ).format(code=removal.grid.code, fallback=_(_FALLBACK_TEXT[gap.fallback]))
    return _(
        "Warning: {community} has no community officer left: its own queue's tickets and"
        " overdue notices now reach {fallback}."
    ).format(community=removal.community.name, fallback=_(_FALLBACK_TEXT[gap.fallback]))
