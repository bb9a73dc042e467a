"""Starting a complaint (/new, the menu button; private chats only), Cancel and Back."""

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import DraftAction, DraftCb, MenuCb, MenuItem
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import Ctx, _close, _limit_text
from redgrid.handlers.complaint.states import BACK_TO, PLACE_STATE_NAMES, Complaint
from redgrid.handlers.complaint.steps import _drop_reply_keyboard, _show
from redgrid.models import Person, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor


async def _start(
    target: Message, state: FSMContext, session: AsyncSession, actor: Actor, ctx: Ctx
) -> None:
    limit = ctx.settings.daily_ticket_limit
    filed = await tickets.tickets_filed_today(
        session, ctx.person.id, utcnow(), ctx.settings.tz, source=TicketSource.RESIDENT
    )
    if filed >= limit:
        await show_menu(target, session, actor, _limit_text(limit))
        return
    await _drop_reply_keyboard(target, state, _("Starting a new complaint."))
    await state.clear()
    await _show(Complaint.category, target, state, ctx)


@router.message(Command("new"), F.chat.type == "private")
async def new_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _start(message, state, session, actor, Ctx(session, i18n, settings, catalogue, person))


@router.callback_query(MenuCb.filter(F.item == MenuItem.COMPLAIN), F.message.chat.type == "private")
async def new_button(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _start(query.message, state, session, actor, ctx)


def _private_only_text() -> str:
    return _("Complaints are private: send me /new in a private chat.")


@router.message(Command("new"), F.chat.type != "private")
async def new_in_group(message: Message) -> None:
    await message.reply(_private_only_text())


@router.callback_query(MenuCb.filter(F.item == MenuItem.COMPLAIN), F.message.chat.type != "private")
async def new_button_in_group(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A menu button in a group (an old menu, or forged); a complaint is not written in it."""
    refuse_button(callback_answer, _private_only_text())


@router.callback_query(StateFilter(Complaint), DraftCb.filter(F.action == DraftAction.CANCEL))
async def cancel(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    data = await state.get_data()
    await state.clear()
    await _close(query)
    text = _("Cancelled. Nothing was sent.")
    if data.get("kb"):
        await query.message.answer(text, reply_markup=ReplyKeyboardRemove())
        text = _("What would you like to do next?")
    await show_menu(query.message, session, actor, text)


@router.callback_query(StateFilter(*BACK_TO), DraftCb.filter(F.action == DraftAction.BACK))
async def back(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    target = BACK_TO[await state.get_state()]
    await _close(query)
    if target.state not in PLACE_STATE_NAMES:
        await _drop_reply_keyboard(query.message, state, _("⬅️ Back to the previous step."))
    await _show(target, query.message, state, Ctx(session, i18n, settings, catalogue, person))
