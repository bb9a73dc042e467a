"""``/informants``: admins list, pause, resume and remove red informants, and a community
officer those they invited (``informants.may_manage``); every press is re-checked. The
list is one message: paging, a pause or resume, the removal's question and its answer
are shown in its place."""

import html

from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import locale_of
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import InformantAdminAction, InformantAdminCb
from redgrid.handlers.common import refuse_button, show_in_place
from redgrid.handlers.informant import router
from redgrid.handlers.informant.shared import PRIVATE, informant_status_name, work_name
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import InformantProfile, InformantStatus, Person
from redgrid.models.base import utcnow
from redgrid.services import informants
from redgrid.services.informants import IllegalStatusChange, InformantNotFound
from redgrid.services.invites import invite_rights
from redgrid.services.people import Actor
from redgrid.services.tickets import NotAllowed

ADMIN_PAGE = 20


async def admin_view(
    session: AsyncSession, actor: Actor, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows = await informants.list_informants(session, utcnow(), by=actor, tz=settings.tz)
    if not rows:
        if actor.is_admin:
            return _("No red informants yet. /invite creates an invitation link."), None
        if await invite_rights(session, actor) is not None:
            return _(
                "No red informants of yours yet. /invite creates an invitation link for "
                "your community."
            ), None
        return _(
            "Only district admins, and community officers for the informants they invited, "
            "manage red informants."
        ), None
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
        await show_in_place(query, text, markup)
        return
    profile: InformantProfile | None = None
    if callback_data.person_id:
        profile = await informants.get_profile(session, callback_data.person_id)
    if profile is None or not await informants.may_manage(session, actor, profile):
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
        await show_in_place(
            query,
            _(
                "Remove {name} as a red informant? They lose the role (a new invitation "
                "brings them back); their reports and points stay."
            ).format(name=html.escape(profile.display_name)),
            builder.as_markup(),
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
    await show_in_place(query, text, markup)
