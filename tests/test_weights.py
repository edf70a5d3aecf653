"""The weights registry: real files load; every way a file can be missing, damaged or wrong is explained."""
from __future__ import annotations

import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from transfer.backbones import vgg19_features
from weights import TorchvisionSource, Weights, WeightsError, WeightsSpec, fetch, load_state_dict, weights_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def file_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class LocalTorchvisionSource(TorchvisionSource):
    """The production source, pointed at a local URL instead of download.pytorch.org."""

    def __init__(self, url: str) -> None:
        super().__init__("VGG19_Weights.IMAGENET1K_V1", Weights.VGG19.spec.source.keep)
        object.__setattr__(self, "local_url", url)

    @property
    def url(self) -> str:
        return self.local_url


def official_vgg19_like(path_dir: Path, real_weights_dir: Path) -> str:
    """Write an 'official' VGG19 file (features.* for all layers plus a classifier) named like torchvision's."""
    real = torch.load(real_weights_dir / "vgg19_features_0_10.pth", weights_only=True)
    official = {f"features.{k}": v for k, v in real.items()}
    official["features.12.weight"] = torch.zeros(256, 256, 3, 3)
    official["classifier.0.weight"] = torch.zeros(8, 8)
    tmp = path_dir / "tmp.pth"
    torch.save(official, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    name = f"vgg19-{digest[:8]}.pth"
    tmp.rename(path_dir / name)
    return name


def test_real_vgg19_file_loads_through_the_registry(real_weights_dir):
    state = load_state_dict(Weights.VGG19, real_weights_dir, download=False)
    assert sorted(state) == sorted(f"{i}.{p}" for i in (0, 2, 5, 7, 10) for p in ("weight", "bias"))
    extractor = vgg19_features(real_weights_dir, download=False)
    assert torch.equal(extractor.body[0].weight, state["0.weight"])


def test_weights_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(tmp_path))
    assert weights_dir() == tmp_path.resolve()
    monkeypatch.delenv("STYLEBOT_WEIGHTS_DIR")
    assert weights_dir() == REPO / "weights"


def test_missing_file_says_which_file_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEBOT_OFFLINE", "1")
    with pytest.raises(WeightsError) as error:
        load_state_dict(Weights.VGG19, tmp_path)
    message = str(error.value)
    assert str(tmp_path / "vgg19_features_0_10.pth") in message
    assert "python -m weights fetch" in message and "download.pytorch.org" in message
    with pytest.raises(WeightsError, match="leftthomas/SRGAN"):
        load_state_dict(Weights.SRGAN_X4, tmp_path)


def test_failed_download_is_a_clear_error(tmp_path, file_server):
    _, base = file_server
    source = LocalTorchvisionSource(f"{base}/vgg19-00000000.pth")  # 404
    spec = Weights.VGG19.spec
    with pytest.raises(Exception) as error:
        source.fetch()
    assert "404" in str(error.value)
    with pytest.raises(WeightsError, match="Not downloaded: .*404"):
        fetch(replace(spec, source=source), tmp_path)


def local_spec(url: str) -> WeightsSpec:
    """The VGG19 entry with its source pointed at a local URL instead of download.pytorch.org."""
    return replace(Weights.VGG19.spec, source=LocalTorchvisionSource(url))


def test_download_checks_hash_trims_and_caches(tmp_path, file_server, real_weights_dir):
    root, base = file_server
    name = official_vgg19_like(root, real_weights_dir)
    cache = tmp_path / "cache"
    path = fetch(local_spec(f"{base}/{name}"), cache)
    assert path == cache / "vgg19_features_0_10.pth"
    trimmed = torch.load(path, weights_only=True)
    assert sorted(trimmed) == sorted(load_state_dict(Weights.VGG19, real_weights_dir))  # classifier, conv3_2 gone
    vgg19_features(cache, download=False)  # the cached file loads into the network
    assert not list(cache.glob("*.partial"))

    wrong = root / "vgg19-12345678.pth"
    shutil.copy(root / name, wrong)
    with pytest.raises(WeightsError, match="hash"):
        fetch(local_spec(f"{base}/{wrong.name}"), tmp_path / "other")


def test_damaged_files_are_explained(tmp_path):
    path = tmp_path / "vgg19_features_0_10.pth"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(WeightsError, match="damaged"):
        load_state_dict(Weights.VGG19, tmp_path, download=False)
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsError, match="not a plain state dict"):
        load_state_dict(Weights.VGG19, tmp_path, download=False)
    torch.save({"0.weight": nn.Linear(2, 2)}, path)  # a pickled module: refused by weights_only
    with pytest.raises(WeightsError, match="damaged"):
        load_state_dict(Weights.VGG19, tmp_path, download=False)


def test_mismatching_file_is_explained(tmp_path, real_weights_dir):
    state = torch.load(real_weights_dir / "vgg19_features_0_10.pth", weights_only=True)
    state["10.weight"] = state["10.weight"][:128]
    del state["0.bias"]
    state["extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "vgg19_features_0_10.pth")
    with pytest.raises(WeightsError) as error:
        vgg19_features(tmp_path, download=False)
    message = str(error.value)
    assert "missing: 0.bias" in message and "unexpected: extra" in message and "wrong shape: 10.weight" in message


def test_checksummed_file_with_other_content_is_refused(tmp_path, real_weights_dir):
    shutil.copy(real_weights_dir / "vgg19_features_0_10.pth", tmp_path / "srgan_netG_x4.pth")
    with pytest.raises(WeightsError, match="sha256 differs"):
        load_state_dict(Weights.SRGAN_X4, tmp_path, download=False)


def test_weights_command_lists_and_reports_missing(tmp_path, real_weights_dir):
    env = {"STYLEBOT_WEIGHTS_DIR": str(real_weights_dir), "PATH": "/usr/bin:/bin", "STYLEBOT_OFFLINE": "1"}
    listing = subprocess.run([sys.executable, "-m", "weights", "list"], cwd=REPO, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert "vgg19" in listing and "present" in listing and "resnet50" in listing and "missing" in listing
    env["STYLEBOT_WEIGHTS_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "weights", "fetch", "srgan_x4"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "srgan_netG_x4.pth" in done.stderr
