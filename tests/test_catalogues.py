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
    found = extract_from_dir(ROOT / "redgrid", [("**.py", "python")], keywords=KEYWORDS)
    return {msgid if isinstance(msgid, str) else msgid[0] for _, _, msgid, *_ in found}


def catalogue(locale: str) -> dict[str, Message]:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return {message.id: message for message in read_po(file) if message.id}


def test_every_string_in_the_code_has_its_chinese():
    """A new `_()` string without `make locales` and a translation would reach Chinese
    readers in English."""
    chinese = catalogue("zh_CN")
    missing = sorted(msgid for msgid in code_msgids() if msgid not in chinese)
    assert missing == [], "run `make locales` and translate these"
    untranslated = sorted(m.id for m in chinese.values() if not m.string or m.fuzzy)
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
        for pattern in (PLACEHOLDER, HTML_TAG):
            if sorted(pattern.findall(message.id)) != sorted(pattern.findall(message.string)):
                wrong.append((message.id, message.string))
    assert wrong == []
