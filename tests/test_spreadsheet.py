"""Free-text cells of the CSV files the app writes: no formula, and an exact way back."""

import pytest

from app.services.core.spreadsheet import read_text_cell, text_cell


@pytest.mark.parametrize("text, cell", [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+32 call me", "'+32 call me"),
    ("-1 Kelder", "'-1 Kelder"),
    ("@Hulppunt", "'@Hulppunt"),
    ("\tinvisible", "'\tinvisible"),
    ("\rreturn", "'\rreturn"),
    ("'=already quoted", "''=already quoted"),
    ("'''-", "''''-"),
    ("Vluchthuis", "Vluchthuis"),
    ("'t Hof", "'t Hof"),
    ("a = b", "a = b"),
    ("", ""),
    ("'", "'"),
])
def test_a_text_that_starts_a_formula_is_quoted_and_read_back_exactly(text, cell):
    assert text_cell(text) == cell
    assert read_text_cell(cell) == text


def test_nothing_is_an_empty_cell():
    assert text_cell(None) == ""
