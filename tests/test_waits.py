"""Expected waits (`bots.jobs.waits`): the FIFO simulation of a lane, the priors, the stamping of a payload, and
the calibration read from a real journal (SQLite, and Redis's), on a fake clock; and how a wait is said."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.common import texts
from bots.common.lanes import PRIOR_KEY
from bots.common.requests import PREVIEW_SIDE
from bots.common.settings import UserSettings
from bots.common.styles import INSTANT_STYLES
from bots.jobs.waits import (CALIBRATION_HOURS, CALIBRATION_JOBS, CALIBRATION_TTL, FIXED_SECONDS, PHOTO_SIDE_GUESS,
                             SECONDS_PER_MEGAPIXEL, Calibration, left_of, prior_seconds, refusal, retry_after,
                             stamp, starts)
from bots.store import JobStatus, Store
from transfer.resolution import REFINE_SIDE
from bots.store.redis import RedisStore
from bots.store.sqlite import SqliteStore
from fake_clock import FakeClock

SIZES = (64, 128, 256, 384, 512, 768, 1024)
DEFAULT_SIZE = 384


# ---- a lane's FIFO simulation ------------------------------------------------------------------------------
def test_an_idle_lane_starts_a_new_job_at_once() -> None:
    assert starts([], [], 1) == [0.0]
    assert starts([], [], 3) == [0.0]
    assert starts([], [4.0, 6.0], 2) == [0.0, 0.0, 4.0]  # two free slots, then the first to end


def test_one_slot_runs_the_line_one_after_the_other() -> None:
    assert starts([10.0], [], 1) == [10.0]
    assert starts([10.0], [5.0, 3.0, 7.0], 1) == [10.0, 15.0, 18.0, 25.0]


def test_two_slots_take_each_job_as_soon_as_either_is_free() -> None:
    # slot A free in 10 s, slot B free now: 5 s on B (0-5), 3 s on B (5-8), 4 s on B (8-12); a new one at A's 10 s
    assert starts([10.0], [5.0, 3.0, 4.0], 2) == [0.0, 5.0, 8.0, 10.0]
    assert starts([10.0, 4.0], [6.0, 6.0], 2) == [4.0, 10.0, 10.0]
    # more running than slots (a worker of the distributed mode went away): the soonest ends count
    assert starts([30.0, 10.0, 20.0], [5.0], 2) == [10.0, 15.0]


def test_a_running_job_past_its_estimate_still_needs_a_share_of_it() -> None:
    assert left_of(100.0, 30.0) == 70.0
    assert left_of(100.0, 95.0) == pytest.approx(10.0)  # nearly done by the estimate: still 10% of it
    assert left_of(100.0, 250.0) == pytest.approx(10.0)  # late: never "0 s left"
    assert left_of(100.0, 0.0) == 100.0


def test_retry_after_is_when_the_wait_falls_under_the_limit_and_a_minute_at_least() -> None:
    assert retry_after(45 * 60, 30 * 60) == 15 * 60
    assert retry_after(1810.0, 1800.0) == 60.0
    assert retry_after(130.0, 120.0) == 60.0
    assert retry_after(300.0, 0.0) == 300.0  # the count guard: once every job ahead has started


def test_a_lane_refuses_over_its_count_or_its_wait_and_says_when_to_come_back() -> None:
    assert refusal(3, 1000.0, 4, 1800.0) is None and refusal(3, 1800.0, 4, 1800.0) is None
    assert refusal(3, 2700.0, 4, 1800.0) == 15 * 60  # over the wait: once it falls under the limit
    assert refusal(4, 300.0, 4, 1800.0) == 300.0  # over the count, whatever the wait: once all ahead run
    assert refusal(0, 10 ** 6, 1, float("inf")) is None  # no wait limit


# ---- priors -----------------------------------------------------------------------------------------------
def _settings(size: int, brush: str = "medium") -> dict:
    return {"kind": "settings", "size": size, "brush": brush}


def _instant(size: int, styles: int = 1) -> dict:
    return {"kind": "instant", "styles": list(INSTANT_STYLES[:styles]), "settings": _settings(size)}


def _paint(size: int, backbones: tuple[str, ...] = ("vgg19",)) -> dict:
    return {"kind": "paint", "backbones": list(backbones), "settings": _settings(size)}


def _increasing(values: list[float], strictly: bool = True) -> bool:
    return all(b > a if strictly else b >= a for a, b in zip(values, values[1:]))


def test_priors_grow_with_the_size_for_every_kind_of_job() -> None:
    def prior(kind: str, request: dict | None) -> float:
        return prior_seconds(kind, request, DEFAULT_SIZE)

    instant = [prior("instant", _instant(s)) for s in SIZES]
    preview = [prior("instant", _instant(s, len(INSTANT_STYLES))) for s in SIZES]
    quick = [prior("quick", _paint(s, ())) for s in SIZES]
    paint = [prior("paint", _paint(s)) for s in SIZES]
    upscale = [prior_seconds("upscale", None, s) for s in SIZES]  # an upscale's payload has no request
    for series in (instant, quick, paint, upscale):
        assert _increasing(series) and series[0] > FIXED_SECONDS, series
    assert _increasing(preview, strictly=False)
    small = [s for s in SIZES if s <= PREVIEW_SIDE]
    assert _increasing(preview[:len(small)]) and len(set(preview[len(small) - 1:])) == 1, "pictures capped"
    # at one size, the kinds rank as their speeds do: an instant style, a quick version, ResNet50, VGG19
    assert instant[-1] < quick[-1] < prior("paint", _paint(1024, ("resnet50",))) < paint[-1]
    assert prior("instant", _instant(512)) == pytest.approx(FIXED_SECONDS + SECONDS_PER_MEGAPIXEL["instant"]
                                                            * 512 * 512 / 1e6)


def test_priors_follow_the_brush_and_expect_a_photo_sized_result() -> None:
    """The engines paint at the brush's working size: a finer brush paints more pixels; the photo's own size
    (0) is expected to be what Telegram delivers of a photo (PHOTO_SIDE_GUESS)."""
    def paint(size: int, brush: str) -> float:
        request = {"kind": "paint", "backbones": ["vgg19"], "settings": {"kind": "settings", "size": size,
                                                                           "brush": brush}}
        return prior_seconds("paint", request, DEFAULT_SIZE)

    assert paint(1024, "bold") < paint(1024, "medium") < paint(1024, "fine")
    assert paint(0, "medium") == paint(PHOTO_SIDE_GUESS, "medium") > paint(1024, "medium")
    # past the working size Gatys refines at the result's size, past REFINE_SIDE only the carrying grows
    assert paint(512, "medium") < paint(768, "medium") < paint(REFINE_SIDE, "medium") < paint(2048, "medium")
    assert paint(2048, "medium") < 1.2 * paint(REFINE_SIDE, "medium")


def test_a_prior_counts_each_preview_picture_and_each_backbone() -> None:
    one, six = prior_seconds("instant", _instant(256), 0), prior_seconds("instant", _instant(256, 6), 0)
    assert six - FIXED_SECONDS == pytest.approx(6 * (one - FIXED_SECONDS))
    vgg, resnet = prior_seconds("paint", _paint(512), 0), prior_seconds("paint", _paint(512, ("resnet50",)), 0)
    both = prior_seconds("paint", _paint(512, ("vgg19", "resnet50")), 0)
    assert both - FIXED_SECONDS == pytest.approx(vgg - FIXED_SECONDS + resnet - FIXED_SECONDS)
    assert prior_seconds("paint", _paint(512, ()), 0) == vgg  # no backbone named: VGG19's preset


def test_a_request_without_a_size_takes_the_bots_default() -> None:
    assert prior_seconds("paint", {"kind": "paint"}, 512) == prior_seconds("paint", _paint(512), 64)
    assert prior_seconds("quick", None, 256) == prior_seconds("quick", _paint(256, ()), 64)
    assert prior_seconds("someday", None, 256) == prior_seconds("quick", None, 256)  # a kind not known yet


def test_stamp_puts_a_prior_on_the_job_and_on_its_follow_up() -> None:
    payload = {"request": _paint(128, ()), "language": "ru",
               "then": {"kind": "paint", "lane": "transfer", "payload": {"request": _paint(128), "language": "ru"}}}
    stamped = stamp("quick", payload, DEFAULT_SIZE)
    assert stamped[PRIOR_KEY] == round(prior_seconds("quick", _paint(128, ()), DEFAULT_SIZE), 3)
    assert stamped["then"]["payload"][PRIOR_KEY] == round(prior_seconds("paint", _paint(128), DEFAULT_SIZE), 3)
    assert stamped["then"]["payload"][PRIOR_KEY] > 10 * stamped[PRIOR_KEY]
    assert stamped["language"] == "ru" and stamped["then"]["lane"] == "transfer"
    assert PRIOR_KEY not in payload and PRIOR_KEY not in payload["then"]["payload"], "the payload is not changed"
    alone = stamp("instant", {"request": _instant(64), "then": None}, DEFAULT_SIZE)
    assert alone["then"] is None and alone[PRIOR_KEY] == round(prior_seconds("instant", _instant(64), 0), 3)
    upscale = stamp("upscale", {"picture": "FILE-1"}, 512)
    assert upscale[PRIOR_KEY] == round(prior_seconds("upscale", None, 512), 3)


# ---- calibration, from a real journal -----------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, FakeClock]]:
    clock = FakeClock(1_700_000_000.0)
    if request.param == "sqlite":
        opened: Store = SqliteStore.open(tmp_path / "data", UserSettings(), clock=clock)
    else:
        server = request.getfixturevalue("redis_server")
        opened = RedisStore.open(server.url, UserSettings(), clock=clock, prefix=f"waits-{tmp_path.name}:")
    yield opened, clock
    opened.close()


def _run(store: Store, clock: FakeClock, kind: str, seconds: float, prior: float | None,
         status: JobStatus = JobStatus.DELIVERED) -> None:
    """A job of `kind` that ran `seconds` (on the fake clock) and ended with `status`."""
    payload = {"request": _instant(64)} if prior is None else {"request": _instant(64), PRIOR_KEY: prior}
    record = store.journal.add(1, 1, "instant", kind, payload)
    clock.advance(1.0)
    store.journal.start(record.id)
    clock.advance(seconds)
    assert store.journal.finish(record.id, status)
    clock.advance(1.0)


def test_calibration_is_each_kinds_median_ratio_of_real_to_prior_seconds(store) -> None:
    store, clock = store
    calibration = Calibration(store.journal, 64, clock)
    for seconds in (4.0, 12.0, 6.0):  # ratios 2, 6, 3: the median is 3
        _run(store, clock, "instant", seconds, 2.0)
    _run(store, clock, "paint", 500.0, 50.0)  # ratio 10
    _run(store, clock, "paint", 3000.0, 50.0, JobStatus.CANCELLED)  # not delivered: not counted
    _run(store, clock, "paint", 3000.0, 50.0, JobStatus.FAILED)
    _run(store, clock, "paint", 3000.0, None)  # from before priors: no ratio
    clock.advance(CALIBRATION_TTL)
    assert calibration.factors() == {"instant": pytest.approx(3.0), "paint": pytest.approx(10.0)}
    assert calibration.estimate("instant", {PRIOR_KEY: 0.5}) == pytest.approx(1.5)
    assert calibration.estimate("paint", {PRIOR_KEY: 60.0}) == pytest.approx(600.0)
    assert calibration.estimate("upscale", {PRIOR_KEY: 2.0}) == 2.0, "a kind not seen lately keeps its prior"
    unstamped = {"request": _paint(256)}  # a job journalled before priors existed: its prior computed now
    assert calibration.estimate("paint", unstamped) == pytest.approx(10 * prior_seconds("paint", _paint(256), 64))


def test_an_empty_journal_keeps_the_priors(store) -> None:
    store, clock = store
    calibration = Calibration(store.journal, 64, clock)
    assert calibration.factors() == {}
    assert calibration.estimate("paint", {PRIOR_KEY: 42.0}) == 42.0
    assert calibration.estimate("instant", {"request": _instant(512)}) == prior_seconds("instant", _instant(512), 0)


def test_calibration_follows_the_last_jobs_and_forgets_old_ones(store) -> None:
    store, clock = store
    now = FakeClock(clock.now)  # the calibration's clock, moved by hand: reads are cached CALIBRATION_TTL s
    calibration = Calibration(store.journal, 64, now)
    for _ in range(5):
        _run(store, clock, "instant", 100.0, 1.0)  # ratio 100: a slow hour
    now.now = clock.now
    assert calibration.factors()["instant"] == pytest.approx(100.0)
    for _ in range(CALIBRATION_JOBS):
        _run(store, clock, "instant", 2.0, 1.0)  # ratio 2, the last CALIBRATION_JOBS of them
    now.advance(CALIBRATION_TTL * 0.9)
    assert calibration.factors()["instant"] == pytest.approx(100.0), f"read again only after {CALIBRATION_TTL} s"
    now.now = clock.now
    assert calibration.factors()["instant"] == pytest.approx(2.0), "the 5 slow ones are older than the last 20"
    _run(store, clock, "paint", 80.0, 10.0)
    now.now = clock.now + CALIBRATION_HOURS * 3600 - 10.0  # the instant jobs are now older than CALIBRATION_HOURS
    assert calibration.factors() == {"paint": pytest.approx(8.0)}
    assert calibration.estimate("instant", {PRIOR_KEY: 1.0}) == 1.0
    now.advance(60.0)
    assert calibration.factors() == {}
    assert calibration.estimate("paint", {PRIOR_KEY: 10.0}) == 10.0


# ---- how a wait is said ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds, said", [
    (0.0, "0 s"), (0.4, "0 s"), (0.5, "5 s"), (5.0, "5 s"), (5.1, "10 s"), (41.0, "45 s"), (55.0, "55 s"),
    (56.0, "1 min"), (89.0, "1 min"), (91.0, "2 min"), (600.0, "10 min"), (3569.0, "59 min"),
    (3570.0, "1 h"), (3600.0, "1 h"), (4500.0, "1 h 15 min"), (4649.0, "1 h 15 min"), (7200.0, "2 h"),
    (27000.0, "7 h 30 min"),
])
def test_a_duration_is_said_as_people_say_it(seconds: float, said: str) -> None:
    assert texts.duration(seconds) == said


def test_the_queue_and_refusal_texts_say_the_wait() -> None:
    assert texts.queued(3, 40.0) == "⏳ You're #3 in the queue, about 40 s to wait."
    assert texts.queued(1, None).startswith("⏳ You're #1 in the queue. I'll start")
    assert texts.queued(2, 0.2) == texts.queued(2, None), "under a second: a painter is about to take it"
    assert texts.queued(0, 100.0) == "⏳ Starting…"
    assert texts.queue_full(45 * 60, 20 * 60) == ("😓 I'm very busy: a new picture would wait about 45 min. "
                                                  "Please try again in 20 min.")
