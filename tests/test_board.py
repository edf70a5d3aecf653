"""The distributed mode's job board (bots/jobs/runner/board.py) against a real redis-server: one job per user
across chat processes, queue places, the races between a chat process and a worker, heartbeats."""
from __future__ import annotations

import threading
import time

import pytest

from bots.jobs.runner import RunnerUnavailable
from bots.jobs.runner.board import PENDING, JobBoard, WorkerBeat


@pytest.fixture
def board(redis_server, request):
    one = JobBoard(redis_server.url, prefix=f"board-test:{request.node.name}:")
    yield one
    one.close()


def test_one_job_per_user_whoever_asks(board: JobBoard, redis_server):
    other = JobBoard(redis_server.url, prefix=board.prefix)  # a second chat process
    results = []
    threads = [threading.Thread(target=lambda b=b: results.append(b.reserve(7))) for b in (board, other) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 1 and results.count(PENDING) == 7
    board.queue(7, "transfer", 1, 1.0)
    assert board.reserve(7) == "1" and board.user_job(7) == 1
    other.close()


def test_a_slot_freed_between_the_reservations_two_commands_is_reserved(board: JobBoard, monkeypatch):
    """A user taps "paint fully" as their quick version's worker frees the slot: SET NX still saw the quick
    job, GET sees nothing. The slot is free, so the tap reserves it (it was refused as "already queued")."""
    board.queue(1, "instant", 10, 1.0)
    real_get = board.redis.get

    def get_just_after_the_worker_dropped(key):
        monkeypatch.setattr(board.redis, "get", real_get)
        board.drop(1, "instant", 10)
        return real_get(key)

    monkeypatch.setattr(board.redis, "get", get_just_after_the_worker_dropped)
    assert board.reserve(1) is None
    assert board.redis.get(board._key("user", 1)) == PENDING


def test_queue_places_move_up_as_workers_take_jobs(board: JobBoard):
    for user, job in ((1, 10), (2, 11), (3, 12)):
        board.queue(user, "transfer", job, 1.0)
    assert [board.position("transfer", job) for job in (10, 11, 12)] == [1, 2, 3]
    board.take("transfer", 10)
    assert [board.position("transfer", job) for job in (10, 11, 12)] == [0, 1, 2]
    assert board.counts(["transfer", "instant"]) == {"transfer": (2, 1), "instant": (0, 0)}
    board.drop(1, "transfer", 10)
    assert board.position("transfer", 10) is None and board.user_job(1) is None and board.waiting("transfer") == [11, 12]


def test_a_cancel_and_a_worker_never_both_get_a_waiting_job(board: JobBoard):
    board.queue(1, "transfer", 10, 1.0)
    board.take("transfer", 10)  # a worker was faster
    assert not board.unqueue(1, "transfer", 10)
    assert board.position("transfer", 10) == 0 and board.user_job(1) == 10  # still running, slot still held
    board.queue(2, "transfer", 11, 1.0)
    assert board.unqueue(2, "transfer", 11) and board.user_job(2) is None and board.position("transfer", 11) is None


def test_an_ended_jobs_slot_is_taken_over_but_never_from_another_reservation(board: JobBoard):
    board.queue(1, "instant", 10, 1.0)
    assert board.reserve(1) == "10"
    assert board.take_over(1, "10") and board.reserve(1) == PENDING  # ours now
    board.release(1, PENDING)
    board.queue(2, "instant", 11, 1.0)
    board.drop(2, "instant", 11)  # the worker freed it between the reservation and the take-over
    assert board.take_over(2, "11")
    board.queue(3, "instant", 12, 1.0)
    board.queue(3, "transfer", 13, 1.0)  # its follow-up holds the slot now
    assert not board.take_over(3, "12") and board.user_job(3) == 13


def test_each_job_keeps_its_estimate_while_it_waits_and_runs(board: JobBoard):
    board.queue(1, "instant", 10, 2.5)
    board.queue(2, "instant", 11, 0.75)
    board.queue(3, "transfer", 12, 600.0)
    assert board.load("instant") == ([], [(10, 2.5), (11, 0.75)])
    before = time.time()
    board.take("instant", 10)
    (started, estimate), = board.load("instant")[0]
    assert before <= started <= time.time() and estimate == 2.5
    assert board.load("instant")[1] == [(11, 0.75)] and board.load("transfer") == ([], [(12, 600.0)])
    board.drop(1, "instant", 10)
    assert board.unqueue(2, "instant", 11)
    assert board.load("instant") == ([], [])
    assert board.redis.hkeys(board._key("estimates")) == ["12"]  # nothing left behind but the waiting job's


def test_cancel_flags_and_heartbeats(board: JobBoard):
    assert not board.cancel_asked(5)
    board.ask_cancel(5)
    assert board.cancel_asked(5)
    board.beat(WorkerBeat("painter/1", "host-a", 1, ("transfer",), 5, time.time(), 900.0))
    board.beat(WorkerBeat("quick/2", "host-b", 2, ("instant",), None, time.time()))
    beats = board.workers()
    assert [(b.name, b.host, b.job, b.rss_mb) for b in beats] == [("painter/1", "host-a", 5, 900.0),
                                                                   ("quick/2", "host-b", None, None)]


def test_a_redis_that_is_down_is_one_clear_error(redis_server, board: JobBoard):
    redis_server.stop()
    try:
        with pytest.raises(RunnerUnavailable, match="Redis"):
            board.reserve(1)
    finally:
        redis_server.start()
    assert board.reserve(1) is None
