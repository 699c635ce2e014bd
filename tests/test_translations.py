"""Every user-facing string is in the catalogues, and Dutch (the default
locale) translates all of them."""

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def is_translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(message.id) and not message.fuzzy and all(strings)


def extracted_msgids() -> set[str]:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    messages = extract_from_dir(str(ROOT / "app"), method_map=method_map, keywords=KEYWORDS)
    return {message[2] if isinstance(message[2], str) else message[2][0] for message in messages}


def catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(io.BytesIO(po.read()))


def test_the_template_holds_every_string_in_the_code():
    with open(TRANSLATIONS / "messages.pot", "rb") as pot:
        template = {msgid(message) for message in read_po(pot) if message.id}
    missing = extracted_msgids() - template
    assert not missing, f"run pybabel extract/update: {sorted(missing)[:10]}"


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_every_string_is_translated(language):
    wanted = extracted_msgids()
    translated = {msgid(message) for message in catalogue(language) if is_translated(message)}
    missing = sorted(wanted - translated)
    assert not missing, f"{len(missing)} untranslated in {language}, e.g. {missing[:5]}"
