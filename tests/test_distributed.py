"""The distributed mode end to end: a chat process (run_vgg.py) and Celery workers (`python -m bots.worker`)
over a real redis-server, every message through the real telebot client and the fake Bot API.

Processes are real and are killed for real (SIGKILL). Workers start in seconds each (torch and the
networks); `STYLEBOT_REDELIVER_AFTER` is short so a lost worker's job moves on within the test.
"""
from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.cluster import Cluster, wait_until
from bench.soak import ask_for_painting, result_photos
from bot_harness import TOKEN, photo_bytes, reaped
from bots.common import texts
from bots.common.lanes import CANCEL_GRACE
from fake_bot_api import FakeBotApi
from test_bots_health import metric

REDELIVER_AFTER = 30  # s: the Gatys jobs here take a few seconds; a lost one is taken again after 30-40 s
ADMIN = 99
STEPS = "60"  # at 96 px: a few seconds per job, long enough to act while it runs


def paintings(api: FakeBotApi, chat: int) -> list[dict]:
    """The full paintings delivered to `chat` (quick versions and instant results left out)."""
    return [photo for photo in result_photos(api, chat) if photo["caption"].startswith("VGG19")]


@pytest.fixture
def cluster(fake_api: FakeBotApi, redis_server, real_weights_dir: Path, tmp_path: Path) -> Iterator[Cluster]:
    redis.Redis.from_url(redis_server.url).flushall()
    fake_api.token = TOKEN
    running = Cluster(fake_api, TOKEN, redis_server.url, real_weights_dir, tmp_path,
                      STYLEBOT_REDELIVER_AFTER=str(REDELIVER_AFTER), STYLEBOT_SIZES="96", STYLEBOT_SIZE="96",
                      STYLEBOT_STEPS=STEPS, STYLEBOT_COMPUTE_THREADS="1", STYLEBOT_PROGRESS_INTERVAL="0.5",
                      STYLEBOT_ADMINS=str(ADMIN))
    yield running
    running.stop()


def test_two_workers_paint_at_once_and_an_instant_job_overtakes_them(cluster: Cluster, fake_api: FakeBotApi):
    cluster.worker("painter-a", "transfer")
    cluster.worker("painter-b", "transfer")
    cluster.worker("quick", "instant")
    cluster.start_chat()
    for user in (11, 12):
        ask_for_painting(fake_api, user, photo_bytes(seed=user), "style:waves")
    seen_together = []
    wait_until(lambda: len(running := cluster.running_jobs()) == 2 and not seen_together.append(running), 60,
               "both Gatys jobs to run at the same time", fake_api)
    assert {name.split("/")[0] for name in seen_together[-1]} == {"painter-a", "painter-b"}
    mark = fake_api.mark()  # the admin's /stats lists every live worker, from the board
    fake_api.send_text(ADMIN, "/stats")
    stats = fake_api.wait_for_message(ADMIN, "📊", since=mark, timeout=30)["text"]
    assert all(name in stats for name in ("painter-a", "painter-b", "quick")) and "transfer 0 / 2" in stats, stats
    mark = fake_api.mark()  # a third user wants an instant style meanwhile
    fake_api.send_photo(13, photo_bytes(seed=13))
    prompt = fake_api.wait_for_message(13, texts.ASK_STYLE, since=mark, timeout=30)
    fake_api.press_button(13, prompt["message_id"], dict(fake_api.inline_buttons(prompt))["⚡ Wave"])
    fake_api.wait_for_photo(13, since=mark, timeout=30)
    assert len(cluster.running_jobs()) == 2, "the instant job finished while both paintings still ran"
    wait_until(lambda: paintings(fake_api, 11) and paintings(fake_api, 12), 120, "both paintings", fake_api)
    time.sleep(1)
    assert len(paintings(fake_api, 11)) == len(paintings(fake_api, 12)) == 1


def test_a_worker_killed_mid_job_hands_it_to_another(cluster: Cluster, fake_api: FakeBotApi):
    cluster.worker("quick", "instant")
    first = cluster.worker("painter-a", "transfer")
    cluster.start_chat()
    ask_for_painting(fake_api, 21, photo_bytes(seed=21), "style:waves")
    wait_until(lambda: cluster.running_jobs(), 60, "the Gatys job to start", fake_api)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process: a machine gone
    first.wait()
    cluster.worker("painter-b", "transfer")
    fake_api.wait_for_message(21, texts.WORKER_RETRYING, timeout=REDELIVER_AFTER + 60)
    wait_until(lambda: paintings(fake_api, 21), 120, "the painting", fake_api)
    time.sleep(1)
    assert len(paintings(fake_api, 21)) == 1


def test_the_chat_process_killed_mid_job_loses_nothing_and_cancel_reaches_another_process(
        cluster: Cluster, fake_api: FakeBotApi):
    cluster.worker("quick", "instant")
    cluster.worker("painter", "transfer")
    chat = cluster.start_chat()
    ask_for_painting(fake_api, 31, photo_bytes(seed=31), "style:waves")
    wait_until(lambda: cluster.running_jobs(), 60, "the Gatys job to start", fake_api)
    chat.kill()  # SIGKILL: the chat process is gone mid-job
    chat.wait()
    wait_until(lambda: paintings(fake_api, 31), 120, "the painting", fake_api)  # the worker delivers it
    assert len(paintings(fake_api, 31)) == 1

    cluster.start_chat()  # a new chat process: cancel a job running in the worker process
    ask_for_painting(fake_api, 32, photo_bytes(seed=32), "style:waves")
    wait_until(lambda: cluster.running_jobs(), 60, "the second Gatys job to start", fake_api)
    mark = fake_api.mark()
    fake_api.send_text(32, "/cancel")
    fake_api.wait_for_message(32, texts.CANCELLING_RUNNING, since=mark, timeout=30)
    fake_api.wait_for_message(32, texts.CANCELLED, since=mark, timeout=30)
    wait_until(lambda: not cluster.running_jobs(), 30, "the worker to be free")
    assert not paintings(fake_api, 32)


def test_redis_down_then_restarted_loses_no_queued_job_and_help_still_answers(
        cluster: Cluster, fake_api: FakeBotApi, redis_server):
    """A painting queued with no painter running waits in Redis; Redis goes down (users are asked to come
    back, /help is answered) and comes back from its append-only file; a painter then starts and the
    queued painting is delivered."""
    cluster.worker("quick", "instant")
    cluster.start_chat()
    pressed = ask_for_painting(fake_api, 41, photo_bytes(seed=41), "style:waves")
    fake_api.wait_for_message(41, "in the queue", since=pressed, timeout=30)
    redis_server.stop()
    try:
        mark = fake_api.mark()
        fake_api.send_text(42, "/help")
        fake_api.wait_for_message(42, "/cancel", since=mark, timeout=30)
        fake_api.send_photo(42, photo_bytes(seed=42))
        fake_api.wait_for_message(42, texts.BUSY, since=mark, timeout=60)
    finally:
        redis_server.start()
    mark = fake_api.mark()  # Redis back: the same chat process takes requests again
    fake_api.send_photo(42, photo_bytes(seed=42))
    prompt = fake_api.wait_for_message(42, texts.ASK_STYLE, since=mark, timeout=60)
    fake_api.press_button(42, prompt["message_id"], dict(fake_api.inline_buttons(prompt))["⚡ Wave"])
    fake_api.wait_for_photo(42, since=mark, timeout=60)
    cluster.worker("painter", "transfer")
    wait_until(lambda: paintings(fake_api, 41), 120, "the painting queued before the restart", fake_api)


def test_a_worker_without_its_weights_stops_with_one_clear_line(cluster: Cluster, tmp_path: Path):
    cluster.env["STYLEBOT_WEIGHTS_DIR"] = str(tmp_path / "no-weights")
    cluster.env["STYLEBOT_OFFLINE"] = "1"
    worker = cluster.worker("painter", "transfer", wait=False)
    worker.wait(120)
    errors = [line for line in cluster.log("painter").splitlines() if line.startswith("error:")]
    # Celery's main process may restart the pool process once before the stop reaches it: the same line twice
    assert len(set(errors)) == 1 and len(errors) <= 2 and "vgg19" in errors[0].lower()
    assert "Traceback" not in cluster.log("painter")


def _freeze_painter(cluster: Cluster, fake_api: FakeBotApi) -> int:
    """SIGSTOP the live pool process running the Gatys job, once it runs; its pid. (A killed one's heartbeat
    lingers on the board until it expires.)"""
    def running() -> list[int]:
        return [pid for name in cluster.running_jobs() if not reaped(pid := int(name.split("/")[1]))]

    wait_until(running, 90, "the Gatys job to run", fake_api)
    pid = running()[0]
    os.kill(pid, signal.SIGSTOP)
    return pid


def test_a_frozen_pool_process_is_killed_and_its_job_retried_once(cluster: Cluster, fake_api: FakeBotApi):
    """SIGSTOP the pool process painting: within the stall limit the worker's watchdog kills it (the job's
    beats stopped), the user hears it got stuck, Celery hands the job to a new pool process, and the
    painting arrives once. The worker's own /healthz and /metrics say so."""
    cluster.env.update(STYLEBOT_STALL_AFTER="4", STYLEBOT_STEPS="240")
    cluster.worker("quick", "instant")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()
    cluster.env["STYLEBOT_HEALTH_LISTEN"] = f"127.0.0.1:{address[1]}"
    cluster.worker("painter", "transfer")
    del cluster.env["STYLEBOT_HEALTH_LISTEN"]
    cluster.start_chat()
    since = ask_for_painting(fake_api, 51, photo_bytes(seed=51), "style:waves")
    pid = _freeze_painter(cluster, fake_api)
    frozen = time.monotonic()
    fake_api.wait_for_message(51, texts.WORKER_STUCK_RETRYING, since=since, timeout=30)
    assert time.monotonic() - frozen < 4 + 15
    wait_until(lambda: reaped(pid), 10, "the frozen pool process to be gone")
    wait_until(lambda: paintings(fake_api, 51), 120, "the painting", fake_api)
    time.sleep(1)
    assert len(paintings(fake_api, 51)) == 1
    assert urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/healthz", timeout=10).status == 200
    assert metric(address, "stylebot_jobs_total", kind="paint", outcome="retried") == 1
    assert metric(address, "stylebot_jobs_total", kind="paint", outcome="delivered") == 1
    assert metric(address, "stylebot_workers_hung_total") == 1


def test_a_pool_process_frozen_twice_fails_the_job_plainly(cluster: Cluster, fake_api: FakeBotApi):
    """Frozen again on its second try, on the new pool process: the user gets the clear failure."""
    cluster.env.update(STYLEBOT_STALL_AFTER="4", STYLEBOT_STEPS="100000")
    cluster.worker("quick", "instant")
    cluster.worker("painter", "transfer")
    cluster.start_chat()
    since = ask_for_painting(fake_api, 53, photo_bytes(seed=53), "style:waves")
    for expected in (texts.WORKER_STUCK_RETRYING, texts.WORKER_STUCK_FAILED):
        pid = _freeze_painter(cluster, fake_api)
        since = fake_api.wait_for_message(53, expected, since=since, timeout=30) and fake_api.mark()
        wait_until(lambda: reaped(pid), 10, "the frozen pool process to be gone")
    assert not paintings(fake_api, 53)


def test_cancel_of_a_frozen_pool_process_ends_in_seconds(cluster: Cluster, fake_api: FakeBotApi):
    """/cancel while the pool process is frozen (the stall limit far away): the watchdog kills it a few
    seconds after the cancel, and the user gets "Cancelled"."""
    cluster.env.update(STYLEBOT_STALL_AFTER="600", STYLEBOT_STEPS="100000")
    cluster.worker("quick", "instant")
    cluster.worker("painter", "transfer")
    cluster.start_chat()
    ask_for_painting(fake_api, 52, photo_bytes(seed=52), "style:waves")
    pid = _freeze_painter(cluster, fake_api)
    mark = fake_api.mark()
    fake_api.send_text(52, "/cancel")
    fake_api.wait_for_message(52, texts.CANCELLED, since=mark, timeout=CANCEL_GRACE + 30)
    wait_until(lambda: reaped(pid), 10, "the frozen pool process to be gone")
    assert not paintings(fake_api, 52)


def test_a_clip_is_painted_by_a_celery_worker_of_the_transfer_lane(cluster: Cluster, fake_api: FakeBotApi,
                                                                   tmp_path: Path):
    """A GIF and a video with sound, checked in the chat process and painted frame by frame in a transfer
    worker (which loads the one-pass networks for them), come back as an animation and a video."""
    from test_bots_clips import clip_bytes, decoded

    cluster.env["STYLEBOT_VIDEO_SIDE"] = "96"  # the chat process checks clips, the worker paints them
    cluster.worker("painter", "transfer")
    cluster.start_chat()
    mark = fake_api.mark()
    fake_api.send_clip(61, clip_bytes(tmp_path, name="gif.mp4"), "animation")
    prompt = fake_api.wait_for_message(61, "Got your clip", since=mark, timeout=60)
    fake_api.press_button(61, prompt["message_id"], dict(fake_api.inline_buttons(prompt))["⚡ Wave"])
    animation = fake_api.wait_for_clip(61, "animation", since=mark, timeout=120)
    frames, _, _, audio = decoded(fake_api.media_bytes(animation))
    assert len(frames) == 12 and frames[0].shape[:2] == (72, 96) and not audio
    mark = fake_api.mark()
    fake_api.send_clip(62, clip_bytes(tmp_path, sound=True, name="video.mp4"), "video", caption="mosaic")
    video = fake_api.wait_for_clip(62, "video", since=mark, timeout=120)
    frames, _, _, audio = decoded(fake_api.media_bytes(video))
    assert len(frames) == 12 and audio
