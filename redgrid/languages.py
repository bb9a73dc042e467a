"""The languages redgrid speaks and its gettext catalogues, without aiogram.

The bot speaks each person's language (``redgrid.bot.i18n``); the command line speaks the
operator's, chosen from the environment before it imports the bot (aiogram takes most of a
second to import). Both read the same catalogues: ``locales/``, domain ``messages``.
"""

import gettext
from collections.abc import Mapping

from redgrid.paths import resource

SUPPORTED_LOCALES = ("zh_CN", "en")
DOMAIN = "messages"


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional name for "mark only"
    """Marks a msgid for extraction where it cannot be translated yet (module constants);
    it is translated later, in the reader's language."""
    return text


def catalogue(locale: str) -> gettext.GNUTranslations:
    """The compiled catalogue of one of ``SUPPORTED_LOCALES``."""
    return gettext.translation(DOMAIN, localedir=resource("locales"), languages=[locale])


# Where gettext looks for the reader's language, in the order it looks.
LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def environment_locale(environ: Mapping[str, str]) -> str | None:
    """The language the environment asks for, as gettext reads it: the first of
    ``LANGUAGE_VARIABLES`` set and non-empty decides (``LANGUAGE`` may list several, its
    first ``zh`` or ``en`` counts). ``zh*`` is zh_CN, ``en*`` en; None when it names
    neither (``C``, ``C.UTF-8``, ``POSIX``, another language) or nothing is set."""
    for variable in LANGUAGE_VARIABLES:
        if value := environ.get(variable):
            for language in value.lower().split(":"):
                if language.startswith("zh"):
                    return "zh_CN"
                if language.startswith("en"):
                    return "en"
            return None
    return None
