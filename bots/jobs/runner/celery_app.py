"""The distributed mode's Celery application: Redis as the broker, one task, one queue per lane.

Task design follows Celery's own advice: the task is idempotent (it carries only a journalled job's id,
and a job the journal already calls final is skipped), acknowledged late (only once it ended, so a
worker lost mid-job leaves the message to be delivered again: at once when a pool process dies,
`task_reject_on_worker_lost`, or after `STYLEBOT_REDELIVER_AFTER` seconds when the whole worker
vanishes: the Redis transport's visibility timeout), and each worker process reserves one job at a time
(`worker_prefetch_multiplier=1`, fair scheduling), so a long Gatys job never holds a second one back.
Time limits sit under the visibility timeout: a job still running when its message became visible
again would be painted twice.
"""
from __future__ import annotations

from celery import Celery

from bots.common.config import BotConfig

__all__ = ["JOB_TASK", "celery_app", "task_id"]

JOB_TASK = "stylebot.job"
HARD_LIMIT_SHARE, SOFT_LIMIT_SHARE = 0.9, 0.8  # of the redelivery delay: soft first, so the user is told


def task_id(job_id: int) -> str:
    """The Celery task id of a journalled job (what revocation names)."""
    return f"stylebot-job-{job_id}"


def celery_app(config: BotConfig) -> Celery:
    """The Celery app over `STYLEBOT_REDIS_URL`, configured for jobs of minutes that must not be lost."""
    if not config.redis_url:
        raise ValueError("the distributed mode needs STYLEBOT_REDIS_URL")
    app = Celery("stylebot", broker=config.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # Redis's transport looks for messages whose worker vanished every interval x throttle seconds
        # (100 s by default): often enough here that a job waits about its redelivery delay, no more.
        broker_transport_options={"visibility_timeout": config.redeliver_after, "unacked_restore_throttle": 1,
                                  "unacked_restore_interval": max(1.0, min(10.0, config.redeliver_after / 4))},
        broker_connection_retry_on_startup=True,
        task_time_limit=config.redeliver_after * HARD_LIMIT_SHARE,
        task_soft_time_limit=config.redeliver_after * SOFT_LIMIT_SHARE,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app
