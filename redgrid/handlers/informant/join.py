"""Joining: the informant's four-step profile after the invite link (name, phone, work,
home community); ``handlers/invites.py`` starts it with ``start_profile``."""

import html

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers import albums
from redgrid.handlers.callbacks import JoinCb, JoinStep
from redgrid.handlers.common import refuse_button
from redgrid.handlers.informant import router
from redgrid.handlers.informant.shared import (
    MINE_LABEL,
    REPORT_LABEL,
    TOP_LABEL,
    _close,
    complaint_keyboard,
    informant_keyboard,
    label,
    paused_text,
    work_name,
)
from redgrid.handlers.informant.states import JoinForm
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Community, InformantStatus, Person, WorkType
from redgrid.models.base import MAX_ROW_ID, utcnow
from redgrid.services import informants
from redgrid.services.informants import InvalidName, InvalidPhone, NotAnInformant


def name_keyboard(person: Person) -> InlineKeyboardMarkup | None:
    try:
        name = informants.clean_name(person.display_name)
    except InvalidName:
        return None
    builder = InlineKeyboard()
    builder.button(
        text=_("Use «{name}»").format(name=name), callback_data=JoinCb(step=JoinStep.NAME)
    )
    return builder.as_markup()


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=_("or type the number"),
    )


def work_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for work in WorkType:
        builder.button(text=work_name(work), callback_data=JoinCb(step=JoinStep.WORK, value=work))
    builder.button(text=_("⬅️ Back"), callback_data=JoinCb(step=JoinStep.BACK))
    builder.adjust(2, 2, 1)
    return builder.as_markup()


async def home_keyboard(session: AsyncSession, hint: int | None) -> InlineKeyboardMarkup:
    communities = list((await session.exec(select(Community).order_by(col(Community.name)))).all())
    communities.sort(key=lambda community: community.id != hint)  # the invite's first
    builder = InlineKeyboard()
    for community in communities:
        builder.button(
            text=community.name,
            callback_data=JoinCb(step=JoinStep.HOME, value=str(community.id)),
        )
    builder.button(
        text=_("🏙 I live outside the district"), callback_data=JoinCb(step=JoinStep.HOME, value="0")
    )
    builder.button(text=_("⬅️ Back"), callback_data=JoinCb(step=JoinStep.BACK))
    builder.adjust(*[2] * ((len(communities) + 1) // 2), 1, 1)
    return builder.as_markup()


def name_prompt() -> str:
    return _(
        "1/4 · Which name should the leaderboard show? Type it (up to {limit} characters), "
        "or use your Telegram name."
    ).format(limit=informants.MAX_NAME)


async def start_profile(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    welcome: str | None = None,
) -> None:
    """Ask for the informant's profile: after the invite link (``handlers/invites.py``
    calls this with its welcome) or before a first report."""
    await state.clear()
    await state.set_state(JoinForm.name)
    await state.set_data({"hint": await informants.home_community_hint(session, person.id)})
    text = _("Let us set up your informant profile: four quick steps (/cancel stops).")
    if welcome:
        text = welcome + "\n\n" + text
    await message.answer(text + "\n\n" + name_prompt(), reply_markup=name_keyboard(person))


async def ask_phone(message: Message, state: FSMContext) -> None:
    await state.set_state(JoinForm.phone)
    await message.answer(
        _(
            "2/4 · Your mobile number, for the district team only (the leaderboard never "
            "shows it). Press «📱 Share my phone number» below, or type it."
        ),
        reply_markup=contact_keyboard(),
    )


async def ask_work(message: Message, state: FSMContext) -> None:
    await state.set_state(JoinForm.work)
    await message.answer(_("3/4 · What is your work?"), reply_markup=work_keyboard())


async def ask_home(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await state.set_state(JoinForm.home)
    hint = (await state.get_data()).get("hint")
    await message.answer(
        _("4/4 · Which community do you live in? Its leaderboard will show you too."),
        reply_markup=await home_keyboard(session, hint),
    )


async def _name_given(message: Message, state: FSMContext, name: str) -> None:
    await state.update_data(name=name)
    await ask_phone(message, state)


@router.message(JoinForm.name, F.text, label(REPORT_LABEL, MINE_LABEL, TOP_LABEL))
async def menu_pressed_for_a_name(message: Message, person: Person) -> None:
    """The informant menu (still under the chat of someone invited again) is no name."""
    await message.answer(name_prompt(), reply_markup=name_keyboard(person))


@router.message(JoinForm.name, F.text, ~F.text.startswith("/"))
async def name_typed(message: Message, state: FSMContext, person: Person) -> None:
    try:
        name = informants.clean_name(message.text)
    except InvalidName:
        await message.answer(
            _("Please type a name of 1 to {limit} characters on one line.").format(
                limit=informants.MAX_NAME
            ),
            reply_markup=name_keyboard(person),
        )
        return
    await _name_given(message, state, name)


@router.callback_query(JoinForm.name, JoinCb.filter(F.step == JoinStep.NAME))
async def name_kept(
    query: CallbackQuery, callback_answer: CallbackAnswer, state: FSMContext, person: Person
) -> None:
    try:
        name = informants.clean_name(person.display_name)
    except InvalidName:
        refuse_button(callback_answer)
        return
    await _close(query)
    await _name_given(query.message, state, name)


async def _phone_given(message: Message, state: FSMContext, text: str) -> None:
    try:
        phone = informants.normalise_phone(text)
    except InvalidPhone:
        await message.answer(
            _(
                "That is not a mainland China mobile number (11 digits starting with 1, "
                "e.g. 138 0013 8000). Please type it again, or share it with the button."
            ),
            reply_markup=contact_keyboard(),
        )
        return
    await state.update_data(phone=phone)
    await message.answer(
        _("📱 {phone} is saved.").format(phone=phone), reply_markup=ReplyKeyboardRemove()
    )
    await ask_work(message, state)


@router.message(JoinForm.phone, F.contact)
async def phone_shared(message: Message, state: FSMContext) -> None:
    if message.contact.user_id != message.from_user.id:
        await message.answer(
            _("Please share your own number with the button below, or type it."),
            reply_markup=contact_keyboard(),
        )
        return
    await _phone_given(message, state, message.contact.phone_number)


@router.message(JoinForm.phone, F.text, ~F.text.startswith("/"))
async def phone_typed(message: Message, state: FSMContext) -> None:
    await _phone_given(message, state, message.text)


@router.callback_query(JoinForm.work, JoinCb.filter(F.step == JoinStep.WORK))
async def work_chosen(
    query: CallbackQuery,
    callback_data: JoinCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    try:
        work = WorkType(callback_data.value)
    except ValueError:
        refuse_button(callback_answer)
        return
    await state.update_data(work=work.value)
    callback_answer.text = work_name(work)
    await _close(query)
    await ask_home(query.message, state, session)


@router.callback_query(JoinForm.home, JoinCb.filter(F.step == JoinStep.HOME))
async def home_chosen(
    query: CallbackQuery,
    callback_data: JoinCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
) -> None:
    value = callback_data.value
    community = None
    if value != "0":
        if not value.isdigit() or not 0 < int(value) <= MAX_ROW_ID:
            refuse_button(callback_answer)
            return
        community = await session.get(Community, int(value))
        if community is None:
            refuse_button(callback_answer)
            return
    data = await state.get_data()
    await _close(query)
    try:
        profile = await informants.create_profile(
            session,
            person.id,
            display_name=data.get("name", ""),
            phone=data.get("phone", ""),
            work_type=data.get("work", ""),
            community_id=community.id if community is not None else None,
            now=utcnow(),
        )
    except NotAnInformant:
        await state.clear()
        await query.message.answer(
            _("You no longer hold the red informant role, so the profile was not saved.")
        )
        return
    except (InvalidName, InvalidPhone, ValueError):  # a draft from an older version
        await start_profile(query.message, state, session, person)
        return
    await state.clear()  # commits with the profile
    await session.commit()
    if profile.status is InformantStatus.PAUSED:
        await query.message.answer(
            _("✅ Your profile is saved.") + "\n\n" + paused_text(),
            reply_markup=complaint_keyboard(),
        )
        return
    where = work_name(profile.work_type)
    if community is not None:
        where = _("{work}, {community}").format(work=where, community=html.escape(community.name))
    await query.message.answer(
        _(
            "✅ All set, {name} ({where})!\n\n"
            "To report a problem on the road, just send me a photo of it, then share your "
            "location and choose a category: the grid team that looks after that spot gets "
            "it at once, and you hear about every step. Valid reports earn points.\n\n"
            "The buttons below: report, your reports and points, the leaderboard."
        ).format(name=html.escape(profile.display_name), where=where),
        reply_markup=informant_keyboard(),
    )


@router.callback_query(
    StateFilter(JoinForm.work, JoinForm.home), JoinCb.filter(F.step == JoinStep.BACK)
)
async def join_back(query: CallbackQuery, state: FSMContext) -> None:
    await _close(query)
    if await state.get_state() == JoinForm.home.state:
        await ask_work(query.message, state)
    else:
        await ask_phone(query.message, state)


@router.message(StateFilter(JoinForm))
async def join_hint(
    message: Message, state: FSMContext, session: AsyncSession, person: Person
) -> None:
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    prefix = ""
    if (message.text or "").startswith("/"):
        prefix = _("You are setting up your informant profile: finish it, or send /cancel.")
        prefix += "\n\n"
    if current == JoinForm.name.state:
        await message.answer(prefix + name_prompt(), reply_markup=name_keyboard(person))
    elif current == JoinForm.phone.state:
        await message.answer(
            prefix
            + _(
                "Please share your phone number with the button below, or type a mainland "
                "China mobile number (11 digits)."
            ),
            reply_markup=contact_keyboard(),
        )
    elif current == JoinForm.work.state:
        await message.answer(
            prefix + _("Please choose your work with the buttons."), reply_markup=work_keyboard()
        )
    else:
        hint = (await state.get_data()).get("hint")
        await message.answer(
            prefix + _("Please choose your community with the buttons."),
            reply_markup=await home_keyboard(session, hint),
        )
