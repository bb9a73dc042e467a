"""One router per feature, built fresh for each dispatcher, in this order: the first
router whose filters match handles the update, so deep links come before /start and the
fallback comes last."""

from aiogram import Router

from redgrid.handlers import common, fallback


def get_routers() -> list[Router]:
    blueprints = [common.router, fallback.router]
    return [blueprint.build() for blueprint in blueprints]
