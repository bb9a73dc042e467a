"""One router per feature, built fresh for each dispatcher, in this order: the first
router whose filters match handles the update, so deep links come before /start and the
fallback comes last."""

from aiogram import Router


def get_routers() -> list[Router]:
    # Imported here, not at the top: the handler modules import ``redgrid.bot.pushes``,
    # which imports ``redgrid.handlers.callbacks`` and so this package.
    from redgrid.handlers import (
        common,
        complaint,
        fallback,
        informant,
        invites,
        my_tickets,
        privacy,
        team,
    )

    blueprints = [
        invites.router,
        common.router,
        privacy.router,
        informant.router,  # before complaint: an informant's photo starts a report
        complaint.router,
        my_tickets.router,
        team.router,
        fallback.router,
    ]
    return [blueprint.build() for blueprint in blueprints]
