"""Run the scheduler: its own process, never inside a web worker.

It builds the app with `create_app()` (one configuration, one database engine)
and runs each job inside the app context. The jobs arrive with the alerts
issue; until then it idles, so that `make run` already has its final shape.
"""

import logging
import signal
import sys

from apscheduler.schedulers.blocking import BlockingScheduler

from app import create_app

log = logging.getLogger("scheduler")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    scheduler = BlockingScheduler(timezone=app.config["TIMEZONE"])

    def stop(signum, frame):
        log.info("signal %s: stopping", signum)
        scheduler.shutdown(wait=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started")
    scheduler.start()


if __name__ == "__main__":
    main()
