"""Finishing a report: the category, a note (typed or spoken), filing it and telling the
team; Back, Cancel, and the hint for anything a report's step does not expect."""

import html

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_team, queue_name
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import ReportAction, ReportCb, VoiceCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.informant import router
from redgrid.handlers.informant.report_prompts import (
    ask_category,
    cancel_keyboard,
    category_keyboard,
    location_keyboard,
    location_prompt,
)
from redgrid.handlers.informant.shared import (
    _close,
    complaint_keyboard,
    informant_keyboard,
    limit_text,
    not_informant_text,
    paused_text,
)
from redgrid.handlers.informant.states import ReportForm
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import tell_team
from redgrid.models import Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import informants, tickets
from redgrid.services.categories import CategoryCatalogue, UnknownCategory
from redgrid.services.district import RoutingCache
from redgrid.services.informants import (
    InformantPaused,
    NotAnInformant,
    OutsideDistrict,
    ProfileMissing,
    ReportDraft,
    Voice,
)
from redgrid.services.routing import InvalidCoordinates
from redgrid.services.tickets import MAX_DESCRIPTION


def note_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("✅ Send without a note"), callback_data=ReportCb(action=ReportAction.SEND)
    )
    builder.button(text=_("⬅️ Back"), callback_data=ReportCb(action=ReportAction.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=ReportCb(action=ReportAction.CANCEL))
    builder.adjust(1, 2)
    return builder.as_markup()


def note_prompt() -> str:
    return _("✍️ Anything to add? Type a note or send a voice message, or send the report now.")


@router.callback_query(ReportForm.category, ReportCb.filter(F.action == ReportAction.CATEGORY))
async def category_chosen(
    query: CallbackQuery,
    callback_data: ReportCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    routing: RoutingCache,
) -> None:
    try:
        category = catalogue.get(callback_data.code)
    except UnknownCategory:
        refuse_button(callback_answer)
        return
    await state.update_data(category=category.code)
    callback_answer.text = category.name(i18n.current_locale)
    await _close(query)
    if (await state.get_data()).get("note"):  # the photo's caption is the note
        await send_report(
            query.message, state, session, notifier, person, i18n, settings, catalogue, routing
        )
        return
    await state.set_state(ReportForm.note)
    await query.message.answer(note_prompt(), reply_markup=note_keyboard())


@router.message(ReportForm.note, F.text, ~F.text.startswith("/"))
async def note_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    routing: RoutingCache,
) -> None:
    note = message.text.strip()
    if len(note) > MAX_DESCRIPTION:
        await message.answer(
            _("That is {length} characters; the limit is {limit}. Please shorten it.").format(
                length=len(note), limit=MAX_DESCRIPTION
            ),
            reply_markup=note_keyboard(),
        )
        return
    await state.update_data(note=note)
    await send_report(message, state, session, notifier, person, i18n, settings, catalogue, routing)


@router.message(ReportForm.note, F.voice)
async def note_spoken(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    routing: RoutingCache,
) -> None:
    voice = message.voice
    await state.update_data(voice=[voice.file_id, voice.file_unique_id, voice.duration or 0])
    await send_report(message, state, session, notifier, person, i18n, settings, catalogue, routing)


@router.callback_query(ReportForm.note, ReportCb.filter(F.action == ReportAction.SEND))
async def send_without_note(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    routing: RoutingCache,
) -> None:
    await _close(query)
    await send_report(
        query.message, state, session, notifier, person, i18n, settings, catalogue, routing
    )


def voice_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("▶️ Play the voice note"), callback_data=VoiceCb(ticket_id=ticket.id))
    return builder.as_markup()


async def send_report(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    routing: RoutingCache,
) -> None:
    """File the report, stage the team's push, commit, and only then say so."""
    data = await state.get_data()
    if not data.get("photos"):
        await state.set_state(ReportForm.photos)
        await message.answer(_("📷 Please send a photo of the problem."))
        return
    if data.get("lat") is None:
        await state.set_state(ReportForm.location)
        await message.answer(location_prompt(), reply_markup=location_keyboard())
        return
    voice = Voice(*data["voice"]) if data.get("voice") else None
    draft = ReportDraft(
        category=data.get("category") or "",
        photos=[(file_id, unique_id) for file_id, unique_id in data["photos"]],
        latitude=data["lat"],
        longitude=data["lon"],
        note=data.get("note"),
        voice=voice,
    )
    try:
        ticket = await informants.file_report(
            session,
            person,
            draft,
            await routing.index(session),
            catalogue,
            utcnow(),
            number_prefix=settings.ticket_prefix,
            daily_limit=settings.informant_daily_limit,
            tz=settings.tz,
        )
    except tickets.DailyLimitReached as error:
        await state.clear()
        await message.answer(limit_text(error.limit), reply_markup=informant_keyboard())
        return
    except (NotAnInformant, ProfileMissing, InformantPaused) as error:
        await state.clear()
        text = paused_text() if isinstance(error, InformantPaused) else not_informant_text()
        await message.answer(text, reply_markup=complaint_keyboard())
        return
    except UnknownCategory:
        await ask_category(message, state, session, person, catalogue, i18n)
        return
    except (OutsideDistrict, InvalidCoordinates, ValueError):  # the district changed since
        await state.update_data(lat=None, lon=None)
        await state.set_state(ReportForm.location)
        await message.answer(
            _("The district's grids have changed: please share the location again."),
            reply_markup=location_keyboard(),
        )
        return
    name = html.escape((await informants.get_profile(session, person.id)).display_name)
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        headline=lambda: _("🛵 New red informant report from {name}").format(name=name),
        with_media=True,
        report_photos=[file_id for file_id, _unique_id in draft.photos],
    )
    if voice is not None:
        await tell_team(
            session,
            notifier,
            i18n,
            settings,
            ticket,
            lambda: _("🎤 The informant left a voice note on {number}.").format(
                number=ticket.number
            ),
            keyboard=lambda: voice_keyboard(ticket),
        )
    await state.clear()  # commits with the ticket: it cannot be filed twice
    await session.commit()
    await message.answer(
        _(
            "✅ Sent: <b>{number}</b> went to {queue}. You will hear about every step; "
            "/mine lists your reports."
        ).format(number=ticket.number, queue=html.escape(await queue_name(session, ticket))),
        reply_markup=informant_keyboard(),
    )


@router.callback_query(StateFilter(ReportForm), ReportCb.filter(F.action == ReportAction.CANCEL))
async def report_cancelled(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await _close(query)
    await query.message.answer(_("Cancelled. Nothing was sent."), reply_markup=informant_keyboard())


@router.callback_query(
    StateFilter(ReportForm.category, ReportForm.note),
    ReportCb.filter(F.action == ReportAction.BACK),
)
async def report_back(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    await _close(query)
    if await state.get_state() == ReportForm.note.state:
        await ask_category(query.message, state, session, person, catalogue, i18n)
        return
    await state.set_state(ReportForm.location)
    await query.message.answer(location_prompt(), reply_markup=location_keyboard())


@router.message(StateFilter(ReportForm))
async def report_hint(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """Anything a step does not expect: the step's hint and buttons (once per album);
    nothing changes."""
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    prefix = ""
    if (message.text or "").startswith("/"):
        prefix = _("You are sending a report: finish it, or send /cancel to stop.") + "\n\n"
    if current == ReportForm.photos.state:
        await message.answer(
            prefix + _("📷 Please send a photo of the problem."), reply_markup=cancel_keyboard()
        )
    elif current == ReportForm.location.state:
        await message.answer(
            prefix
            + _(
                "Please share the location with the 📍 button below: a report is routed by "
                "its location, so a typed address cannot be used."
            ),
            reply_markup=location_keyboard(),
        )
    elif current == ReportForm.category.state:
        await message.answer(
            prefix + _("Please choose the kind of problem with the buttons."),
            reply_markup=await category_keyboard(session, person, catalogue, i18n.current_locale),
        )
    else:
        await message.answer(prefix + note_prompt(), reply_markup=note_keyboard())
