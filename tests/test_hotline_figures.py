"""The hotline's own figures: calls made through the signed voice webhooks, as
Twilio makes them, with the clock moved by hand, so that the times the
figures read (rang_at, answered_at, voicemail_at, called_number) are the
webhooks' own; then the figures, the daily rows and the managers' page."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from app.extensions import db
from app.models import Call, CallbackAttempt
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.hotline import calls, figures
from tests import factories as make
from tests.conftest import START
from tests.twilio_signing import PUBLIC_URL, signed_post

BRUSSELS = ZoneInfo("Europe/Brussels")
NUMBER_A = "+3220000000"  # the hotline's numbers the callers dial
NUMBER_B = "+3220000099"
PHONES = {"olga": "+32470000001", "omar": "+32470000002"}
_sids = iter(range(1, 10**6))


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in Brussels, November 2026, as UTC (how the clock holds it)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=BRUSSELS).astimezone(UTC)


# --- calls, as Twilio makes them ---------------------------------------------------------


def post(client, path: str, params: dict) -> ET.Element:
    """A signed webhook; its TwiML answer, parsed."""
    response = signed_post(client, path, params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.data)


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL), url
    return url[len(PUBLIC_URL):]


class Caller:
    """One call to `number` from a caller's phone, step by step."""

    def __init__(self, client, clock, number: str):
        self.client, self.clock = client, clock
        self.sid = f"CA{next(_sids):032d}"
        self.params = {"AccountSid": "AC" + "0" * 32, "CallSid": self.sid, "From": "+32470123412", "To": number}
        self.dial = None
        post(client, "/hotline/voice", {**self.params, "CallStatus": "ringing"})

    def choose_language(self):
        """Press 1 (Dutch): the operators' ring, or with nobody on duty the voicemail."""
        root = post(self.client, "/hotline/voice/menu", {**self.params, "CallStatus": "in-progress", "Digits": "1"})
        self.dial = root.find("Dial")
        return self

    def accepted_by(self, who: str, after_s: int):
        """An operator's phone rings; they press 1 `after_s` seconds later."""
        leg = {"CallSid": f"CA{next(_sids):032d}", "ParentCallSid": self.sid, "From": NUMBER_A, "To": PHONES[who]}
        whisper = post(self.client, path_of(self.dial.find("Number").get("url")), leg)
        self.clock.advance(seconds=after_s)
        post(self.client, path_of(whisper.find("Gather").get("action")), {**leg, "Digits": "1"})
        post(self.client, path_of(self.dial.get("action")), {**self.params, "DialCallStatus": "completed"})
        return self

    def unanswered(self, after_s: int = calls.RING_SECONDS):
        self.clock.advance(seconds=after_s)
        post(self.client, path_of(self.dial.get("action")), {**self.params, "DialCallStatus": "no-answer"})
        return self

    def leaves_voicemail(self, *, consents: bool = False):
        post(self.client, "/hotline/voice/recorded?lang=nl",
             {**self.params, "RecordingUrl": f"https://api.twilio.com/Recordings/RE{next(_sids):032x}",
              "RecordingDuration": "20"})
        if consents:
            post(self.client, "/hotline/voice/callback?lang=nl", {**self.params, "Digits": "1"})
        return self

    def hangs_up(self, after_s: int = 0):
        self.clock.advance(seconds=after_s)
        post(self.client, "/hotline/voice/status", {**self.params, "CallStatus": "completed", "CallDuration": "60"})
        return self

    @property
    def call(self) -> Call:
        db.session.rollback()
        return db.session.scalar(select(Call).where(Call.sid == self.sid))


def on_duty(name: str, phone: str):
    user = make.user("operator", name=name, phone=phone)
    calls.set_on_duty(Actor(user=user, source="web"), user, True, START)
    db.session.commit()
    return user


def off_duty(*users):
    for user in users:
        calls.set_on_duty(Actor(user=user, source="web"), user, False, START)
    db.session.commit()


def answered_callback(call: Call, answered_at: datetime, operator) -> None:
    """A call-back that reached the caller (the call-backs' own module writes
    these; the figures only read them)."""
    db.session.add(CallbackAttempt(call_id=call.id, operator_id=operator.id, status="ended", result="answered",
                                   started_at=answered_at - timedelta(seconds=30), answered_at=answered_at,
                                   ended_at=answered_at + timedelta(minutes=5)))
    db.session.commit()


@pytest.fixture
def operators(app):
    return on_duty("Olga Operator", PHONES["olga"]), on_duty("Omar Operator", PHONES["omar"])


@pytest.fixture
def scripted_day(client, clock, operators):
    """Saturday 28 November 2026 (local), until 21:00 (START), and the week before:

    number A today: answered by Olga after 12 s, by Omar after 30 s, one missed
    (the ring over, the caller hung up in the voicemail's prompt), one ringing
    now; number B today: answered by Olga after 5 s, one hung up in the menu,
    one voicemail (nobody on duty) waiting for a call-back, one voicemail after
    a missed ring, called back 40 minutes later. Earlier this week, on A:
    answered after 50 s on Monday just after midnight and on Friday just before
    it; and on the Sunday before, a call that belongs to no column."""
    olga, omar = operators
    script = {}

    def at(when):
        clock.at = when

    at(local(22, 23, 59))
    script["last_week"] = Caller(client, clock, NUMBER_A).choose_language().accepted_by("olga", 4).hangs_up(60)
    at(local(23, 0, 1))
    script["monday"] = Caller(client, clock, NUMBER_A).choose_language().accepted_by("omar", 50).hangs_up(60)
    at(local(27, 23, 59))
    script["friday"] = Caller(client, clock, NUMBER_A).choose_language().accepted_by("olga", 50).hangs_up(60)
    at(local(28, 9, 0))
    script["a_olga"] = Caller(client, clock, NUMBER_A).choose_language().accepted_by("olga", 12).hangs_up(300)
    at(local(28, 10, 0))
    script["a_omar"] = Caller(client, clock, NUMBER_A).choose_language().accepted_by("omar", 30).hangs_up(300)
    at(local(28, 11, 0))
    script["a_missed"] = Caller(client, clock, NUMBER_A).choose_language().unanswered().hangs_up(3)
    at(local(28, 12, 0))
    script["b_olga"] = Caller(client, clock, NUMBER_B).choose_language().accepted_by("olga", 5).hangs_up(120)
    at(local(28, 13, 0))
    script["b_menu"] = Caller(client, clock, NUMBER_B).hangs_up(4)
    at(local(28, 14, 0))
    script["b_missed_voicemail"] = (Caller(client, clock, NUMBER_B).choose_language().unanswered()
                                    .leaves_voicemail(consents=True).hangs_up(30))
    voicemail_at = script["b_missed_voicemail"].call.voicemail_at
    answered_callback(script["b_missed_voicemail"].call, voicemail_at + timedelta(minutes=40), olga)
    at(local(28, 15, 0))
    off_duty(olga, omar)
    script["b_voicemail"] = (Caller(client, clock, NUMBER_B).choose_language().leaves_voicemail(consents=True)
                             .hangs_up(30))
    calls.set_on_duty(Actor(user=olga, source="web"), olga, True, START)
    db.session.commit()
    at(START - timedelta(seconds=5))
    script["a_ringing"] = Caller(client, clock, NUMBER_A).choose_language()
    at(START)
    return script


# --- per call ------------------------------------------------------------------------------


def test_each_call_says_what_became_of_it(app, scripted_day):
    rows = {row.call_id: row for row in figures.per_call(figures.today(START, BRUSSELS), START)}
    got = {name: rows[caller.call.id] for name, caller in scripted_day.items() if caller.call.id in rows}
    assert set(got) == {"a_olga", "a_omar", "a_missed", "b_olga", "b_menu", "b_missed_voicemail", "b_voicemail",
                        "a_ringing"}

    def fate(row):
        return (row.number, row.answered, row.answered_by, row.answer_s, row.missed, row.menu_hangup, row.voicemail,
                row.called_back_after_s)

    assert fate(got["a_olga"]) == (NUMBER_A, True, "Olga Operator", 12, False, False, False, None)
    assert fate(got["a_omar"]) == (NUMBER_A, True, "Omar Operator", 30, False, False, False, None)
    assert fate(got["a_missed"]) == (NUMBER_A, False, None, None, True, False, False, None)
    assert fate(got["b_olga"]) == (NUMBER_B, True, "Olga Operator", 5, False, False, False, None)
    assert fate(got["b_menu"]) == (NUMBER_B, False, None, None, False, True, False, None)
    assert fate(got["b_missed_voicemail"]) == (NUMBER_B, False, None, None, True, False, True, 40 * 60)
    assert fate(got["b_voicemail"]) == (NUMBER_B, False, None, None, False, False, True, None)
    # Ringing for 5 s: not missed yet (its ring is not over), not answered.
    assert fate(got["a_ringing"]) == (NUMBER_A, False, None, None, False, False, False, None)
    # The latest first.
    assert [row.call_id for row in rows.values()] == sorted(rows, reverse=True)


def test_the_ring_over_unanswered_makes_a_call_missed(app, scripted_day):
    later = START + timedelta(seconds=calls.RING_SECONDS)
    [row] = [row for row in figures.per_call(figures.today(later, BRUSSELS), later)
             if row.call_id == scripted_day["a_ringing"].call.id]
    assert row.missed


# --- per period and number -------------------------------------------------------------------


def test_today_per_number(app, scripted_day):
    today = figures.by_number(figures.today(START, BRUSSELS), START)
    assert today == {
        NUMBER_A: figures.Figures(offered=4, answered=2, missed=1, menu_hangups=0, voicemails=0, callbacks=0,
                                  pending_callbacks=0, unheard_voicemails=0, median_answer_s=21),
        NUMBER_B: figures.Figures(offered=4, answered=1, missed=1, menu_hangups=1, voicemails=2, callbacks=1,
                                  pending_callbacks=1, unheard_voicemails=2, median_answer_s=5),
    }
    assert today[NUMBER_A].answered_percent == 50 and today[NUMBER_B].answered_percent == 25


def test_this_week_runs_from_monday_local_midnight(app, scripted_day):
    week = figures.this_week(START, BRUSSELS)
    assert (week.start, week.end) == (local(23, 0), local(30, 0))
    by_number = figures.by_number(week, START)
    # Monday 00:00:01 and Friday 23:59 count; Sunday 23:59 before does not.
    assert by_number[NUMBER_A].offered == 6 and by_number[NUMBER_A].answered == 4
    assert by_number[NUMBER_A].median_answer_s == 40  # 12, 30, 50, 50
    assert by_number[NUMBER_B] == figures.by_number(figures.today(START, BRUSSELS), START)[NUMBER_B]


def test_today_starts_at_local_midnight(app, scripted_day):
    # Friday 23:59 in Brussels is already 22:59 UTC: yesterday, though the UTC day is the same.
    today = figures.today(START, BRUSSELS)
    assert (today.start, today.end) == (local(28, 0), local(29, 0))
    assert today.start == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    friday = scripted_day["friday"].call
    assert friday.started_at.date() == date(2026, 11, 27) and friday.started_at < today.start


def test_all_numbers_together_take_the_median_over_every_answered_call(app, scripted_day):
    _, together = figures.today_and_week(START, BRUSSELS)
    total = together.today
    assert (total.offered, total.answered, total.missed, total.menu_hangups, total.voicemails, total.callbacks,
            total.pending_callbacks, total.unheard_voicemails) == (8, 3, 2, 1, 2, 1, 1, 2)
    assert total.median_answer_s == 12  # 5, 12, 30
    assert (together.week.offered, together.week.median_answer_s) == (10, 30)  # 5, 12, 30, 50, 50


@pytest.mark.parametrize("now", [START, local(23, 8), local(29, 23, 59), local(30, 0)])
def test_today_and_week_in_one_pass_add_up_as_each_period_alone(app, scripted_day, now):
    # Saturday; Monday (today is the week's first day); Sunday night; the next Monday.
    per_number, _ = figures.today_and_week(now, BRUSSELS)
    today = figures.by_number(figures.today(now, BRUSSELS), now)
    week = figures.by_number(figures.this_week(now, BRUSSELS), now)
    assert set(per_number) == set(week)
    for number, both in per_number.items():
        assert both.week == week[number]
        assert both.today == today.get(number, figures.Figures())


def test_a_pending_call_back_and_an_unheard_voicemail_are_as_of_now(app, scripted_day):
    call = scripted_day["b_voicemail"].call
    operator = db.session.get(Call, call.id).operator or make.user("operator", name="Ona")
    answered_callback(call, START, operator)
    call = db.session.get(Call, call.id)
    call.voicemail_status = "handled"
    db.session.commit()
    today = figures.by_number(figures.today(START, BRUSSELS), START)[NUMBER_B]
    assert (today.callbacks, today.pending_callbacks, today.unheard_voicemails) == (2, 0, 1)


def test_sms_contacts_are_no_calls_offered(app, scripted_day):
    db.session.add(Call(sid="SM" + "1" * 32, channel="sms", caller_masked="+32 4•• •• •• 12", status="in-progress",
                        started_at=START - timedelta(hours=1), updated_at=START, called_number=NUMBER_A))
    db.session.commit()
    assert figures.by_number(figures.today(START, BRUSSELS), START)[NUMBER_A].offered == 4


# --- per day (API.md stats/hotline-daily) ----------------------------------------------------------


def test_daily_rows_per_local_day_and_number(app, scripted_day):
    rows = figures.daily(date(2026, 11, 22), date(2026, 11, 28), START, BRUSSELS)
    assert [(row.day.isoformat(), row.number, row.figures.offered, row.figures.answered, row.figures.missed,
             row.figures.menu_hangups, row.figures.voicemails, row.figures.callbacks, row.figures.median_answer_s)
            for row in rows] == [
        ("2026-11-22", NUMBER_A, 1, 1, 0, 0, 0, 0, 4),
        ("2026-11-23", NUMBER_A, 1, 1, 0, 0, 0, 0, 50),
        ("2026-11-27", NUMBER_A, 1, 1, 0, 0, 0, 0, 50),
        ("2026-11-28", NUMBER_A, 4, 2, 1, 0, 0, 0, 21),
        ("2026-11-28", NUMBER_B, 4, 1, 1, 1, 2, 1, 5),
    ]


def test_daily_refuses_a_range_backwards_or_too_long(app):
    with pytest.raises(InvalidInput) as backwards:
        figures.daily(date(2026, 11, 28), date(2026, 11, 27), START, BRUSSELS)
    assert backwards.value.field == "until"
    with pytest.raises(InvalidInput, match="at most 366 days"):
        figures.daily(date(2025, 1, 1), date(2026, 1, 2), START, BRUSSELS)
    assert figures.daily(date(2026, 1, 1), date(2026, 12, 31), START, BRUSSELS) == []


def test_a_day_when_the_clocks_go_back_has_25_hours(app, client, clock, operators):
    # Sunday 25 October 2026: 02:59 summer time, then 02:00 again in winter time.
    clock.at = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)  # 23:30 local, still the 25th
    Caller(client, clock, NUMBER_A).choose_language().accepted_by("olga", 3).hangs_up(10)
    clock.at = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 summer time on the 25th
    Caller(client, clock, NUMBER_A).choose_language().accepted_by("olga", 7).hangs_up(10)
    [row] = figures.daily(date(2026, 10, 25), date(2026, 10, 25), START, BRUSSELS)
    assert (row.day, row.figures.offered, row.figures.median_answer_s) == (date(2026, 10, 25), 2, 5)


# --- the managers' page ----------------------------------------------------------------------------


def page_text(client) -> str:
    response = client.get("/console/hotline")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def table(html: str, caption: str) -> dict[str, list[str]]:
    """The figures table with `caption`: row heading → cells, as text."""
    found = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", html, re.S)
    assert found, caption
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S):
        cells = [" ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split())
                 for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_page_shows_today_and_this_week_per_number_and_together(client, scripted_day):
    make.login(client, make.user("manager", regions=[make.region("limburg")]))
    html = page_text(client)
    together = table(html, "All hotline numbers")
    assert together["Calls"] == ["Today", "This week"]
    assert together["Offered"] == ["8", "10"]
    assert together["Answered"] == ["3 (38%)", "5 (50%)"]
    assert together["Median time to answer"] == ["12 s", "30 s"]
    a = table(html, f"Calls to {NUMBER_A}")
    assert (a["Offered"], a["Answered"], a["Median time to answer"], a["Missed"]) == (
        ["4", "6"], ["2 (50%)", "4 (67%)"], ["21 s", "40 s"], ["1", "1"])
    b = table(html, f"Calls to {NUMBER_B}")
    assert (b["Hung up in the menu"], b["Voicemails"], b["Called back"], b["Call-backs pending"],
            b["Voicemails unheard"]) == (["1", "1"], ["2", "2"], ["1", "1"], ["1", "1"], ["2", "2"])
    assert '<th scope="row">' in html and '<th scope="col">' in html
    # Today's calls, each linked to its page, with who answered and after how long.
    row = re.search(rf'<tr data-call="{scripted_day["a_omar"].call.id}">(.*?)</tr>', html, re.S).group(1)
    assert f'href="/console/calls/{scripted_day["a_omar"].call.id}"' in row
    assert "Omar Operator" in row and "30 s" in row and "answered" in row
    called_back = re.search(rf'<tr data-call="{scripted_day["b_missed_voicemail"].call.id}">(.*?)</tr>', html,
                            re.S).group(1)
    assert "missed, voicemail" in called_back and "40 min 00 s" in called_back
    # The caller's number is nowhere: only the hotline's own.
    assert "470123412" not in html and "+32 4" not in html


def test_a_quiet_week_says_so(client):
    make.login(client, make.user("admin"))
    html = page_text(client)
    assert "No calls this week." in html and "No calls today." in html and "<table" not in html


# The page's headings, as the catalogue of each language has them (the new
# ones come with i18n_pending/hf.json); "Started" was translated before.
HEADINGS = ("Hotline figures", "Today", "This week", "Offered", "Missed", "Median time to answer", "Started")


@pytest.mark.parametrize("language, started", [("nl", "Begonnen"), ("fr", "Début"), ("en", "Started")])
def test_the_page_speaks_the_managers_language(app, client, scripted_day, language, started):
    make.login(client, make.user("manager", language=language))
    html = unescape(page_text(client))
    assert f'<html lang="{language}">' in html and f'<th scope="col">{started}</th>' in html
    with app.test_request_context(), force_locale(language):
        expected = [gettext(heading) for heading in HEADINGS]
    assert [heading for heading in expected if heading not in html] == []


@pytest.mark.parametrize("role", ["operator", "partner", "shelter_staff"])
def test_the_page_is_refused_to_others_and_says_why(client, role):
    make.login(client, make.user(role))
    response = client.get("/console/hotline")
    assert response.status_code == 403


def test_the_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/console/hotline")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_nav_links_the_page_for_managers_and_admins_only(client):
    for role, linked in (("manager", True), ("admin", True), ("operator", False)):
        make.login(client, make.user(role))
        html = client.get("/dashboard/").get_data(as_text=True)
        assert ('href="/console/hotline"' in html) is linked, role
        client.post("/logout")


# --- kept as daily statistics ---------------------------------------------------------------


def test_the_days_are_kept_as_statistics_read_by_the_api_and_survive_the_purge(app, client, clock, scripted_day):
    from app.models import HotlineDay
    from app.services.scheduling import retention
    from app.services.statistics import daily
    from tests.api import assert_documented, call

    path = "/api/v1/stats/hotline-daily"
    manager = make.user("manager")
    db.session.commit()
    token = make.token_for(manager)
    db.session.commit()
    daily.rebuild(date(2026, 11, 22), START)
    db.session.commit()
    wanted = [{"day": row.day.isoformat(), "number": row.number, "offered": row.figures.offered,
               "answered": row.figures.answered, "missed": row.figures.missed,
               "menu_hangups": row.figures.menu_hangups, "voicemails": row.figures.voicemails,
               "callbacks": row.figures.callbacks, "median_answer_s": row.figures.median_answer_s}
              for row in figures.daily(date(2026, 11, 22), date(2026, 11, 28), START, BRUSSELS)]
    query = "?since=2026-11-22&until=2026-11-28"
    assert assert_documented(call(client, "GET", path + query, token), path) == wanted
    # Computing again writes the same rows, no more.
    daily.rebuild(date(2026, 11, 22), START)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(HotlineDay)) == len(wanted)

    # Months later the calls' notes are purged; the days' figures stay as they were.
    clock.at = START + timedelta(days=120)
    retention.purge(clock.now())
    db.session.commit()
    assert assert_documented(call(client, "GET", path + query, token), path) == wanted

    for bad, field in (("?since=2026-11-31", "since"), ("?since=2026-11-28&until=2026-11-22", "since"),
                       ("?since=2025-11-01&until=2026-11-28", "since")):
        response = call(client, "GET", path + bad, token)
        assert_documented(response, path)
        assert response.status_code == 400 and response.get_json()["error"]["field"] == field
