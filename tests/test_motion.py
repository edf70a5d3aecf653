"""Clips in and out (`transfer.clips`), steady painting (`transfer.motion`), the clip painter (`transfer.video`)
and `python -m transfer` on a clip. The engines' tests use the real instant and universal weights; the
clips are made from the repository's own pictures (bench/clip.py) or generated here.
"""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bench.clip import make_clip
from transfer.clips import ClipLimits, ClipWriter, probe, read_frames
from transfer.images import ImageError
from transfer.motion import FlowField, Steadier, grey, warping_error
from transfer.progress import Cancelled

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s at 16 fps, 192x144, with sound: a pan and zoom, a cut, a disk crossing."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", Image.open(REPO / "docs" / "astronaut.jpg"),
                     Image.open(REPO / "bots" / "styles" / "waves.jpg"), (192, 144), 1.5, 16, sound=True)


def test_a_clip_is_probed_read_and_written_back_with_its_rate_duration_and_sound(clip: Path, tmp_path: Path) -> None:
    found = probe(clip, ClipLimits(side=96))
    assert (found.size, found.rate, found.frames, found.every, found.audio) == ((96, 72), Fraction(16), 24, 1, True)
    assert found.seconds == pytest.approx(1.5, abs=0.07)
    out = tmp_path / "out.mp4"
    with ClipWriter(out, found) as writer:
        for frame in read_frames(found):
            assert frame.shape == (72, 96, 3) and frame.dtype == np.uint8
            writer.write(255 - frame)
    assert out.read_bytes()[4:8] == b"ftyp" and out.read_bytes().find(b"moov") < out.read_bytes().find(b"mdat")
    again = probe(out)
    assert (again.size, again.rate, again.frames, again.audio) == ((96, 72), Fraction(16), 24, True)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert container.streams.audio[0].codec_context.name == "aac"


def test_limits_keep_every_nth_frame_crop_a_square_and_refuse_what_is_too_long(clip: Path) -> None:
    fewer = probe(clip, ClipLimits(frames=10))
    assert (fewer.every, fewer.frames, fewer.rate) == (3, 8, Fraction(16, 3))
    assert len(list(read_frames(fewer))) == 8
    square = probe(clip, ClipLimits(side=100, square=True))
    assert square.size == (100, 100) and square.crop == (24, 0, 144, 144)
    with pytest.raises(ImageError) as refused:
        probe(clip, ClipLimits(seconds=1.0))
    assert refused.value.reason == "clip_too_long" and refused.value.details == {"seconds": 2, "limit": "1"}


@pytest.mark.parametrize("data, reason", [(b"PK\x03\x04 a zip, renamed", "not_a_clip"), (b"", "not_a_clip")])
def test_files_that_are_not_clips_are_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with pytest.raises(ImageError) as refused:
        probe(path)
    assert refused.value.reason == reason


def test_a_still_picture_is_not_a_clip(tmp_path: Path) -> None:
    path = tmp_path / "still.mp4"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(path, "JPEG")
    with pytest.raises(ImageError) as refused:
        probe(path)
    assert refused.value.reason == "still_clip"


def _flicker(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Each frame 'painted' with its own random strokes, as a network's boil: the frame plus fresh noise."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, 25, f.shape), 0, 255).astype(np.uint8) for f in frames]


def test_steady_frames_keep_still_what_did_not_move_and_start_afresh_after_a_cut(clip: Path) -> None:
    frames = list(read_frames(probe(clip)))
    painted = _flicker(frames)
    steadier = Steadier()
    shown = [steadier(f, p) for f, p in zip(frames, painted)]
    flow = FlowField()
    greys = [grey(f) for f in frames]
    flows = {t: flow.backward(greys[t], greys[t - 1]) for t in range(1, len(frames))}
    alone, steady = warping_error(painted, flows.__getitem__), warping_error(shown, flows.__getitem__)
    assert steady < alone / 3, (steady, alone)
    assert steadier.cuts == 1  # the one cut of the clip
    cut = len(frames) // 2
    assert np.array_equal(shown[cut], painted[cut])  # after the cut, nothing is carried over
    assert not np.array_equal(shown[cut + 1], painted[cut + 1])
    assert np.array_equal(Steadier(keep=0)(frames[1], painted[1]), painted[1])


def test_the_warping_error_sees_flicker_and_not_motion(clip: Path) -> None:
    """The measure can fail: the frames themselves (moving, not flickering) score far lower than the
    same frames with fresh noise each."""
    frames = list(read_frames(probe(clip)))
    flow = FlowField()
    greys = [grey(f) for f in frames]
    flows = {t: flow.backward(greys[t], greys[t - 1]) for t in range(1, len(frames))}
    assert warping_error(frames, flows.__getitem__) * 5 < warping_error(_flicker(frames), flows.__getitem__)


def test_a_clip_is_painted_by_the_instant_and_the_quick_engine_and_can_be_cancelled(clip: Path,
                                                                                    tmp_path: Path) -> None:
    from transfer.instant import InstantStylizer
    from transfer.universal import UniversalStylizer
    from transfer.video import instant_painter, paint_clip, universal_painter

    found = probe(clip, ClipLimits(side=96))
    instant = tmp_path / "instant.mp4"
    seen = []
    assert paint_clip(found, instant_painter(InstantStylizer(), "wave"), instant, Steadier(),
                      progress=lambda p: seen.append((p.step, p.total))) == 24
    assert seen[-1] == (24, 24)
    frames = list(read_frames(probe(instant)))
    source = list(read_frames(found))
    assert len(frames) == 24 and np.abs(frames[5].astype(float) - source[5]).mean() > 20
    quick = tmp_path / "quick.mp4"
    painter = universal_painter(UniversalStylizer(), REPO / "bots" / "styles" / "mosaic.jpg")
    assert paint_clip(found, painter, quick, Steadier()) == 24
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(Cancelled):
        paint_clip(found, painter, tmp_path / "cancelled.mp4", Steadier(), cancel=cancel)
    assert not (tmp_path / "cancelled.mp4").exists()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "transfer", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_the_command_line_paints_a_clip_and_refuses_what_it_cannot(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "wave.mp4"
    done = _cli(str(clip), "--instant", "wave", "--size", "96", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"saved {out} (96x72)") and "24 frames at 16 fps" in done.stdout
    assert "frame" in done.stderr  # the tqdm bar
    painted = probe(out)
    assert (painted.frames, painted.size, painted.audio) == (24, (96, 72), True)
    for args, message in [
        ((str(clip), str(REPO / "bots" / "styles" / "mosaic.jpg"), "-o", str(out)), "--instant NAME or --quick"),
        ((str(clip), "--instant", "wave", "-o", str(tmp_path / "wave.gif")), "a painted clip is an .mp4 file"),
        ((str(clip), "--instant", "wave", "--max-seconds", "1", "-o", str(out)), "I paint clips of up to 1 s"),
        ((str(REPO / "README.md"), "--instant", "wave", "-o", str(out)), "not a video I can read"),
    ]:
        refused = _cli(*args)
        assert refused.returncode == 2 and refused.stderr.startswith("error: ") and message in refused.stderr, \
            refused.stderr
        assert "Traceback" not in refused.stderr


def test_the_readme_clip_is_made_from_shipped_pictures_small_and_painted(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_clip", REPO / "docs" / "make_clip.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = script.make(tmp_path / "clip.gif")
    assert out.stat().st_size < 2_000_000
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (2 * script.SIZE[0], script.SIZE[1])
        assert gif.n_frames == round(script.SECONDS * script.FPS) and gif.info["loop"] == 0
        gif.seek(gif.n_frames // 4)
        pair = np.asarray(gif.convert("RGB"), dtype=float)
    before, after = pair[:, :script.SIZE[0]], pair[:, script.SIZE[0]:]
    assert np.abs(before - after).mean() > 20  # the right half is painted, not the input again
