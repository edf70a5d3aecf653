"""Shared fixtures: the real weights and images from ../shared, reached through settings, never copied."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from redis_server import redis_server  # noqa: F401 - the session's real redis-server, for the store's tests

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _setting_dir(name: str, default: Path) -> Path:
    path = Path(os.environ.get(name, default)).expanduser().resolve()
    if not path.is_dir():
        pytest.exit(f"{name}={path} is not a folder: the tests need the real weights and images "
                    f"(see README, 'Running the tests')", returncode=2)
    return path


@pytest.fixture(scope="session")
def real_weights_dir() -> Path:
    """The folder with the real pretrained weights (STYLEBOT_WEIGHTS_DIR, default ../shared/weights)."""
    return _setting_dir("STYLEBOT_WEIGHTS_DIR", SHARED / "weights")


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """Real photos and paintings (STYLEBOT_IMAGES_DIR, default ../shared/images)."""
    return _setting_dir("STYLEBOT_IMAGES_DIR", SHARED / "images")


# ---- bots: the fake Bot API server and the real engines, loaded once per session -----------------------
@pytest.fixture
def fake_api():
    """A fake Telegram Bot API server on 127.0.0.1, installed into telebot for the test."""
    from fake_bot_api import fake_api_fixture

    yield from fake_api_fixture()


@pytest.fixture(scope="session")
def random_resnet_weights_dir(tmp_path_factory: pytest.TempPathFactory, real_weights_dir: Path) -> Path:
    """A weights folder with RANDOM ResNet50 weights (no ImageNet ResNet50 file exists offline) and links
    to every other real file (VGG19, SRGAN, the instant styles): ResNet results in tests are not
    paintings, only pictures."""
    from bench.random_weights import write_random_resnet50
    from weights import Weights

    folder = tmp_path_factory.mktemp("weights-random-resnet50")
    write_random_resnet50(folder)
    for weights in Weights:
        if weights is not Weights.RESNET50:
            link = folder / weights.spec.filename
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(real_weights_dir / weights.spec.filename)
    return folder


@pytest.fixture(scope="session")
def bot_engines(random_resnet_weights_dir: Path):
    """Every engine the bots use, loaded once: real VGG19, RANDOM-weight ResNet50, real SRGAN x4, the
    real instant styles."""
    from bots.jobs.engines import Backbone, load_engines

    return load_engines((Backbone.VGG19, Backbone.RESNET50), True, random_resnet_weights_dir)


@pytest.fixture(scope="module")
def one_compute_thread():
    """Bot tests run engines on one CPU thread: on this shared 2-core machine torch's default (a thread
    per core) is oversubscribed and runs several times slower and far less steadily. Restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def start_bot(fake_api, bot_engines, tmp_path: Path):
    """Start a bot class against the fake server (tiny sizes, see bot_harness.bot_config); stopped after."""
    from bot_harness import BotUnderTest, engines_for

    running = []

    def start(bot_class, engines=None, worker_processes=False, **overrides):
        """`worker_processes`: compute in the bot's own supervised worker processes, as in production
        (each loads its networks: seconds), instead of in-process with the session's engines."""
        if not worker_processes:
            engines = engines or engines_for(bot_class, bot_engines)
        bot = BotUnderTest.start(bot_class, fake_api, engines, tmp_path / "jobs", **overrides)
        running.append(bot)
        return bot

    def restart(bot):
        again = bot.restart()
        running.append(again)
        return again

    start.restart = restart
    yield start
    for bot in running:
        bot.stop()


# ---- weights downloads: a local HTTP server stands in for the pinned raw URLs ------------------------
@pytest.fixture
def blob_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server: files[path] is served at base_url + path; anything else is a 404."""
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()
    thread.join()
