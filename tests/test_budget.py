"""bots.common.budget: the memory limit from the setting or the cgroup, and the strip and tile sizes that fit it."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from bots.common.budget import SAFETY_MARGIN, STRIP_PEAK_MB, TILE_PEAK_MB, JobSizes, job_sizes
from bots.common.config import ConfigError, memory_limit

MB = 1 << 20
REPO = Path(__file__).resolve().parents[1]


def cgroup_v2(root: Path, value: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory.max").write_text(value + "\n")
    return root


def cgroup_v1(root: Path, value: str) -> Path:
    (root / "memory").mkdir(parents=True, exist_ok=True)
    (root / "memory" / "memory.limit_in_bytes").write_text(value + "\n")
    return root


# ---- memory_limit ---------------------------------------------------------------------------------------
def test_cgroup_v2_limit(tmp_path):
    assert memory_limit({}, cgroup_v2(tmp_path, "2147483648")) == 2 * 1024 * MB


def test_cgroup_v2_max_means_no_limit(tmp_path):
    assert memory_limit({}, cgroup_v2(tmp_path, "max")) is None


def test_cgroup_v1_limit_and_its_huge_no_limit(tmp_path):
    assert memory_limit({}, cgroup_v1(tmp_path / "a", "1073741824")) == 1024 * MB
    assert memory_limit({}, cgroup_v1(tmp_path / "b", "9223372036854771712")) is None


def test_cgroup_v2_wins_over_v1(tmp_path):
    root = cgroup_v1(cgroup_v2(tmp_path, "1073741824"), "9223372036854771712")
    assert memory_limit({}, root) == 1024 * MB


def test_no_cgroup_means_no_limit(tmp_path):
    assert memory_limit({}, tmp_path) is None
    assert memory_limit({}, tmp_path / "missing") is None
    assert memory_limit({}, cgroup_v2(tmp_path / "odd", "garbage")) is None  # an odd kernel file: no limit


def test_the_setting_wins_over_the_cgroup(tmp_path):
    root = cgroup_v2(tmp_path, "1073741824")
    assert memory_limit({"STYLEBOT_MEMORY_LIMIT": "3000"}, root) == 3000 * MB
    assert memory_limit({"STYLEBOT_MEMORY_LIMIT": " 256 "}, tmp_path / "none") == 256 * MB
    assert memory_limit({"STYLEBOT_MEMORY_LIMIT": ""}, root) == 1024 * MB  # empty: unset


@pytest.mark.parametrize("value", ["2G", "1.5", "-1", "255", "0", "lots"])
def test_a_malformed_setting_is_a_one_line_config_error(value, tmp_path):
    with pytest.raises(ConfigError) as caught:
        memory_limit({"STYLEBOT_MEMORY_LIMIT": value}, tmp_path)
    message = str(caught.value)
    assert "STYLEBOT_MEMORY_LIMIT" in message and repr(value) in message and "\n" not in message


def test_the_module_does_not_import_torch():
    code = "import sys, bots.common.budget; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# ---- job_sizes ------------------------------------------------------------------------------------------
def test_no_limit_keeps_the_fastest_sizes_which_are_the_engines_defaults():
    from superres.upscaler import COMPACT_TILE
    from transfer.presets import STRIP_PIXELS

    assert job_sizes(None, job_slots=3, reserved=10**12) == JobSizes(strip_pixels=65536, tile=320)
    assert (STRIP_PIXELS, COMPACT_TILE) == (65536, 320)
    assert list(STRIP_PEAK_MB) == [65536, 16384, 8192, 4096]
    assert list(TILE_PEAK_MB) == [320, 192, 128, 64]


def test_a_big_budget_gets_the_fastest_sizes():
    assert job_sizes(16 * 1024 * MB, job_slots=2, reserved=2 * 1024 * MB) == JobSizes(65536, 320)
    assert job_sizes(1000 * MB, job_slots=1, reserved=100 * MB) == JobSizes(65536, 320)  # 900 MB a job


def test_500_mb_a_job_gets_8192_pixel_strips_which_fit_it():
    for spare in (500 * MB, 500_000_000):  # either reading of "500 MB"
        sizes = job_sizes(1024 * MB + spare, job_slots=1, reserved=1024 * MB)
        assert sizes.strip_pixels == 8192  # measured at about 400 MB for a 512 px job
        assert STRIP_PEAK_MB[8192] * (1 + SAFETY_MARGIN) * MB <= spare
        assert sizes.tile == 320 and TILE_PEAK_MB[320] * MB < spare
    # the budget is shared between the job slots
    assert job_sizes(1024 * MB + 2 * 500 * MB, job_slots=2, reserved=1024 * MB).strip_pixels == 8192
    # 250 MB a job: x4 and the carrying to the photo's size in smaller tiles (128 px: 215 MB measured)
    assert job_sizes(1024 * MB + 250 * MB, job_slots=1, reserved=1024 * MB).tile == 128


def test_nothing_fits_gives_the_sizes_with_the_smallest_peak():
    # 4096-pixel strips peak like 8192 ones (measured), only slower: 8192 is the smallest worth choosing
    assert STRIP_PEAK_MB[4096] >= STRIP_PEAK_MB[8192]
    assert job_sizes(512 * MB, job_slots=1, reserved=500 * MB) == JobSizes(8192, 64)
    assert job_sizes(512 * MB, job_slots=4, reserved=1024 * MB) == JobSizes(8192, 64)  # overcommitted


def test_each_size_is_chosen_from_the_byte_where_its_peak_and_margin_fit():
    for table, field in ((STRIP_PEAK_MB, "strip_pixels"), (TILE_PEAK_MB, "tile")):
        for size, peak in table.items():
            expected = max(s for s, p in table.items() if p <= peak)  # of equal peaks the larger size
            need = math.ceil(peak * (1 + SAFETY_MARGIN) * MB)
            assert getattr(job_sizes(need, job_slots=1, reserved=0), field) == expected
            if peak > min(table.values()):
                assert getattr(job_sizes(need - 1, job_slots=1, reserved=0), field) < expected


def test_more_memory_never_means_smaller_work_and_more_slots_never_bigger():
    previous = JobSizes(0, 0)
    for megabytes in range(0, 2001, 5):
        sizes = job_sizes(megabytes * MB, job_slots=1, reserved=0)
        assert sizes.strip_pixels >= previous.strip_pixels and sizes.tile >= previous.tile
        previous = sizes
    assert previous == JobSizes(65536, 320)
    for limit in (1500 * MB, 3000 * MB, 6000 * MB):
        by_slots = [job_sizes(limit, slots, 256 * MB) for slots in range(1, 9)]
        assert all(a.strip_pixels >= b.strip_pixels and a.tile >= b.tile for a, b in zip(by_slots, by_slots[1:]))


def test_job_slots_must_be_positive():
    with pytest.raises(ValueError, match="job_slots"):
        job_sizes(1024 * MB, job_slots=0, reserved=0)
