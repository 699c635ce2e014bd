"""The voicemail's player in a real browser: the call page's <audio> loads the
recording through the app (from the fake Twilio, with the account's
credentials) under the Content-Security-Policy, the listening is audited, and
marking it handled takes it off the live list."""

import io
import re
import wave

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests import factories
from tests.browser.test_content_security_policy import REPORT_VIOLATIONS
from tests.browser.test_flow_a import _log_in
from tests.test_voicemails import HOTLINE, leave_voicemail

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(twilio_server):
    return {**twilio_server.config(from_number=HOTLINE), "WTF_CSRF_ENABLED": True, "CONSOLE_REFRESH_SECONDS": 1}


def half_a_second_of_silence() -> bytes:
    """Audio any browser decodes (Twilio's would be MP3)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 4000)
    return out.getvalue()


def test_the_player_loads_the_recording_through_the_app_under_the_policy(new_page, client, twilio):
    from playwright.sync_api import expect

    operator = factories.user("operator", phone="+32470000001", name="Olga Operator")
    db.session.commit()
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, half_a_second_of_silence(), call_sid=left.sid)

    page = new_page()
    violations = []
    page.context.expose_function("reportViolation", lambda text: violations.append(text))
    page.context.add_init_script(REPORT_VIOLATIONS)
    _log_in(page, operator.email)
    page.goto("/console/")
    expect(page.locator(f'tr[data-call="{left.id}"]')).to_contain_text("unheard voicemail")
    page.goto(f"/console/calls/{left.id}")
    player = page.locator("#voicemail audio")
    expect(player).to_have_attribute("src", f"/api/v1/voicemails/{left.id}/audio")
    assert twilio.recording_requests("GET") == []  # preload="none": nothing until asked

    # What pressing play does first: load the audio (playing itself needs a gesture headless Chromium lacks).
    with page.expect_response(re.compile(rf"/api/v1/voicemails/{left.id}/audio$")) as answer:
        ready = player.evaluate("""audio => new Promise((resolve, reject) => {
            audio.addEventListener("loadeddata", () => resolve(audio.readyState), {once: true});
            audio.addEventListener("error", () => reject(new Error(audio.error.message)), {once: true});
            audio.preload = "auto";
            audio.load();
        })""")
    assert answer.value.status == 200 and ready >= 2
    assert round(player.evaluate("audio => audio.duration"), 1) == 0.5
    assert violations == []
    db.session.rollback()
    listened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "voicemail.listened")).all()
    assert listened and {event.actor_id for event in listened} == {operator.id}

    page.locator("#voicemail-outcome").select_option("callback")
    page.get_by_role("button", name="Mark handled").click()
    expect(page.locator("#voicemail")).to_contain_text("by Olga Operator: To be called back")
    page.goto("/console/")
    expect(page.locator(f'tr[data-call="{left.id}"]')).to_have_count(0)
