"""The jobs' vocabulary that the chat, the store and the workers share: the lanes, how often a job is
tried, and the payload's estimate key."""
from __future__ import annotations

__all__ = ["TRANSFER_LANE", "INSTANT_LANE", "SETTLE_LANES", "SETTLE_SECONDS", "MAX_ATTEMPTS", "CANCEL_GRACE",
           "PRIOR_KEY", "COST_KEY"]

# Instant styles and quick versions (seconds) have their own workers, so they never wait behind the style
# transfers and upscalings (minutes). A user still has one job at a time, whatever its lane.
TRANSFER_LANE, INSTANT_LANE = "transfer", "instant"
# A user's new request waits at most SETTLE_SECONDS for their running job of a seconds-long lane to end: a
# tap on a quick version's buttons the moment it arrives then finds it over (its worker may still be
# closing its status message) rather than being told to wait.
SETTLE_LANES = frozenset({INSTANT_LANE})
SETTLE_SECONDS = 2.0
MAX_ATTEMPTS = 2  # a job whose worker died (or that a restart interrupted) is started once more, no more
CANCEL_GRACE = 5.0  # seconds a worker has to stop a cancelled job (cancel checks come every second) before it is killed
PRIOR_KEY = "prior_s"  # a payload's prior estimate of its job's seconds (`bots.jobs.waits`)
COST_KEY = "cost"  # a payload's pictures in the hourly limit (`STYLEBOT_JOBS_PER_HOUR`); 1 when absent
