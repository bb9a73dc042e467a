"""Contact consent: may the team see the name and phone; sharing with no phone on file
asks for one (shared or typed), once a draft."""

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import DraftAction, DraftCb
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import Ctx, _close
from redgrid.handlers.complaint.states import Complaint
from redgrid.handlers.complaint.steps import _advance, _drop_reply_keyboard, _show
from redgrid.handlers.informant import contact_keyboard
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.informants import InvalidPhone, normalise_phone
from redgrid.services.people import set_phone


@router.callback_query(
    Complaint.consent,
    DraftCb.filter(F.action.in_({DraftAction.CONSENT_SHARE, DraftAction.CONSENT_ANONYMOUS})),
)
async def consent_chosen(
    query: CallbackQuery,
    callback_data: DraftCb,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    share = callback_data.action is DraftAction.CONSENT_SHARE
    await state.update_data(consent=share)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    if share and not person.phone and not (await state.get_data()).get("phone_asked"):
        await state.update_data(phone_asked=True)
        await _show(Complaint.phone, query.message, state, ctx)
        return
    await _advance(Complaint.consent, query.message, state, ctx)


async def _phone_given(message: Message, state: FSMContext, ctx: Ctx, text: str) -> None:
    try:
        phone = normalise_phone(text)
    except InvalidPhone:
        await message.answer(
            _(
                "That is not a mainland China mobile number (11 digits starting with 1, "
                "e.g. 138 0013 8000). Please type it again, or share it with the button."
            ),
            reply_markup=contact_keyboard(),
        )
        return
    await set_phone(ctx.session, ctx.person, phone)
    await ctx.session.commit()
    await _drop_reply_keyboard(message, state, _("📱 {phone} is saved.").format(phone=phone))
    await _advance(Complaint.consent, message, state, ctx)


@router.message(Complaint.phone, F.contact)
async def phone_shared(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if message.contact.user_id != message.from_user.id:
        await message.answer(
            _("Please share your own number with the button below, or type it."),
            reply_markup=contact_keyboard(),
        )
        return
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _phone_given(message, state, ctx, message.contact.phone_number)


@router.message(Complaint.phone, F.text, ~F.text.startswith("/"))
async def phone_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _phone_given(
        message, state, Ctx(session, i18n, settings, catalogue, person), message.text
    )


@router.callback_query(Complaint.phone, DraftCb.filter(F.action == DraftAction.NO_PHONE))
async def no_phone(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _close(query)
    await _drop_reply_keyboard(query.message, state, _("👤 The team will see your name only."))
    await _advance(
        Complaint.consent, query.message, state, Ctx(session, i18n, settings, catalogue, person)
    )
