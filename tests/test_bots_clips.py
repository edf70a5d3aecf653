"""Moving pictures through the real telebot client and the fake Bot API: a GIF (animation), a video and a
video note come back painted as what they were (frames, size, duration kept, sound kept for a video); the
refusals come before anything is computed; /cancel and a restart mid-clip. Real instant and universal
weights; the clips are made from the repository's own pictures (bench/clip.py).
"""
from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bench.clip import make_clip
from bot_harness import photo_bytes, wait_until
from bots import VggBot
from bots.common import texts
from bots.store import JobStatus

pytestmark = pytest.mark.usefixtures("one_compute_thread")
REPO = Path(__file__).resolve().parents[1]
WAIT = 120.0


def clip_bytes(tmp_path: Path, size: tuple[int, int] = (192, 144), seconds: float = 1.0, fps: int = 12,
               sound: bool = False, name: str = "clip.mp4") -> bytes:
    """The test clip (a pan and zoom, a cut, a moving disk) from the repository's own pictures."""
    return make_clip(tmp_path / name, Image.open(REPO / "docs" / "astronaut.jpg"),
                     Image.open(REPO / "bots" / "styles" / "waves.jpg"), size, seconds, fps, sound).read_bytes()


def decoded(data: bytes) -> tuple[list[np.ndarray], float, float, bool]:
    """Frames, frame rate and duration (s) of an MP4, and whether it has sound."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        audio = bool(container.streams.audio)
        return frames, float(stream.average_rate), float(stream.duration * stream.time_base), audio


def test_a_gif_a_video_and_a_video_note_come_back_painted_as_what_they_were(start_bot, tmp_path: Path) -> None:
    bot = start_bot(VggBot, video_side=160)
    user = bot.user(2701)
    source = clip_bytes(tmp_path, sound=True)
    source_frames, _, _, _ = decoded(source)

    # a GIF: the instant style from the buttons; back as a silent animation
    since = bot.api.mark()
    bot.api.send_clip(user.chat_id, clip_bytes(tmp_path, name="gif.mp4"), "animation")
    prompt = user.gets("Got your clip", since)
    assert texts.PREVIEW_ALL not in [text for text, _ in bot.api.inline_buttons(prompt)]
    animation = bot.api.wait_for_clip(user.chat_id, "animation", WAIT, since=user.taps(prompt, "⚡ Wave"))
    frames, fps, seconds, audio = decoded(bot.api.media_bytes(animation))
    assert (len(frames), fps, frames[0].shape[:2], audio) == (12, 12.0, (120, 160), False)
    assert seconds == pytest.approx(1.0, abs=0.1)
    assert animation["animation"]["width"] == 160 and animation["caption"].startswith("⚡ Wave: 12 frames")
    small = [np.asarray(Image.fromarray(f).resize((160, 120))) for f in source_frames]
    assert np.abs(frames[3].astype(float) - small[3]).mean() > 20  # painted, not the input
    user.waits_for_job_end(WAIT)
    again = user.gets("Got your clip", user.taps(animation, texts.NEW_STYLE))  # the same clip, another style
    other = bot.api.wait_for_clip(user.chat_id, "animation", WAIT, since=user.taps(again, "⚡ Udnie"))
    assert other["caption"].startswith("⚡ Udnie: 12 frames")
    assert np.abs(decoded(bot.api.media_bytes(other))[0][3].astype(float) - frames[3]).mean() > 10
    user.waits_for_job_end(WAIT)

    # a video: a painting sent after it (the quick engine); back as a video with its sound
    since = bot.api.mark()
    bot.api.send_clip(user.chat_id, source, "video")
    user.gets("Got your clip", since)
    video = bot.api.wait_for_clip(user.chat_id, "video", WAIT, since=user.sends_photo(photo_bytes((160, 160), 7)))
    frames, fps, seconds, audio = decoded(bot.api.media_bytes(video))
    assert (len(frames), frames[0].shape[:2], audio) == (12, (120, 160), True)
    user.waits_for_job_end(WAIT)

    # a video note with a caption naming a style: no question; back round (square)
    since = bot.api.mark()
    bot.api.send_clip(user.chat_id, clip_bytes(tmp_path, size=(144, 144), name="note.mp4"), "video_note",
                      size=(144, 144), caption="udnie")
    note = bot.api.wait_for_clip(user.chat_id, "video_note", WAIT, since=since)
    frames, _, _, _ = decoded(bot.api.media_bytes(note))
    assert len(frames) == 12 and frames[0].shape[:2] == (144, 144) and note["video_note"]["length"] == 144
    user.waits_for_job_end(WAIT)
    assert [bot.bot.store.journal.get(n).kind for n in (1, 2, 3, 4)] == ["clip"] * 4
    assert bot.job_files() == []


def test_clips_we_cannot_paint_are_refused_in_one_sentence_before_any_work(start_bot, tmp_path: Path) -> None:
    bot = start_bot(VggBot, video_side=160, video_seconds=15.0)
    user = bot.user(2702)

    def refused(expected: str, data: bytes, kind: str = "video", **options) -> None:
        since = bot.api.mark()
        bot.api.send_clip(user.chat_id, data, kind, **options)
        assert expected in user.gets("I can't use this clip", since)["text"]

    before = bot.api.mark()
    refused("it is 2400 s long, and I paint clips of up to 15 s", b"never downloaded", duration=2400)
    assert not any(c.method == "getFile" for c in bot.api.calls[before:])  # refused from the message alone
    refused("it is 20 s long", clip_bytes(tmp_path, seconds=20, fps=2), duration=0)  # the file says so
    zipped = io.BytesIO()
    with __import__("zipfile").ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "not a film")
    refused("it isn't a video I can read", zipped.getvalue())
    refused("it has a single picture", photo_bytes((200, 150)), file_name="still.mp4")
    sound_only = tmp_path / "sound.m4a"
    with av.open(str(sound_only), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48000)
        tone = np.zeros((2, 48000), np.float32)
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    refused("it isn't a video I can read", sound_only.read_bytes())
    since = bot.api.mark()
    user.sends_file(clip_bytes(tmp_path), "clip.mp4", "video/mp4", size=30 * 1024 * 1024)
    user.gets("I can only download files up to", since)
    assert bot.bot.store.journal.created_since(user.user_id, 0) == []  # no job at all


def test_a_clip_is_cancelled_between_frames_and_survives_a_restart(start_bot, tmp_path: Path) -> None:
    bot = start_bot(VggBot, video_side=320)
    user = bot.user(2703)
    long_clip = clip_bytes(tmp_path, size=(320, 240), seconds=4, fps=24)

    since = bot.api.mark()
    bot.api.send_clip(user.chat_id, long_clip, "animation")
    status = user.gets("🎬 Painting the frames", user.taps(user.gets("Got your clip", since), "⚡ Wave"), WAIT)
    user.gets(texts.CANCELLING_RUNNING, user.says("/cancel"))
    assert user.gets(texts.CANCELLED, since, timeout=30)["message_id"] == status["message_id"]
    user.waits_for_job_end()
    assert not any(c.method == "sendAnimation" for c in bot.api.calls[since:])

    since = bot.api.mark()
    bot.api.send_clip(user.chat_id, long_clip, "animation")
    user.gets("🎬 Painting the frames", user.taps(user.gets("Got your clip", since), "⚡ Wave"), WAIT)
    bot = start_bot.restart(bot)
    user = bot.user(2703)
    user.gets(texts.RESUMED, since, timeout=30)
    animation = bot.api.wait_for_clip(user.chat_id, "animation", WAIT, since=since)
    assert len(decoded(bot.api.media_bytes(animation))[0]) == 96
    wait_until(lambda: bot.bot.store.journal.get(2).status is JobStatus.DELIVERED, 30)
    assert bot.job_files() == []


def test_a_clip_counts_as_one_picture_a_second_in_the_hourly_limit(start_bot, tmp_path: Path) -> None:
    bot = start_bot(VggBot, video_side=96, jobs_per_hour=5)
    user = bot.user(2704)
    user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), WAIT)  # 1 of 5
    user.waits_for_job_end()

    def clip(seconds: int) -> int:
        since = bot.api.mark()
        bot.api.send_clip(user.chat_id, clip_bytes(tmp_path, (96, 72), seconds, 4, name=f"{seconds}.mp4"),
                          "animation", duration=seconds)
        return user.taps(user.gets("Got your clip", since), "⚡ Wave")

    refused = user.gets("the most I paint for one person", clip(5))
    assert refused["text"] == texts.rate_limited(5, 3600, 5)
    assert "this one as 5" in refused["text"] and "try again in 60 min" in refused["text"]
    bot.api.wait_for_clip(user.chat_id, "animation", WAIT, since=clip(4))  # 1 + 4: within the hour's 5
    user.waits_for_job_end()
    assert [cost for _, cost in bot.bot.store.journal.created_since(user.user_id, 0)] == [1, 4]
