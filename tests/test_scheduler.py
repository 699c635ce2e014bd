"""The scheduler: its job list, the runner (only the lease holder runs jobs;
a job's error is logged and counted), and `python -m scheduler` as real
processes: two started together, one acts; SIGTERM stops one cleanly and a
standby takes over at once; the overdue holds and kept numbers jobs run."""

import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Call, Hold, JobRun, OutboxMessage
from app.services.delivery import outbox
from app.services.hotline import phones
from app.services.scheduling import jobs, lease
from scheduler.__main__ import build
from scheduler.runner import Runner
from tests import factories as make
from tests.scheduler_process import real_now, wait_until

# --- the job list and the APScheduler set-up ------------------------------------------


def test_every_job_has_a_fixed_id_a_function_and_an_interval(app):
    ids = [job.id for job in jobs.JOBS]
    assert len(ids) == len(set(ids))
    assert {"evaluate_alerts", "deliver_outbox", "expire_holds", "expire_requests", "expire_offers",
            "offer_at_intake_opening", "remind_stale", "daily_digest", "daily_statistics",
            "purge_retention", "delete_recordings"} == set(ids)
    for job in jobs.JOBS:
        assert callable(job.function), job
        assert current_app.config[job.interval] > 0, job


def test_each_job_runs_alone_coalesced_at_its_configured_interval(app):
    config = current_app.config
    config["OUTBOX_DELIVERY_SECONDS"] = 7
    scheduler = build(current_app, Runner(app, lease_seconds=30), BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        scheduled = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(scheduled) == {"lease"} | {job.id for job in jobs.JOBS}
    for job in jobs.JOBS:
        each = scheduled[job.id]
        assert (each.coalesce, each.max_instances) == (True, 1)
        assert each.trigger.interval == timedelta(seconds=config[job.interval])
        assert each.misfire_grace_time == max(1, round(config[job.interval]))
        assert each.args[0] == job.id
    assert scheduled["deliver_outbox"].trigger.interval == timedelta(seconds=7)
    assert scheduled["lease"].trigger.interval == timedelta(seconds=config["SCHEDULER_RENEW_SECONDS"])


# --- the runner ---------------------------------------------------------------------------


def test_only_the_lease_holder_runs_jobs_and_a_standby_takes_over(app, clock):
    first, second = Runner(app, lease_seconds=30), Runner(app, lease_seconds=30)
    assert first.renew_lease() and not second.renew_lease()
    ran = []
    second.run("note", ran.append)
    first.run("note", ran.append)
    assert ran == [clock.now()]
    assert lease.holder() == first.holder
    assert db.session.get(JobRun, "note").runs == 1
    # The holder stops renewing (it hangs, or died): its lease expires.
    clock.advance(seconds=29)
    assert not second.renew_lease()
    clock.advance(seconds=2)
    assert second.renew_lease()
    assert not first.renew_lease()  # and it knows it lost it
    first.run("note", ran.append)
    second.run("note", ran.append)
    assert ran == [clock.now() - timedelta(seconds=31), clock.now()]
    # A clean stop releases the lease: the other takes it at once.
    second.stop()
    db.session.commit()
    assert lease.holder() is None
    assert first.renew_lease()


def test_a_jobs_error_is_logged_and_counted_and_undoes_its_writes(app, clock, caplog):
    caplog.set_level(logging.INFO, logger="scheduler")
    runner = Runner(app, lease_seconds=30)
    runner.renew_lease()

    def broken(now):
        outbox.enqueue(now, channel="sms", purpose="alert", body="half done", recipient="+32470000001")
        raise RuntimeError("boom")

    runner.run("broken", broken)
    runner.run("broken", broken)
    runner.run("fine", lambda now: ["one", "two"])
    db.session.commit()
    failing, fine = db.session.get(JobRun, "broken"), db.session.get(JobRun, "fine")
    assert (failing.runs, failing.errors, failing.last_error) == (2, 2, "RuntimeError: boom")
    assert (fine.runs, fine.errors, fine.last_error) == (1, 0, None)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert "job broken failed" in caplog.text and "RuntimeError: boom" in caplog.text
    assert "job fine: 2" in caplog.text


# --- the process --------------------------------------------------------------------------


def queue(n: int, prefix: str) -> list[int]:
    messages = [outbox.enqueue(real_now(), channel="sms", purpose="alert", body=f"{prefix} {i}",
                               recipient=f"+3247100{i:04d}", dedup_key=f"test:{prefix}:{i}") for i in range(n)]
    ids = [m.id for m in messages]
    db.session.commit()
    return ids


def sent(ids):
    def check():
        db.session.commit()
        return all(m.status == "sent" for m in db.session.scalars(select(OutboxMessage)) if m.id in ids)
    return check


def current_holder():
    db.session.commit()
    return lease.holder()


def test_two_schedulers_one_acts_and_sigterm_hands_over_at_once(start_scheduler, twilio, client, clock):
    ids = queue(6, "Before")
    # A lease of 30 s: the standby could only take over early if it was released.
    first, second = (start_scheduler(SCHEDULER_LEASE_SECONDS=30) for _ in range(2))
    wait_until(sent(ids), what="delivery", logs=[first, second])
    wait_until(lambda: "started" in first.log() and "started" in second.log(), what="both started")
    holder = current_holder()
    acting, standby = (first, second) if f":{first.pid}:" in holder else (second, first)
    assert f":{acting.pid}:" in holder
    time.sleep(1)  # a few renewals and delivery runs of both
    assert "took the lease" in acting.log() and "took the lease" not in standby.log()
    assert twilio.sends_per_body() == {f"Before {i}": 1 for i in range(6)}
    wait_until(lambda: db.session.rollback() or db.session.get(JobRun, "deliver_outbox") is not None,
               what="the delivery run recorded", logs=[acting])

    # Its heartbeat is fresh.
    clock.at = datetime.now(UTC)
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["scheduler"]["ok"] and health["scheduler"]["heartbeat_age_s"] <= 2

    # SIGTERM: the acting one stops cleanly, releasing the lease; the standby takes over at once.
    stopped_at = time.monotonic()
    assert acting.terminate() == 0
    assert "released the lease" in acting.log() and "stopped" in acting.log()
    standby.wait_for_log("took the lease", timeout=10)
    assert time.monotonic() - stopped_at < 12
    assert f":{standby.pid}:" in current_holder()
    later = queue(2, "After")
    wait_until(sent(later), what="delivery by the new holder", logs=[standby])
    assert twilio.sends_per_body() == {**{f"Before {i}": 1 for i in range(6)}, "After 0": 1, "After 1": 1}
    assert standby.terminate() == 0
    assert current_holder() is None


def test_the_scheduler_expires_holds_and_erases_kept_numbers(start_scheduler, twilio):
    facility = make.facility(units={"crisis_bed": (8, 4)})
    operator = make.user("operator")
    db.session.commit()
    overdue = make.hold(facility.units[0], operator, minutes=5)
    current = make.hold(facility.units[0], operator, minutes=60)
    now = real_now()
    overdue.created_at, overdue.expires_at = now - timedelta(hours=1), now - timedelta(minutes=1)
    current.created_at, current.expires_at = now, now + timedelta(hours=2)
    calls = []
    for n, erase_at in enumerate([now - timedelta(minutes=1), now + timedelta(days=1)]):
        calls.append(Call(sid=f"CA{n:032d}", channel="sms", caller_hash=f"h{n}", caller_masked="+32 4•• •• •• 56",
                          number_sealed=phones.seal("+32470123456", "test-caller-hash-key"),
                          number_kept_for="sms_conversation", number_erase_at=erase_at, status="completed",
                          started_at=now, updated_at=now, menu_choices=[], needs={}))
    db.session.add_all(calls)
    db.session.commit()
    hold_ids, call_ids = (overdue.id, current.id), [c.id for c in calls]
    scheduler = start_scheduler()

    def done():
        db.session.commit()
        return db.session.get(Hold, hold_ids[0]).status == "expired" and (
            db.session.get(Call, call_ids[0]).number_sealed is None)

    wait_until(done, what="hold expiry and retention", logs=[scheduler])
    assert db.session.get(Hold, hold_ids[1]).status == "active"
    kept = db.session.get(Call, call_ids[1])
    assert kept.number_sealed is not None and kept.number_kept_for == "sms_conversation"
    # Each run is recorded just after its work is committed.
    wait_until(lambda: db.session.rollback() or {run.job_id for run in db.session.scalars(select(JobRun))} >= {
        "expire_holds", "purge_retention"}, what="the runs recorded", logs=[scheduler])
