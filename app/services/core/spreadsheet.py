"""Free-text cells of the CSV and TSV files the app writes, safe to open in a
spreadsheet.

A cell starting with = + - @, a tab or a carriage return is a formula to
Excel and LibreOffice: a `closed_reason` of `=HYPERLINK(...)` could send a
refuge's address away when an admin opens the backup. Such a text gets a
leading apostrophe, which spreadsheets show as text and do not display.

Only free text is neutralised: the writer decides per column. Numbers (a
count of -1 is a number) and phone numbers validated as E.164 (which start
with + by right) are written as they are.

A text that already starts with apostrophes before such a character gets one
more, so that `read_text_cell` undoes `text_cell` exactly for every text.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _looks_quoted(text: str) -> bool:
    """Apostrophes, then a character that starts a formula."""
    return text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS)


def text_cell(value: str | None) -> str:
    """A free-text value as a cell no spreadsheet takes for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) or _looks_quoted(text) else text


def read_text_cell(cell: str) -> str:
    """The text `text_cell` wrote: without the apostrophe it added."""
    return cell[1:] if _looks_quoted(cell) else cell
