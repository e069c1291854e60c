"""The periodic jobs a worker runs besides draining the outbox: deadlines, reminders, retention."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.services import Services
from bot.sla import sla_job
from handlers.activities import reminder_job
from storage import repositories as repo

log = logging.getLogger(__name__)

Job = Callable[[datetime], None]


def retention_job(services: Services, *, every: timedelta = timedelta(hours=1)) -> Job:
    """Blank conversation text older than SHEGONG_RETENTION_DAYS (PIPL art. 47); metadata stays."""
    last: list[datetime] = []

    def run(now: datetime) -> None:
        if last and now - last[0] < every:
            return
        last[:] = [now]
        before = now - timedelta(days=services.settings.retention_days)
        with services.sessions.begin() as session:
            purged = repo.purge_message_text(session, before=before)
        if purged:
            log.info("purged the text of %d messages older than %s", purged, before.date())

    return run


def scheduled_jobs(services: Services) -> list[Job]:
    return [sla_job(services), reminder_job(services), retention_job(services)]
