from datetime import timedelta

from app.extensions import db
from app.services.scheduling import lease


def test_healthz_is_degraded_while_no_scheduler_ever_ran(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "database": "ok",
                                   "scheduler": {"ok": False, "heartbeat_age_s": None}}


def test_healthz_reports_the_schedulers_heartbeat_and_a_stale_one(app, client, clock):
    assert lease.acquire("scheduler-a", clock.now(), timedelta(seconds=30))
    db.session.commit()
    clock.advance(seconds=12)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok",
                                   "scheduler": {"ok": True, "heartbeat_age_s": 12}}
    # Not renewed for longer than SCHEDULER_STALE_SECONDS (60): degraded, still 200.
    clock.advance(seconds=49)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "database": "ok",
                                   "scheduler": {"ok": False, "heartbeat_age_s": 61}}
    # A standby took over and renews: fresh again.
    assert lease.acquire("scheduler-b", clock.now(), timedelta(seconds=30))
    db.session.commit()
    assert client.get("/healthz").get_json()["scheduler"] == {"ok": True, "heartbeat_age_s": 0}
    # The limit is configurable.
    clock.advance(seconds=12)
    app.config["SCHEDULER_STALE_SECONDS"] = 10
    assert client.get("/healthz").get_json()["status"] == "degraded"


def test_a_standby_that_does_not_hold_the_lease_writes_no_heartbeat(client, clock):
    assert lease.acquire("scheduler-a", clock.now(), timedelta(seconds=30))
    db.session.commit()
    clock.advance(seconds=70)
    assert not lease.acquire("scheduler-b", clock.now() - timedelta(seconds=45), timedelta(seconds=30))
    db.session.commit()
    assert client.get("/healthz").get_json()["scheduler"] == {"ok": False, "heartbeat_age_s": 70}


def test_healthz_reports_a_database_that_does_not_answer(database_url, tmp_path):
    from tests.conftest import make_app

    # A PostgreSQL port nobody listens on.
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
