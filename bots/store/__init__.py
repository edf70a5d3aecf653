"""What the bot keeps across restarts: user settings, conversation states, results behind buttons, jobs.

The chat code and the workers see only the interfaces here; two backends implement them, SQLite on one
host (`bots.store.sqlite.SqliteStore`) and Redis for the distributed mode (`bots.store.redis.RedisStore`),
and `bots.store.opening.open_store` picks the one the configuration names. Nothing here loads torch, and
no picture or token is ever stored: pictures are Telegram file ids.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from telebot.storage import StateStorageBase

    from bots.common.requests import Remembered
    from bots.common.settings import UserSettings

__all__ = ["StoreError", "StoreFull", "JobStatus", "JobRecord", "JournalSummary", "SettingsStorage",
           "ResultStorage", "JobJournal", "Store"]


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message is one line naming the file and what to do."""


class StoreFull(StoreError):
    """The store's disk is full: nothing can be written until space is freed (then it works again by itself)."""


class JobStatus(str, enum.Enum):
    """Where a job stands; delivered, failed and cancelled are final and never change again."""

    WAITING = "waiting"
    RUNNING = "running"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    """A job as the journal keeps it: enough to run it again after a restart (`payload`, JSON) and to
    tell its user how it stands (`status_message_id`, the message that shows its progress)."""

    id: int
    user_id: int
    chat_id: int
    lane: str
    kind: str  # "paint", "instant", "upscale"...
    payload: dict[str, Any]
    status_message_id: int | None
    status: JobStatus
    attempts: int
    created: float
    started: float | None
    finished: float | None


@dataclass(frozen=True)
class JournalSummary:
    """Jobs finished in a period, for an admin's /stats: counts by final status, and the seconds each
    delivered job ran (finished - started), by kind, sorted ascending (for percentiles)."""

    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    durations: Mapping[str, list[float]] = field(default_factory=dict)


class SettingsStorage(Protocol):
    """Every user's /settings, starting from the bot's defaults."""

    defaults: UserSettings

    def get(self, user_id: int) -> UserSettings:
        """The user's settings: `defaults` for what they never changed."""
        ...

    def change(self, user_id: int, **changes: object) -> UserSettings:
        """Store `changes` (fields of UserSettings) for the user and return the new settings."""
        ...


class ResultStorage(Protocol):
    """The results behind result buttons, by the number the buttons carry, for a retention period."""

    def remember(self, result: Remembered) -> int:
        """Keep `result`; returns the number its buttons carry (never reused)."""
        ...

    def recall(self, number: int, chat_id: int) -> Remembered | None:
        """The result with this number, if it is still kept and belongs to this chat."""
        ...


class JobJournal(Protocol):
    """Every accepted job, written before its user is told it is queued, so that a restart can resume
    the unfinished ones and a job is reported once even when a worker and its supervisor both see it end."""

    def add(self, user_id: int, chat_id: int, lane: str, kind: str, payload: dict[str, Any]) -> JobRecord:
        """A new waiting job; `payload` (JSON) is what running it again needs."""
        ...

    def set_status_message(self, job_id: int, message_id: int) -> None:
        """The message that shows the job's progress, to edit it after a restart."""
        ...

    def start(self, job_id: int) -> JobRecord:
        """Mark the job running (one more attempt); a job already final is left as it is: check the
        returned status."""
        ...

    def finish(self, job_id: int, status: JobStatus) -> bool:
        """Give the job a final status, unless it already has one; True if this call did it (only that
        caller reports the outcome)."""
        ...

    def get(self, job_id: int) -> JobRecord | None:
        ...

    def unfinished(self) -> list[JobRecord]:
        """Waiting and running jobs, oldest first: what a restart resumes, in order."""
        ...

    def created_since(self, user_id: int, since: float) -> list[tuple[float, int]]:
        """When the user's jobs since `since` were created (cancelled ones too), oldest first, each with
        its cost in pictures (its payload's `COST_KEY`, else 1), for a rate limit."""
        ...

    def delivered_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]:
        """The last `limit` jobs delivered since `since`, newest first: (kind, seconds it ran, its payload's
        prior estimate or None), to calibrate expected waits (`bots.jobs.waits`)."""
        ...

    def summary(self, since: float) -> JournalSummary:
        """Jobs finished since `since`."""
        ...


class Store(Protocol):
    """All of it, opened once per process (the chat process and each worker process open their own)."""

    settings: SettingsStorage
    states: StateStorageBase  # telebot's conversation states: TeleBot(..., state_storage=store.states)
    results: ResultStorage
    journal: JobJournal

    def close(self) -> None:
        ...

