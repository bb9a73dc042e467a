"""The translation catalogues keep up with the code: every string a person reads has its
Chinese, with the same placeholders and markup as the English."""

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

# As `make locales` extracts them (babel.cfg, the Makefile's -k options).
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None, "N_": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
HTML_TAG = re.compile(r"</?[a-z]+[^>]*>")
ROOT = Path(__file__).resolve().parents[1]


def code_msgids() -> set[str]:
    """Each string's msgid; a plural one (``ngettext``) by its singular, as gettext files it."""
    found = extract_from_dir(ROOT / "redgrid", [("**.py", "python")], keywords=KEYWORDS)
    return {msgid if isinstance(msgid, str) else msgid[0] for _, _, msgid, *_ in found}


def catalogue(locale: str) -> dict[str, Message]:
    """The catalogue's messages by msgid (a plural one by its singular)."""
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return {
            message.id[0] if message.pluralizable else message.id: message
            for message in read_po(file)
            if message.id
        }


def translation(message: Message) -> str:
    """The Chinese: zh_CN has one plural form, so a plural message has its msgstr[0]."""
    return message.string[0] if message.pluralizable else message.string


def test_every_string_in_the_code_has_its_chinese():
    """A new `_()` string without `make locales` and a translation would reach Chinese
    readers in English."""
    chinese = catalogue("zh_CN")
    missing = sorted(msgid for msgid in code_msgids() if msgid not in chinese)
    assert missing == [], "run `make locales` and translate these"
    untranslated = sorted(
        str(m.id) for m in chinese.values() if not translation(m).strip() or m.fuzzy
    )
    assert untranslated == [], "translate these in locales/zh_CN/LC_MESSAGES/messages.po"


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_no_catalogue_keeps_strings_the_code_no_longer_has(locale):
    stale = sorted(set(catalogue(locale)) - code_msgids())
    assert stale == [], "run `make locales`"


def test_translations_keep_the_placeholders_and_markup():
    """A placeholder lost in translation raises (or shows a raw brace) only for Chinese
    readers; a tag lost breaks Telegram's HTML parsing of the whole message."""
    wrong = []
    for message in catalogue("zh_CN").values():
        # A plural message's one Chinese form stands for every count: it says what the
        # English plural says (its singular may say "one" where the plural has {count}).
        english = message.id[1] if message.pluralizable else message.id
        for pattern in (PLACEHOLDER, HTML_TAG):
            if sorted(pattern.findall(english)) != sorted(pattern.findall(translation(message))):
                wrong.append((message.id, message.string))
    assert wrong == []


def test_plural_messages_have_their_forms():
    """``ngettext`` strings: English has a singular and a plural with the same
    placeholders; Chinese has one plural form (nplurals=1), so exactly msgstr[0]."""
    wrong = []
    for message in catalogue("en").values():
        if message.pluralizable:
            singular, plural = message.id
            if not singular or not plural or singular == plural:
                wrong.append(("en forms", message.id))
            elif sorted(PLACEHOLDER.findall(singular)) != sorted(PLACEHOLDER.findall(plural)):
                wrong.append(("en placeholders", message.id))
    with (ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        chinese = read_po(file)
    assert chinese.num_plurals == 1
    for message in chinese:
        if message.id and message.pluralizable and len(message.string) != 1:
            wrong.append(("zh_CN forms", message.id))
    plural_in_code = {m.id[0] for m in catalogue("en").values() if m.pluralizable}
    assert plural_in_code, "the code has plural messages (ngettext)"
    assert wrong == []
