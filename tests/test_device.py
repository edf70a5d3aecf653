"""STYLEBOT_DEVICE: every engine computes where it names, and a device the host lacks is one clear error.

These tests run on the CPU (CI has no GPU). What a GPU changes is only where tensors live and how much is
computed at once; both are decided in `transfer.device`, which is tested here with torch's CUDA queries
replaced, and every engine is shown to read the setting (it refuses `cuda` on a host without one).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bots.common.config import BotConfig, ConfigError
from superres.srgan import srgan_x4
from superres.upscaler import DEFAULT_TILE, GPU_MAX_TILE, Upscaler
from transfer import StyleTransfer
from transfer.device import DEVICE_SETTING, DeviceError, check_device_name, compute_device, gpu_budget, share_gpu, sized
from transfer.instant import MAX_PIXELS, InstantStylizer
from transfer.strips import GPU_MAX_STRIP_PIXELS, STRIP_PIXELS, device_strip_pixels
from transfer.universal import ONE_PASS_PIXELS, UniversalStylizer

REPO = Path(__file__).resolve().parents[1]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a host without a CUDA GPU")
GB = 1 << 30


@pytest.fixture
def fake_gpu(monkeypatch):
    """torch's CUDA queries answering as a host with two GPUs, `free` bytes free on each."""
    state = {"free": 8 * GB}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (state["free"], 80 * GB))
    yield state
    share_gpu(1)


@pytest.mark.parametrize("name, expected", [("auto", "auto"), (" CPU ", "cpu"), ("cuda", "cuda"), ("cuda:1", "cuda:1")])
def test_device_names_are_normalised(name, expected):
    assert check_device_name(name) == expected


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "mps", "cpu:0", ""])
def test_other_names_are_refused_with_the_choices(name):
    with pytest.raises(DeviceError, match="auto, cpu, cuda or cuda:N"):
        check_device_name(name)


def test_auto_is_the_cpu_without_a_gpu_and_the_current_gpu_with_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert compute_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert compute_device("auto") == torch.device("cuda", 0)
    assert compute_device("cpu") == torch.device("cpu")


def test_the_setting_is_read_when_no_name_is_given(monkeypatch, fake_gpu):
    monkeypatch.setenv(DEVICE_SETTING, "cuda:1")
    assert compute_device() == torch.device("cuda", 1)
    monkeypatch.setenv(DEVICE_SETTING, "cpu")
    assert compute_device() == torch.device("cpu")
    monkeypatch.delenv(DEVICE_SETTING)
    assert compute_device() == torch.device("cuda", 0)  # auto


def test_a_gpu_the_host_lacks_is_a_clear_error(monkeypatch, fake_gpu):
    with pytest.raises(DeviceError, match="has 2 CUDA GPU.*numbered 0 to 1"):
        compute_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=f"sees no CUDA GPU.*set {DEVICE_SETTING}=cpu or auto"):
        compute_device("cuda")


def test_sizes_stay_the_cpus_on_the_cpu_and_grow_with_a_gpus_free_memory(fake_gpu):
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert gpu_budget(cpu) is None and device_strip_pixels(cpu) == STRIP_PIXELS
    fake_gpu["free"] = 8 * GB
    big = device_strip_pixels(gpu)
    assert STRIP_PIXELS < big <= GPU_MAX_STRIP_PIXELS
    share_gpu(3)  # three workers on the GPU: each plans for a third
    assert gpu_budget(gpu) == 8 * GB // 2 // 3 and device_strip_pixels(gpu) < big
    fake_gpu["free"] = 64 * GB
    share_gpu(1)
    assert device_strip_pixels(gpu) == GPU_MAX_STRIP_PIXELS
    fake_gpu["free"] = 100 * 2**20  # a nearly full GPU: never below the CPU's sizes
    assert device_strip_pixels(gpu) == STRIP_PIXELS
    assert sized(10, None, 1.0, 100) == 10 and sized(10, 50, 1.0, 100) == 50 and sized(10, 500, 1.0, 100) == 100


def test_engines_on_the_cpu_keep_the_cpu_sizes(real_weights_dir):
    assert UniversalStylizer(real_weights_dir, device="cpu").one_pass_pixels == ONE_PASS_PIXELS
    assert InstantStylizer(real_weights_dir, device="cpu").max_pixels == MAX_PIXELS
    upscaler = Upscaler(srgan_x4(real_weights_dir, device="cpu"))
    assert upscaler.tile == DEFAULT_TILE < GPU_MAX_TILE and upscaler.device == torch.device("cpu")


@NO_GPU
@pytest.mark.parametrize("engine", ["vgg19", "resnet50", "instant", "universal", "srgan"])
def test_every_engine_reads_the_setting(engine, monkeypatch, random_resnet_weights_dir):
    """On a host without a GPU, STYLEBOT_DEVICE=cuda makes each engine refuse to load, naming the setting."""
    monkeypatch.setenv(DEVICE_SETTING, "cuda")
    load = {"vgg19": StyleTransfer.vgg19, "resnet50": StyleTransfer.resnet50, "instant": InstantStylizer,
            "universal": UniversalStylizer, "srgan": srgan_x4}[engine]
    with pytest.raises(DeviceError, match=DEVICE_SETTING):
        load(random_resnet_weights_dir)


def test_the_bot_refuses_a_malformed_device_setting():
    with pytest.raises(ConfigError, match=f"{DEVICE_SETTING} must be auto, cpu, cuda or cuda:N"):
        BotConfig.from_env({"BOT_TOKEN": "1:abc", DEVICE_SETTING: "gpu0"})
    assert BotConfig.from_env({"BOT_TOKEN": "1:abc", DEVICE_SETTING: "CUDA:1"}).device == "cuda:1"
    assert BotConfig.from_env({"BOT_TOKEN": "1:abc"}).device == "auto"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


@NO_GPU
def test_the_command_lines_say_so_in_one_line(tmp_path, images_dir, real_weights_dir):
    photo, painting = images_dir / "content" / "chelsea.jpg", images_dir / "style" / "candy.jpg"
    weights = {"STYLEBOT_WEIGHTS_DIR": str(real_weights_dir)}
    for args, env in [(["-m", "transfer", photo, painting, "--quick", "-o", tmp_path / "a.png"],
                       {DEVICE_SETTING: "cuda"}),
                      (["-m", "transfer", photo, "--instant", "wave", "-o", tmp_path / "b.png", "--device", "cuda:0"],
                       {}),
                      (["-m", "transfer", photo, painting, "-o", tmp_path / "c.png", "--device", "tpu"], {}),
                      (["-m", "superres", photo, "-o", tmp_path / "d.png", "--device", "cuda"], {})]:
        done = _run([str(a) for a in args], {**weights, **env}, REPO)
        assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert DEVICE_SETTING in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


@NO_GPU
def test_the_bot_stops_with_one_line_when_its_gpu_is_missing(tmp_path, real_weights_dir):
    done = _run([str(REPO / "run_vgg.py")], {"BOT_TOKEN": "1:abc", "STYLEBOT_WEIGHTS_DIR": str(real_weights_dir),
                                             DEVICE_SETTING: "cuda"}, tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "sees no CUDA GPU" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
