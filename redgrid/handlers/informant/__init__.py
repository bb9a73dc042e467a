"""Red informants (红色信息员): the profile after the invite link, reports from the road,
``/mine`` and ``/top``, the team's 评单 of a report, and the admins' ``/informants``.

Decisions worth knowing:

- Informants are on the move, one hand on the handlebar: after the photo a report takes
  three taps (share location → category → "Send without a note"); a note, typed or a
  voice message, replaces the third tap, and a photo's caption is taken as the note, so
  then the category sends it. No summary, no confirmation, no duplicate hint (the team
  grades a duplicate as such).
- A photo sent with no conversation going starts a report, but only for someone who holds
  the informant role; anyone else's photo goes on to the fallback as before. An album is
  one report: its first photo asks for the location, the others are added silently.
- The location alone routes the report (a typed address cannot): the foundation's
  point-in-polygon, else the nearest grid within the buffer; beyond that the informant is
  told the spot is outside the district and nothing is filed (they may share another).
- A picture sent as a file keeps the camera's EXIF, where a location may be: the file is
  downloaded (up to 10 MB) and read by ``informants.exif_gps``. The team's pushes send
  photos by file id, and a document's id is not a photo's, so the bot sends the picture
  back to the informant as a photo and keeps that photo's id.
- The informant's "menu button" is a reply keyboard (report, my reports, leaderboard),
  shown after joining and after each report: it stays under the chat while they ride.
- The team grades a report after resolving it or marking it invalid (``team.py`` calls
  ``offer_grade``), or later with ``/grade NUMBER``. Who may grade, and that points are
  granted once, is the service's business.
"""

import html
from contextlib import suppress

import aiohttp
from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import N_, SUPPORTED_LOCALES
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import locale_of, push_to_reporter, push_to_team, queue_name, status_name
from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.blueprint import Blueprint, CallbackPrefix
from redgrid.handlers.callbacks import (
    GradeCb,
    InformantAdminAction,
    InformantAdminCb,
    JoinCb,
    JoinStep,
    MenuCb,
    MenuItem,
    ReportAction,
    ReportCb,
    TicketAction,
    TicketCb,
    VoiceCb,
)
from redgrid.handlers.common import refuse_button, refuse_ticket_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets import load_ticket, no_longer_applies, tell_team
from redgrid.models import (
    Community,
    Grade,
    InformantProfile,
    InformantStatus,
    Person,
    Ticket,
    TicketSource,
    WorkType,
)
from redgrid.models.base import MAX_ROW_ID, utcnow
from redgrid.services import informants, tickets
from redgrid.services.categories import CategoryCatalogue, UnknownCategory
from redgrid.services.district import RoutingCache
from redgrid.services.informants import (
    AlreadyGraded,
    IllegalStatusChange,
    InformantNotFound,
    InformantPaused,
    InvalidName,
    InvalidPhone,
    NotAnInformant,
    NotAReport,
    NotGradable,
    OutsideDistrict,
    PointsTable,
    ProfileMissing,
    ReportDraft,
    Standing,
    Voice,
)
from redgrid.services.people import Actor, can_handle
from redgrid.services.routing import InvalidCoordinates, PointRoute, RouteOutcome
from redgrid.services.tickets import MAX_DESCRIPTION, MAX_PHOTOS, NotAllowed, TicketNotFound

router = Blueprint(__name__)

# Telegram takes photos up to 10 MB: a bigger file could not be sent back as a photo.
MAX_DOWNLOAD = 10 * 1024 * 1024
ADMIN_PAGE = 20
PRIVATE = F.chat.type == "private"

# The informant's reply keyboard; a press sends the label as text, in either language.
REPORT_LABEL = N_("🛵 Report a problem")
MINE_LABEL = N_("📋 My reports")
TOP_LABEL = N_("🏆 Leaderboard")


class JoinForm(StatesGroup):
    name = State()
    phone = State()
    work = State()
    home = State()


class ReportForm(StatesGroup):
    photos = State()  # /report: waiting for the first photo
    location = State()
    category = State()
    note = State()


router.messages_only(JoinForm, ReportForm, idle=True)
router.callbacks_only(GradeCb, InformantAdminCb, JoinCb, ReportCb, VoiceCb)


# Names, in the reader's language ----------------------------------------------------------


def work_name(work: WorkType) -> str:
    return {
        WorkType.FOOD_DELIVERY: _("food delivery rider"),
        WorkType.COURIER: _("courier"),
        WorkType.RIDE_HAILING: _("ride-hailing driver"),
        WorkType.OTHER: _("other work"),
    }[work]


def grade_name(grade: Grade) -> str:
    return {
        Grade.VALID: _("valid"),
        Grade.DUPLICATE: _("duplicate"),
        Grade.INVALID: _("invalid"),
    }[grade]


def grade_button(grade: Grade) -> str:
    return {
        Grade.VALID: _("👍 Valid"),
        Grade.DUPLICATE: _("🔁 Duplicate"),
        Grade.INVALID: _("🚫 Invalid"),
    }[grade]


def informant_status_name(status: InformantStatus) -> str:
    return {
        InformantStatus.ACTIVE: _("active"),
        InformantStatus.PAUSED: _("paused"),
        InformantStatus.REMOVED: _("removed"),
    }[status]


def points_table(settings: Settings) -> PointsTable:
    return PointsTable(
        urgent=settings.informant_points_urgent,
        normal=settings.informant_points_normal,
        complex=settings.informant_points_complex,
    )


def label(*msgids: str):
    """A filter: the message is the label of one of these reply-keyboard buttons, in any
    language."""

    async def matches(message: Message, i18n: I18n) -> bool:
        text = message.text or ""
        return any(
            text == i18n.gettext(msgid, locale=locale)
            for msgid in msgids
            for locale in SUPPORTED_LOCALES
        )

    return matches


async def holds_informant_role(message: Message, session: AsyncSession, person: Person) -> bool:
    """A filter: the sender holds the informant role (active, paused, or still without
    a profile): their photo starts a report, anyone else's goes on to the fallback."""
    return await informants.informant_membership(session, person.id) is not None


def informant_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(REPORT_LABEL))],
            [KeyboardButton(text=_(MINE_LABEL)), KeyboardButton(text=_(TOP_LABEL))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def complaint_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("📝 Raise a complaint"), callback_data=MenuCb(item=MenuItem.COMPLAIN))
    return builder.as_markup()


async def _close(query: CallbackQuery) -> None:
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


# Joining: the profile after the invite link ----------------------------------------------


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
        where += ", " + html.escape(community.name)
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


# Who may report ---------------------------------------------------------------------------


def not_informant_text() -> str:
    return _(
        "Reports from the road are for red informants (红色信息员): delivery riders, couriers "
        "and drivers recruited by the district. To join, ask the district admin or your "
        "community for an invitation link.\n\n"
        "Anyone can raise a complaint as a resident:"
    )


def paused_text() -> str:
    return _(
        "Your red informant role is paused, so reports cannot be sent for now. The district "
        "admin can resume it.\n\nA problem can still be raised as a resident complaint:"
    )


def limit_text(limit: int) -> str:
    return _(
        "You have sent {limit} reports today, the most allowed in one day. Thank you! "
        "Please report again tomorrow."
    ).format(limit=limit)


async def may_report(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> bool:
    """Whether the person may start a report now; if not, they were told why, a draft they
    had is dropped (it could not be sent), and someone who still owes their profile is
    asked for it."""
    found = await informants.standing(session, person.id)
    if found is Standing.NEEDS_PROFILE:
        await start_profile(
            message,
            state,
            session,
            person,
            _("Before your first report, please tell us a little about yourself."),
        )
        return False
    limit = settings.informant_daily_limit
    if found is Standing.NONE:
        text, markup = not_informant_text(), complaint_keyboard()
    elif found is Standing.PAUSED:
        text, markup = paused_text(), complaint_keyboard()
    elif (
        await tickets.tickets_filed_today(
            session, person.id, utcnow(), settings.tz, source=TicketSource.INFORMANT
        )
        >= limit
    ):
        text, markup = limit_text(limit), informant_keyboard()
    else:
        return True
    await state.clear()
    await message.answer(text, reply_markup=markup)
    return False


# A report: photos ------------------------------------------------------------------------


def cancel_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("✖️ Cancel"), callback_data=ReportCb(action=ReportAction.CANCEL))
    return builder.as_markup()


def location_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📍 Send my location"), request_location=True)]],
        resize_keyboard=True,
    )


def location_prompt() -> str:
    return _(
        "📍 Where is it? Press «📍 Send my location» below (a live location works too), "
        "or send a spot from the map (📎 → Location)."
    )


@router.message(Command("report"), PRIVATE, StateFilter(None, ReportForm))
@router.message(StateFilter(None, ReportForm), PRIVATE, F.text, label(REPORT_LABEL))
async def report_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> None:
    if not await may_report(message, state, session, person, settings):
        return
    await state.clear()
    await state.set_state(ReportForm.photos)
    await message.answer(
        _("📷 Send a photo of the problem (several as an album if you like)."),
        reply_markup=cancel_keyboard(),
    )


def _caption_note(message: Message) -> str | None:
    caption = (message.caption or "").strip()
    return caption[:MAX_DESCRIPTION] if caption else None


async def _begin(message: Message, state: FSMContext, photo: tuple[str, str]) -> None:
    """The first photo: the draft starts, and the location is asked for."""
    await state.set_state(ReportForm.location)
    await state.set_data(
        {
            "photos": [list(photo)],
            "album": message.media_group_id,
            "note": _caption_note(message),
        }
    )


@router.message(StateFilter(None), PRIVATE, F.photo, holds_informant_role)
@router.message(ReportForm.photos, F.photo)
async def first_photo(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    settings: Settings,
) -> None:
    if await state.get_state() is None and not await may_report(
        message, state, session, person, settings
    ):
        return
    largest = message.photo[-1]
    await _begin(message, state, (largest.file_id, largest.file_unique_id))
    await message.answer(
        _("📷 Got it.") + " " + location_prompt(), reply_markup=location_keyboard()
    )


async def _refused_as_too_many(message: Message, state: FSMContext) -> bool:
    """Whether the draft has all the photos it may take, so this one is refused; an album
    gets one reply (``albums``), counting its photos that were not added."""
    if len((await state.get_data()).get("photos", [])) < MAX_PHOTOS:
        return False
    album = await albums.album_of(message, state)
    refused = album.counts["refused"] = album.counts.get("refused", 0) + 1
    await state.update_data(album=message.media_group_id)
    text = ngettext(
        "A report takes at most {limit} photos, so {count} photo was not added.",
        "A report takes at most {limit} photos, so {count} photos were not added.",
        refused,
    ).format(limit=MAX_PHOTOS, count=refused)
    await albums.reply(message, state, album, text)
    return True


async def _add_photo(message: Message, state: FSMContext, photo: tuple[str, str]) -> None:
    """Another photo for the draft: an album's are added silently, others acknowledged."""
    if await _refused_as_too_many(message, state):
        return
    data = await state.get_data()
    photos = data.get("photos", [])
    group = message.media_group_id
    same_album = group is not None and data.get("album") == group
    if all(kept[1] != photo[1] for kept in photos):
        photos = [*photos, list(photo)]
    update = {"photos": photos, "album": group}
    if not data.get("note") and _caption_note(message):
        update["note"] = _caption_note(message)
    await state.update_data(**update)
    if not same_album:
        await message.answer(
            _("📷 Photo added ({count} of {limit}).").format(count=len(photos), limit=MAX_PHOTOS)
        )


@router.message(StateFilter(ReportForm.location, ReportForm.category, ReportForm.note), F.photo)
async def more_photos(message: Message, state: FSMContext) -> None:
    largest = message.photo[-1]
    await _add_photo(message, state, (largest.file_id, largest.file_unique_id))


async def _picture_from_file(message: Message, bot: Bot) -> tuple[tuple[str, str], bytes] | None:
    """A picture sent as a file: its bytes (for the EXIF) and the id of the same picture
    as a photo, which the bot gets by sending it back; None when that failed (said)."""
    document = message.document
    if document.file_size is not None and document.file_size > MAX_DOWNLOAD:
        await message.answer(
            _("That file is too large. Please send the picture as a photo instead.")
        )
        return None
    try:
        data = (await bot.download(document)).read()
        sent = await message.answer_photo(
            BufferedInputFile(data, filename=document.file_name or "report.jpg"),
            caption=_("📷 Your picture, added to the report."),
        )
    except (TelegramAPIError, aiohttp.ClientError, TimeoutError):
        await message.answer(
            _("That file could not be read. Please send the picture as a photo instead.")
        )
        return None
    largest = sent.photo[-1]
    return (largest.file_id, largest.file_unique_id), data


@router.message(
    StateFilter(None), PRIVATE, F.document.mime_type.startswith("image/"), holds_informant_role
)
@router.message(StateFilter(ReportForm), F.document.mime_type.startswith("image/"))
async def photo_as_file(
    message: Message,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    settings: Settings,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """A picture sent as a file; its EXIF location, if any, spares the location step."""
    current = await state.get_state()
    if current is None and not await may_report(message, state, session, person, settings):
        return
    if current not in (None, ReportForm.photos.state) and await _refused_as_too_many(
        message, state
    ):
        return  # neither downloaded nor sent back, and its EXIF location is not used
    picture = await _picture_from_file(message, bot)
    if picture is None:
        return
    photo, data = picture
    if current in (None, ReportForm.photos.state):
        await _begin(message, state, photo)
    else:
        await _add_photo(message, state, photo)
    if current in (ReportForm.category.state, ReportForm.note.state):
        return
    gps = informants.exif_gps(data)
    if gps is None:
        await message.answer(
            _("The picture carries no location.") + " " + location_prompt(),
            reply_markup=location_keyboard(),
        )
        return
    await _located(message, state, session, routing, person, catalogue, i18n, *gps)


# A report: the location ------------------------------------------------------------------


def _route_ack(route: PointRoute) -> str:
    grid = html.escape(_("grid {name} ({code})").format(name=route.grid.name, code=route.grid.code))
    if route.outcome is RouteOutcome.INSIDE:
        return _("📍 Got it: this spot belongs to {grid}.").format(grid=grid)
    return _(
        "📍 Got it. The spot is just outside the grids; the nearest one, {grid}, about "
        "{distance} m away, will take it."
    ).format(grid=grid, distance=round(route.distance_m))


async def _located(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
    latitude: float,
    longitude: float,
) -> None:
    """A location for the draft: refused outside the district, else on to the category."""
    try:
        route = informants.locate(await routing.index(session), latitude, longitude)
    except InvalidCoordinates:
        await message.answer(
            _("That location could not be read. Please share it again with the 📍 button."),
            reply_markup=location_keyboard(),
        )
        return
    except OutsideDistrict:
        await message.answer(
            _(
                "📍 This spot is outside Dongxiang District. Reports are for problems inside "
                "the district, so nothing was filed.\n\nShare another location, or cancel."
            ),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.update_data(lat=latitude, lon=longitude)
    await message.answer(_route_ack(route), reply_markup=ReplyKeyboardRemove())
    await ask_category(message, state, session, person, catalogue, i18n)


@router.message(ReportForm.location, F.location)
async def location_shared(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    routing: RoutingCache,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """A shared location: a live one, a spot from the map or a venue count alike."""
    location = message.location
    await _located(
        message,
        state,
        session,
        routing,
        person,
        catalogue,
        i18n,
        location.latitude,
        location.longitude,
    )


# A report: category, note, sent ----------------------------------------------------------


async def category_keyboard(
    session: AsyncSession, person: Person, catalogue: CategoryCatalogue, locale: str
) -> InlineKeyboardMarkup:
    recent = await informants.recent_categories(session, person.id)
    builder = InlineKeyboard()
    codes = informants.ordered_categories(catalogue, recent)
    for code in codes:
        category = catalogue.get(code)
        builder.button(
            text=f"{category.emoji} {category.name(locale)}",
            callback_data=ReportCb(action=ReportAction.CATEGORY, code=code),
        )
    builder.button(text=_("⬅️ Back"), callback_data=ReportCb(action=ReportAction.BACK))
    builder.button(text=_("✖️ Cancel"), callback_data=ReportCb(action=ReportAction.CANCEL))
    builder.adjust(*[2] * ((len(codes) + 1) // 2), 2)
    return builder.as_markup()


async def ask_category(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    await state.set_state(ReportForm.category)
    await message.answer(
        _("🏷 What is it? Choose a category:"),
        reply_markup=await category_keyboard(session, person, catalogue, i18n.current_locale),
    )


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
            prefix + _("Please choose a category with the buttons."),
            reply_markup=await category_keyboard(session, person, catalogue, i18n.current_locale),
        )
    else:
        await message.answer(prefix + note_prompt(), reply_markup=note_keyboard())


# /mine and /top ---------------------------------------------------------------------------


def stats_line(stats: informants.InformantStats) -> str:
    return _("⭐ Points: {month} this month, {total} in all.").format(
        month=stats.points_month, total=stats.points_total
    )


@router.message(Command("mine"), PRIVATE)
@router.message(StateFilter(None), PRIVATE, F.text, label(MINE_LABEL))
async def mine(
    message: Message,
    session: AsyncSession,
    person: Person,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
) -> None:
    found = await informants.standing(session, person.id)
    reports = await informants.my_reports(session, person.id)
    if found is Standing.NONE and not reports:
        await message.answer(not_informant_text(), reply_markup=complaint_keyboard())
        return
    stats = await informants.informant_stats(session, person.id, utcnow(), tz=settings.tz)
    lines = [_("<b>My reports</b>"), stats_line(stats)]
    if found is Standing.PAUSED:
        lines.append(_("Your red informant role is paused."))
    lines.append("")
    if not reports:
        lines.append(_("No reports yet: send me a photo of a problem to start one."))
    builder = InlineKeyboard()
    for position, (ticket, grade) in enumerate(reports, start=1):
        category = catalogue.shown(ticket.category)
        line = _("{position}. {number} {emoji} {category}: {status}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            category=category.name(i18n.current_locale),
            status=status_name(ticket.status),
        )
        if grade is not None:
            line += " · " + _("graded {grade}, +{points}").format(
                grade=grade_name(grade.grade), points=grade.points
            )
        lines.append(line)
        builder.button(
            text=f"{ticket.number} {category.emoji}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    builder.adjust(2)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup() if reports else None)


def board_lines(board: list[informants.LeaderRow]) -> list[str]:
    if not board:
        return [_("No points yet this month.")]
    medals = {1: "🥇", 2: "🥈", 3: "🥉"}
    return [
        _("{rank} {name}: {points} points").format(
            rank=medals.get(row.rank, f"{row.rank}."),
            name=html.escape(row.name),
            points=row.points,
        )
        for row in board
    ]


@router.message(Command("top"), PRIVATE)
@router.message(StateFilter(None), PRIVATE, F.text, label(TOP_LABEL))
async def top(message: Message, session: AsyncSession, person: Person, settings: Settings) -> None:
    """This month's leaderboard: the district, the reader's home community, their place."""
    now = utcnow()
    local = now.astimezone(settings.tz)
    lines = [
        _("🏆 <b>Red informants, {month}</b>").format(month=f"{local.year}-{local.month:02d}"),
        "",
        _("<b>The whole district</b>"),
        *board_lines(await informants.leaderboard(session, now, tz=settings.tz)),
    ]
    profile = await informants.get_profile(session, person.id)
    if profile is not None and profile.status is not InformantStatus.REMOVED:
        stats = await informants.informant_stats(session, person.id, now, tz=settings.tz)
        if profile.community_id is not None:
            board = await informants.leaderboard(
                session, now, tz=settings.tz, community_id=profile.community_id
            )
            lines += ["", f"<b>{html.escape(stats.community or '')}</b>", *board_lines(board)]
        lines += ["", stats_line(stats)]
        if stats.rank_district is not None:
            lines.append(
                _("You are number {rank} in the district.").format(rank=stats.rank_district)
            )
        if stats.rank_community is not None:
            lines.append(
                _("You are number {rank} in {community}.").format(
                    rank=stats.rank_community, community=html.escape(stats.community or "")
                )
            )
    await message.answer("\n".join(lines))


# 评单: the team grades a report -----------------------------------------------------------


def grade_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for grade in informants.GRADES_FOR.get(ticket.status, ()):
        builder.button(
            text=grade_button(grade), callback_data=GradeCb(ticket_id=ticket.id, grade=grade)
        )
    builder.adjust(3)
    return builder.as_markup()


def grade_prompt(ticket: Ticket) -> str:
    return _(
        "⭐ {number} is a red informant's report. Please grade it: a valid report earns the "
        "informant points."
    ).format(number=ticket.number)


async def offer_grade(message: Message, session: AsyncSession, ticket: Ticket) -> None:
    """After the team resolved a report or marked it invalid (``handlers/team.py``): ask
    for its grade. Anything else (a resident's ticket, a graded report) asks nothing."""
    if await informants.gradable(session, ticket):
        await message.answer(grade_prompt(ticket), reply_markup=grade_keyboard(ticket))


def graded_text(ticket: Ticket, grade: Grade, points: int, month: int) -> str:
    if grade is Grade.VALID:
        return _(
            "⭐ Your report {number} was graded valid by the grid team: +{points} points. "
            "This month you have {month}. Thank you!"
        ).format(number=ticket.number, points=points, month=month)
    if grade is Grade.DUPLICATE:
        return _(
            "Your report {number} was graded a duplicate: the problem had been reported "
            "already, so it earns no points. Thank you all the same!"
        ).format(number=ticket.number)
    return _("Your report {number} was graded invalid, so it earns no points.").format(
        number=ticket.number
    )


@router.callback_query(GradeCb.filter())
async def grade_chosen(
    query: CallbackQuery,
    callback_data: GradeCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    try:
        grade = Grade(callback_data.grade)
    except ValueError:
        refuse_button(callback_answer)
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None:
        refuse_button(callback_answer)
        return
    now = utcnow()
    try:
        graded = await informants.grade_report(
            session, ticket, actor, grade, points_table(settings), now
        )
    except AlreadyGraded as already:
        refuse_button(
            callback_answer,
            _("{number} was already graded: {grade}.").format(
                number=ticket.number, grade=grade_name(already.grade)
            ),
        )
        return
    except NotGradable:
        if ticket.status.is_open:
            refuse_button(callback_answer, no_longer_applies(ticket))
        else:
            refuse_button(callback_answer)
        return
    except NotAReport:
        refuse_button(callback_answer)
        return
    except NotAllowed:
        await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    stats = await informants.informant_stats(session, ticket.reporter_id, now, tz=settings.tz)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: graded_text(ticket, grade, graded.points, stats.points_month),
        followers=False,
    )
    await session.commit()
    callback_answer.text = grade_name(grade)
    await _close(query)
    await query.message.answer(
        _("⭐ {number} is graded {grade}: the informant earned {points} points.").format(
            number=ticket.number, grade=grade_name(grade), points=graded.points
        )
    )


@router.message(Command("grade"))
async def grade_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    """Grade a report later: ``/grade DX-000123``, in private or in the team's chat."""
    reference = (command.args or "").strip()[:32]
    if not reference:
        await message.answer(_("Send the report's number, for example /grade DX-000123."))
        return
    try:
        ticket = await tickets.get_ticket(session, reference)
    except TicketNotFound:
        ticket = None
    if ticket is None or actor is None or not await can_handle(session, actor, ticket):
        await message.answer(
            _("Ticket {reference} was not found.").format(reference=html.escape(reference))
        )
        return
    if ticket.source is not TicketSource.INFORMANT:
        await message.answer(
            _(
                "{number} is a resident's complaint: only red informants' reports are graded."
            ).format(number=ticket.number)
        )
        return
    graded = await informants.grade_of(session, ticket.id)
    if graded is not None:
        await message.answer(
            _("{number} was already graded: {grade}.").format(
                number=ticket.number, grade=grade_name(graded.grade)
            )
        )
        return
    if ticket.status not in informants.GRADABLE:
        await message.answer(
            _("{number} is still open: grade it once it is resolved or marked invalid.").format(
                number=ticket.number
            )
        )
        return
    await message.answer(grade_prompt(ticket), reply_markup=grade_keyboard(ticket))


@router.callback_query(VoiceCb.filter())
async def play_voice(
    query: CallbackQuery,
    callback_data: VoiceCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    """The voice note of a report, for its team (and its reporter)."""
    ticket = await load_ticket(session, callback_data.ticket_id)
    allowed = ticket is not None and (
        ticket.reporter_id == actor.person_id or await can_handle(session, actor, ticket)
    )
    if not allowed:
        await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    file_id = await informants.voice_note(session, ticket.id)
    if file_id is None:
        refuse_button(callback_answer)
        return
    await query.message.answer_voice(file_id)


# /informants: admins list, pause, resume and remove ---------------------------------------


async def admin_view(
    session: AsyncSession, actor: Actor, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows = await informants.list_informants(session, utcnow(), by=actor, tz=settings.tz)
    if not rows:
        if actor.is_admin:
            return _("No red informants yet. /invite creates an invitation link."), None
        return _("Only district admins (and whoever invited an informant) manage informants."), None
    pages = (len(rows) + ADMIN_PAGE - 1) // ADMIN_PAGE
    page = min(max(page, 0), pages - 1)
    shown = rows[page * ADMIN_PAGE : (page + 1) * ADMIN_PAGE]
    lines = [_("<b>Red informants</b> ({count})").format(count=len(rows))]
    builder = InlineKeyboard()
    for row in shown:
        lines.append(
            _(
                "{id}. {name} · {work} · {community} · {status} · {reports} reports, "
                "{points} points this month · {phone}"
            ).format(
                id=row.person_id,
                name=html.escape(row.display_name),
                work=work_name(row.work_type),
                community=html.escape(row.community or "-"),
                status=informant_status_name(row.status),
                reports=row.reports,
                points=row.points_month,
                phone=row.phone,
            )
        )
        if row.status is InformantStatus.PAUSED:
            toggle, action = "▶️", InformantAdminAction.RESUME
        else:
            toggle, action = "⏸", InformantAdminAction.PAUSE
        builder.button(
            text=f"{toggle} {row.person_id} {row.display_name}",
            callback_data=InformantAdminCb(action=action, person_id=row.person_id, page=page),
        )
        builder.button(
            text=f"🗑 {row.person_id}",
            callback_data=InformantAdminCb(
                action=InformantAdminAction.REMOVE, person_id=row.person_id, page=page
            ),
        )
    sizes = [2] * len(shown)
    if pages > 1:
        lines.append(_("Page {page} of {pages}").format(page=page + 1, pages=pages))
        for target, arrow in ((page - 1, "⬅️"), (page + 1, "➡️")):
            if 0 <= target < pages:
                builder.button(
                    text=arrow,
                    callback_data=InformantAdminCb(action=InformantAdminAction.PAGE, page=target),
                )
        sizes.append(2)
    builder.adjust(*sizes)
    return "\n".join(lines), builder.as_markup()


@router.message(Command("informants"), PRIVATE)
async def informants_command(
    message: Message, session: AsyncSession, actor: Actor, settings: Settings
) -> None:
    text, markup = await admin_view(session, actor, settings, 0)
    await message.answer(text, reply_markup=markup)


def _status_news(status: InformantStatus) -> str:
    if status is InformantStatus.PAUSED:
        return _(
            "⏸ Your red informant role is paused by the district: reports cannot be sent for now."
        )
    if status is InformantStatus.ACTIVE:
        return _("▶️ Your red informant role is active again: send me a photo to report a problem.")
    return _(
        "Your red informant role has ended. Thank you for your reports! To join again, you "
        "need a new invitation."
    )


@router.callback_query(InformantAdminCb.filter())
async def informant_admin(
    query: CallbackQuery,
    callback_data: InformantAdminCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    """Every press re-checks, on the server, that the presser may manage that informant."""
    action, page = callback_data.action, callback_data.page
    if action is InformantAdminAction.PAGE:
        text, markup = await admin_view(session, actor, settings, page)
        await query.message.answer(text, reply_markup=markup)
        return
    profile: InformantProfile | None = None
    if callback_data.person_id:
        profile = await informants.get_profile(session, callback_data.person_id)
    if profile is None or not informants.may_manage(actor, profile):
        refuse_button(callback_answer)
        return
    if action is InformantAdminAction.REMOVE:
        builder = InlineKeyboard()
        builder.button(
            text=_("🗑 Yes, remove {name}").format(name=profile.display_name),
            callback_data=InformantAdminCb(
                action=InformantAdminAction.REMOVE_CONFIRMED, person_id=profile.person_id, page=page
            ),
        )
        builder.button(
            text=_("✖️ Keep"),
            callback_data=InformantAdminCb(action=InformantAdminAction.PAGE, page=page),
        )
        builder.adjust(1)
        await query.message.answer(
            _(
                "Remove {name} as a red informant? They lose the role (a new invitation "
                "brings them back); their reports and points stay."
            ).format(name=html.escape(profile.display_name)),
            reply_markup=builder.as_markup(),
        )
        return
    status = {
        InformantAdminAction.PAUSE: InformantStatus.PAUSED,
        InformantAdminAction.RESUME: InformantStatus.ACTIVE,
        InformantAdminAction.REMOVE_CONFIRMED: InformantStatus.REMOVED,
    }[action]
    try:
        profile = await informants.set_status(
            session, profile.person_id, status, utcnow(), by=actor
        )
    except IllegalStatusChange as error:
        refuse_button(
            callback_answer,
            _("{name} is {status} already.").format(
                name=profile.display_name, status=informant_status_name(error.status)
            ),
        )
        return
    except (InformantNotFound, NotAllowed):
        refuse_button(callback_answer)
        return
    informant = await session.get(Person, profile.person_id)
    if informant is not None and informant.forgotten_at is None:
        with i18n.use_locale(locale_of(informant, settings)):
            news = _status_news(status)
        notifier.message(informant.telegram_id, news, person_id=informant.id)
    name = profile.display_name
    await session.commit()
    callback_answer.text = _("{name}: {status}").format(
        name=name, status=informant_status_name(status)
    )
    text, markup = await admin_view(session, actor, settings, page)
    await query.message.answer(text, reply_markup=markup)


# Stale buttons of these conversations -----------------------------------------------------


@router.callback_query(JoinCb.filter())
@router.callback_query(ReportCb.filter())
@router.callback_query(CallbackPrefix(GradeCb))
@router.callback_query(CallbackPrefix(InformantAdminCb))
@router.callback_query(CallbackPrefix(VoiceCb))
async def stale_informant_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A step's button after the step ended, or data that does not decode."""
    refuse_button(callback_answer)
