"""The one validation module: each kind of value with good and bad input,
and the answers of endpoints that read such values from the request."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.services.core import validation
from app.services.core.errors import InvalidInput
from tests import factories as make
from tests.api import assert_documented, call

NOT_ASCII_DIGITS = ["²", "٣", "１２", "1²"]


def refused(check, *args, field="f", message=None):
    with pytest.raises(InvalidInput) as caught:
        check(*args)
    assert caught.value.field == field
    if message is not None:
        assert message in caught.value.message
    return caught.value.message


# --- whole numbers and ids ----------------------------------------------------


@pytest.mark.parametrize(("value", "number"), [
    ("12", 12), (" 12", 12), ("12 ", 12), (12, 12), ("0", 0), ("+7", 7), ("0010", 10), ("100", 100),
])
def test_a_whole_number_in_ascii_digits_or_json_passes(value, number):
    assert validation.whole_number(value, "f", 0, 100) == number


@pytest.mark.parametrize("value", [*NOT_ASCII_DIGITS, "", " ", "1.5", "1e3", "twelve", "1 2", "--1", "12\n3",
                                   1.0, True, None, [1], {"n": 1}])
def test_anything_else_is_not_a_whole_number(value):
    refused(validation.whole_number, value, "f", 0, 100, message="f must be a whole number")


@pytest.mark.parametrize("value", ["-1", -1, "101", 2**31, "99999999999999999999", "9" * 5000])
def test_a_whole_number_outside_its_bounds_is_refused_with_them(value):
    refused(validation.whole_number, value, "f", 0, 100, message="f must be between 0 and 100")


def test_the_message_shows_short_text_as_given():
    assert refused(validation.whole_number, "lots", "f", 0, 9) == "f must be a whole number, not 'lots'"


def test_an_optional_whole_number_is_none_when_blank():
    assert validation.optional_whole_number("", "f", 1, 5) is None
    assert validation.optional_whole_number(None, "f", 1, 5) is None
    assert validation.optional_whole_number("3", "f", 1, 5) == 3
    refused(validation.optional_whole_number, "0", "f", 1, 5)


@pytest.mark.parametrize(("value", "record"), [
    ("1", 1), (str(2**31 - 1), 2**31 - 1), (42, 42), ("", None), (None, None),
])
def test_an_id_is_from_1_to_the_databases_largest_integer(value, record):
    assert validation.record_id(value, "f") == record


@pytest.mark.parametrize("value", ["0", "-1", 2**31, "99999999999999999999", *NOT_ASCII_DIGITS, "abc"])
def test_an_id_outside_the_databases_integer_or_not_digits_is_refused(value):
    refused(validation.record_id, value, "f")


# --- text, slugs, phone numbers, e-mail ---------------------------------------


def test_text_is_stripped_bounded_and_none_when_empty():
    assert validation.text("  Gent ", "f", 4) == "Gent"
    assert validation.text("   ", "f", 4) is None
    assert validation.text(None, "f", 4) is None
    refused(validation.text, "Antwerpen", "f", 4, message="f is too long (at most 4 characters)")
    refused(validation.text, 12, "f", 4, message="f must be text")
    with pytest.raises(InvalidInput, match="f is required"):
        validation.text(" ", "f", 4, required=True)


@pytest.mark.parametrize("value", ["antwerpen", "oost-vlaanderen", "a1", "crisis-2-gent"])
def test_a_slug_passes(value):
    assert validation.slug(f" {value} ", "slug", 64) == value


@pytest.mark.parametrize("value", ["Antwerpen", "oost vlaanderen", "-gent", "gent-", "a--b", "gent_1", "gënt", "a٣",
                                   "gent\nx"])
def test_a_slug_of_other_characters_is_refused(value):
    refused(validation.slug, value, "slug", 64, field="slug", message="slug: lowercase letters, digits and dashes")


def test_a_final_newline_is_stripped_not_kept():
    assert validation.slug("gent\n", "slug", 64) == "gent"
    assert validation.phone("+32470123456\n", "phone") == "+32470123456"
    assert validation.email("ann@example.org\n", "email") == "ann@example.org"
    assert validation.clock_time("08:00\n", "f") == "08:00"


def test_a_slug_is_required_and_bounded():
    refused(validation.slug, "", "slug", 64, field="slug", message="slug is required")
    refused(validation.slug, "a" * 65, "slug", 64, field="slug", message="too long")


@pytest.mark.parametrize(("value", "number"), [
    ("+32470123456", "+32470123456"), ("+32 470 12 34 56", "+32470123456"), ("+3232000000", "+3232000000"),
    ("", None), (None, None),
])
def test_a_phone_number_in_e164_passes_without_its_spaces(value, number):
    assert validation.phone(value, "phone") == number


@pytest.mark.parametrize("value", ["0470123456", "+0470123456", "+32", "+32470123456789012", "32470123456",
                                   "+32-470-123456", "+32470١٢٣٤٥٦", "+32470123456\n7", 32470123456])
def test_a_malformed_phone_number_is_refused(value):
    refused(validation.phone, value, "phone", field="phone")


@pytest.mark.parametrize(("value", "address"), [
    ("ann@example.org", "ann@example.org"), (" Ann.Peeters@Example.ORG ", "ann.peeters@example.org"),
    ("", None), (None, None),
])
def test_an_email_address_passes_in_lower_case(value, address):
    assert validation.email(value, "email") == address


@pytest.mark.parametrize("value", ["nobody", "ann@example", "@example.org", "ann@@example.org", "ann @example.org",
                                   "ann@example.org\nx", "a" * 250 + "@x.be", 12])
def test_a_malformed_email_address_is_refused(value):
    refused(validation.email, value, "email", field="email")


def test_an_email_address_may_be_required_and_bounded():
    with pytest.raises(InvalidInput, match="email is required"):
        validation.email(" ", "email", required=True)
    with pytest.raises(InvalidInput, match="too long"):
        validation.email("ann@example.org", "email", limit=10)


# --- times of day, dates, times --------------------------------------------------


@pytest.mark.parametrize("value", ["00:00", "08:00", "19:59", "23:59", " 07:30 "])
def test_a_time_of_day_passes(value):
    assert validation.clock_time(value, "f") == value.strip()


@pytest.mark.parametrize("value", ["24:00", "7:5", "7:05", "08:60", "0800", "08:00:00", "٠٨:٠٠", "08:00\n1", "",
                                   None, 800])
def test_a_malformed_time_of_day_is_refused(value):
    refused(validation.clock_time, value, "f", message="is not a time like 08:00")


def test_a_time_of_day_names_its_label_in_the_message():
    with pytest.raises(InvalidInput) as caught:
        validation.clock_time("24:00", "intake_hours", label="mon")
    assert caught.value.field == "intake_hours"
    assert caught.value.message == "mon: '24:00' is not a time like 08:00"


def test_a_date_passes_and_blank_is_none():
    assert validation.calendar_date("2026-11-28", "date") == date(2026, 11, 28)
    assert validation.calendar_date(" 2100-12-31 ", "date") == date(2100, 12, 31)
    assert validation.calendar_date("", "date") is None


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "28-11-2026", "20261128", "2026-W48-6",
                                   "２０２６-11-28", "2026-11-28T10:00", 20261128])
def test_a_malformed_date_is_refused(value):
    refused(validation.calendar_date, value, "date", field="date", message="must be a date like 2026-11-28")


@pytest.mark.parametrize("value", ["9999-12-31", "1999-12-31", "0001-01-01", "2101-01-01"])
def test_a_date_outside_the_years_2000_to_2100_is_refused(value):
    refused(validation.calendar_date, value, "date", field="date", message="years 2000 to 2100")


def test_a_time_with_its_zone_passes():
    assert validation.aware_time("2026-11-28T23:30:00+01:00", "at") == datetime(
        2026, 11, 28, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    moment = datetime(2026, 11, 28, 20, tzinfo=UTC)
    assert validation.aware_time(moment, "at") is moment
    assert validation.aware_time(None, "at") is None


@pytest.mark.parametrize(("value", "message"), [
    ("9999-12-31T23:59:59-14:00", "years 2000 to 2100"),
    ("0001-01-01T00:00:00+14:00", "years 2000 to 2100"),
    (datetime(2101, 1, 1, tzinfo=UTC), "years 2000 to 2100"),
    ("2026-11-28T23:30:00", "needs a time zone"),
    ("tomorrow", "must be a time like"),
    ("2026-11-28T25:00:00+01:00", "must be a time like"),
])
def test_a_time_without_zone_or_outside_the_years_is_refused(value, message):
    refused(validation.aware_time, value, "at", field="at", message=message)


# --- lists ------------------------------------------------------------------------


def test_child_ages_are_ascii_whole_numbers_within_the_oldest_age():
    assert validation.child_ages("3, 7 ;12", "children", 17) == [3, 7, 12]
    assert validation.child_ages([0, "17"], "children", 17) == [0, 17]
    refused(validation.child_ages, "٣", "children", 17, field="children", message="as a whole number")
    refused(validation.child_ages, ["²"], "children", 17, field="children", message="as a whole number")
    refused(validation.child_ages, "18", "children", 17, field="children", message="0 to 17 years old")
    refused(validation.child_ages, "-1", "children", 17, field="children", message="0 to 17 years old")
    refused(validation.child_ages, "9" * 5000, "children", 17, field="children", message="0 to 17 years old")


def test_codes_come_from_the_allowed_ones_lower_case_and_once():
    assert validation.codes("NL, fr nl", "languages", ["nl", "fr", "en"]) == ["nl", "fr"]
    assert validation.codes([" en "], "languages", ["nl", "fr", "en"]) == ["en"]
    refused(validation.codes, "de", "languages", ["nl", "fr"], field="languages", message="unknown de")
    refused(validation.codes, [3], "languages", ["nl"], field="languages", message="list of codes")


# --- through the endpoints ------------------------------------------------------


@pytest.fixture
def api(app):
    facility = make.facility("crisis-antwerpen", units={"crisis_bed": (8, 2)})
    staff = make.user("shelter_staff", facilities_=[facility])
    operator = make.user("operator")
    db.session.commit()
    tokens = {"staff": make.token_for(staff), "operator": make.token_for(operator)}
    db.session.commit()
    return facility, facility.units[0], tokens


def assert_refused(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == ("invalid_field" if status == 400 else "not_found")
    if field:
        assert error["field"] == field


@pytest.mark.parametrize("value", ["²", "٣", "-1", "0", str(2**31), "99999999999999999999"])
def test_a_unit_id_in_the_path_that_is_no_id_is_not_found(client, api, value):
    _, _, tokens = api
    for method, path in (("GET", f"/api/v1/units/{value}/history"), ("PATCH", f"/api/v1/units/{value}"),
                         ("GET", f"/api/v1/facilities/{value}")):
        assert_refused(call(client, method, path, tokens["staff"], json={}), 404)


@pytest.mark.parametrize(("query", "field"), [
    ("limit=²", "limit"), ("limit=٣", "limit"), ("limit=0", "limit"), ("limit=1001", "limit"),
    ("limit=99999999999999999999", "limit"), ("cursor=²", "cursor"), ("cursor=99999999999999999999", "cursor"),
    ("facility=²", "facility"), ("facility=99999999999999999999", "facility"), ("facility=-1", "facility"),
])
def test_a_list_refuses_paging_and_filters_that_are_no_numbers(client, api, query, field):
    _, _, tokens = api
    for path in ("/api/v1/holds", "/api/v1/referrals"):
        assert_refused(call(client, "GET", f"{path}?{query}", tokens["operator"]), 400, field)
    response = call(client, "GET", f"/api/v1/holds?{query}", tokens["operator"])
    assert_documented(response, "/api/v1/holds")


@pytest.mark.parametrize("value", ["9999-12-31", "2026-11-3١", "2026-02-30"])
def test_the_turn_aways_refuse_a_date_out_of_range(client, api, value):
    _, _, tokens = api
    assert_refused(call(client, "GET", f"/api/v1/turn-aways?date={value}", tokens["operator"]), 400, "date")


@pytest.mark.parametrize(("payload", "field"), [
    ({"available": "²", "version": 1}, "available"),
    ({"available": "٣", "version": 1}, "available"),
    ({"available": 3, "version": "²"}, "version"),
    ({"available": 3, "version": 99999999999999999999}, "version"),
])
def test_a_count_in_other_digits_is_refused(client, api, payload, field):
    _, unit, tokens = api
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", tokens["staff"], json=payload)
    assert_refused(response, 400, field)


def test_a_hold_arriving_in_the_year_9999_is_refused(client, api):
    _, unit, tokens = api
    response = call(client, "POST", "/api/v1/holds", tokens["operator"],
                    json={"unit_id": unit.id, "persons": 1, "arrival": "9999-12-31T23:59:59-14:00"})
    assert_refused(response, 400, "arrival")
    assert_documented(response, "/api/v1/holds", "post")


@pytest.mark.parametrize("value", ["99999999999999999999", "²", "٣", "-1", "0"])
def test_pages_and_alert_ids_in_the_query_string_that_are_no_numbers_show_the_first_page(client, api, value):
    facility, _, _ = api
    admin = make.user("admin")
    db.session.commit()
    make.login(client, admin)
    for path in ("/outbox/", "/admin/facilities", "/console/log", "/dashboard/", f"/shelter/{facility.id}"):
        assert client.get(f"{path}?page={value}").status_code == 200, path
    assert client.get(f"/alerts/?before={value}").status_code == 200


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "9999-12-31", "2026-11-3١", "²"])
def test_the_calls_list_refuses_a_since_out_of_range(client, api, value):
    _, _, tokens = api
    response = call(client, "GET", f"/api/v1/calls?since={value}", tokens["operator"])
    assert_refused(response, 400, "since")


@pytest.mark.parametrize(("query", "field"), [
    ("operator=99999999999999999999", "operator"), ("operator=²", "operator"), ("date=9999-12-31", "date"),
    ("date=2026-11-3١", "date"),
])
def test_the_call_log_names_a_filter_out_of_range(client, api, query, field):
    operator = make.user("operator")
    db.session.commit()
    make.login(client, operator)
    response = client.get(f"/console/log?{query}", headers={"Accept": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert field in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["0", "99999999999999999999"])
def test_an_id_that_is_no_id_is_not_found_whichever_method_comes_first(client, api, value):
    _, _, tokens = api
    for method in ("PATCH", "DELETE"):
        response = call(client, method, f"/api/v1/alert-rules/{value}", tokens["operator"], json={})
        assert_refused(response, 404)
    response = call(client, "PUT", "/api/v1/alert-rules/1", tokens["operator"], json={})
    assert response.status_code == 405
