"""Every message in the recipient's own language: Chinese first, English second.

The locale is chosen per update: the person's saved choice (``/language``), else their
Telegram client's language (any ``zh*`` is zh_CN, anything else en), else the default.
aiogram's ``SimpleI18nMiddleware`` would look for a ``zh-hans`` folder and miss
``zh_CN`` (aiogram issue #1896), hence this subclass.
"""

from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from redgrid.languages import DOMAIN, SUPPORTED_LOCALES
from redgrid.paths import resource


def negotiate_locale(saved: str | None, telegram_code: str | None, default: str) -> str:
    """The locale to speak: the saved one, else the client's language mapped, else default."""
    if saved in SUPPORTED_LOCALES:
        return saved
    if telegram_code:
        return "zh_CN" if telegram_code.lower().startswith("zh") else "en"
    return default


def create_i18n(default_locale: str) -> I18n:
    return I18n(path=resource("locales"), default_locale=default_locale, domain=DOMAIN)


class PersonI18nMiddleware(I18nMiddleware):
    """Picks the locale from the person loaded by the database middleware."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        person = data.get("person")
        user: User | None = data.get("event_from_user")
        return negotiate_locale(
            person.locale if person is not None else None,
            user.language_code if user is not None else None,
            self.i18n.default_locale,
        )
