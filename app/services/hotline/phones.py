"""Phone numbers of callers: never stored or shown in clear (PRODUCT.md
section 5, rule 2).

A caller is known by a keyed hash (HMAC-SHA256 with CALLER_HASH_KEY, not the
session secret), so that earlier contacts from the same number can be found,
and shown in a masked form (`+32 4•• •• •• 12`). The full number is kept,
encrypted, only where it is needed to answer, and only there.
"""

import base64
import hashlib
import hmac

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# What Twilio sends in `From` when the caller withholds their number.
WITHHELD = {"", "anonymous", "restricted", "unknown", "private", "unavailable",
            "+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"}
MASK = "•"


def normalise(raw: str | None, default_region: str = "BE") -> str | None:
    """The number in E.164 form, or None for a withheld or impossible one."""
    if raw is None or raw.strip().lower() in WITHHELD:
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def spoken(number: str) -> str:
    """A number as a voice reads it out, digit by digit in national form
    (+3220000000 → "0 2 0 0 0 0 0 0 0"), so that a caller knows it again."""
    parsed = phonenumbers.parse(number)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return " ".join(digit for digit in national if digit.isdigit() or digit == "+")


def caller_hash(number: str, key: str) -> str:
    """The keyed hash a caller is recognised by. Without the key it cannot be
    reversed by trying every Belgian number."""
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()


def mask(number: str | None) -> str:
    """`+32 4•• •• •• 12`: the country, the first digit and the last two."""
    if not number:
        return "withheld"
    parsed = phonenumbers.parse(number)
    national = str(parsed.national_number)
    return f"+{parsed.country_code} {national[0]}{MASK * 2} {MASK * 2} {MASK * 2} {national[-2:]}"


def _fernet(key: str) -> Fernet:
    # A key of its own for sealing numbers, derived from CALLER_HASH_KEY.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"opvang sealed caller numbers").derive(
        key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(number: str, key: str) -> str:
    """The number, encrypted: stored only while it is needed to answer."""
    return _fernet(key).encrypt(number.encode()).decode()


def unseal(sealed: str, key: str) -> str | None:
    try:
        return _fernet(key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
