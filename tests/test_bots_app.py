"""Settings from the environment and the run scripts as a user starts them: one-line errors, .env,
a bot that answers through TELEGRAM_API_URL, graceful SIGTERM, and a token that never reaches the logs."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from telebot import apihelper

from bench.soak import ask_for_painting
from bot_harness import photo_bytes
from bots import BotConfig, ConfigError
from bots.app import RedactingFormatter
from bots.botapi.client import use_api_server
from bots.common.config import PUBLIC_DOWNLOAD_LIMIT
from bots.common.settings import PHOTO_SIZE, UserSettings
from bots.store import JobStatus
from bots.store.sqlite import SqliteStore
from fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[1]
TOKEN = "4242:SECRET-token-never-logged"


def test_settings_from_the_environment() -> None:
    config = BotConfig.from_env({"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://localhost:8081/",
                                 "STYLEBOT_WORKERS": "2", "STYLEBOT_QUEUE_LIMIT": "7", "STYLEBOT_SIZES": "512, 256",
                                 "STYLEBOT_SIZE": "256", "STYLEBOT_STEPS": "50", "STYLEBOT_PROGRESS_INTERVAL": "1.5",
                                 "STYLEBOT_UPDATE_THREADS": "3", "STYLEBOT_COMPUTE_THREADS": "2",
                                 "STYLEBOT_STRIP_PIXELS": "16384", "STYLEBOT_WEIGHTS_DIR": "/srv/weights",
                                 "STYLEBOT_TMP_DIR": "/srv/tmp", "LOG_LEVEL": "debug", "STYLEBOT_DATA_DIR": "/srv/data",
                                 "STYLEBOT_RESULT_DAYS": "2.5", "STYLEBOT_JOBS_PER_HOUR": "12",
                                 "STYLEBOT_ADMINS": "11, 22", "STYLEBOT_DELIVERY_PATIENCE": "90",
                                 "STYLEBOT_TELEGRAM_TIMEOUT": "20", "STYLEBOT_INSTANT_WAIT_LIMIT": "45",
                                 "STYLEBOT_TRANSFER_WAIT_LIMIT": "600.5", "STYLEBOT_MAX_SIDE": "1600",
                                 "STYLEBOT_UPSCALE_MAX_SIDE": "3000"})
    assert (config.instant_wait_limit, config.transfer_wait_limit) == (45.0, 600.5)
    assert (config.max_side, config.upscale_max_side) == (1600, 3000)
    assert (config.api_url, config.workers, config.queue_limit, config.sizes, config.default_size, config.steps,
            config.progress_interval, config.update_threads, config.compute_threads, config.weights_dir,
            config.strip_pixels, config.temp_dir, config.log_level, config.data_dir, config.result_days,
            config.jobs_per_hour, config.admins, config.delivery_patience, config.telegram_timeout) == (
        "http://localhost:8081", 2, 7, (256, 512), 256, 50, 1.5, 3, 2, Path("/srv/weights"), 16384, Path("/srv/tmp"),
        "DEBUG", Path("/srv/data"), 2.5, 12, frozenset({11, 22}), 90.0, 20.0)
    assert config.download_limit > PUBLIC_DOWNLOAD_LIMIT  # a self-hosted server lifts the 20 MB limit
    assert TOKEN not in repr(config)

    defaults = BotConfig.from_env({"BOT_TOKEN": TOKEN})
    assert (defaults.api_url, defaults.workers, defaults.queue_limit, defaults.default_size, defaults.steps,
            defaults.progress_interval, defaults.download_limit, defaults.strip_pixels, defaults.data_dir,
            defaults.temp_dir, defaults.result_days, defaults.jobs_per_hour, defaults.admins) == (
        None, 1, 500, PHOTO_SIZE, None, 3.0, PUBLIC_DOWNLOAD_LIMIT, None, Path("data"), Path("data/tmp"), 7.0, 30,
        frozenset())  # strips: sized to the memory limit (bots.common.budget)
    # results at the photo's own size, up to 2048 px; /settings also offers smaller ones; x4 up to 4096 px
    assert (defaults.sizes, defaults.max_side, defaults.upscale_max_side) == ((512, 1024), 2048, 4096)
    assert BotConfig.from_env({"BOT_TOKEN": TOKEN, "STYLEBOT_SIZE": "photo"}).default_size == PHOTO_SIZE
    assert BotConfig.from_env({"BOT_TOKEN": TOKEN, "STYLEBOT_MAX_SIDE": "800"}).sizes == (512,)
    assert (defaults.instant_wait_limit, defaults.transfer_wait_limit) == (120.0, 1800.0)


@pytest.mark.parametrize("env, names", [
    ({}, "BOT_TOKEN is not set"),
    ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN does not look like"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_WORKERS": "two"}, "STYLEBOT_WORKERS must be a whole number"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_WORKERS": "0"}, "STYLEBOT_WORKERS must be at least 1"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_SIZES": "big"}, "STYLEBOT_SIZES must be"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_SIZES": "512,4096"}, "each from 32 to STYLEBOT_MAX_SIDE (2048) px"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_MAX_SIDE": "3000"}, "STYLEBOT_MAX_SIDE must be at most 2560 px"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_SIZE": "1600", "STYLEBOT_MAX_SIDE": "1024"}, "STYLEBOT_SIZE must be at most"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_UPSCALE_MAX_SIDE": "big"}, "STYLEBOT_UPSCALE_MAX_SIDE must be a whole number"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_PROGRESS_INTERVAL": "soon"}, "STYLEBOT_PROGRESS_INTERVAL must be a number"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_INSTANT_WAIT_LIMIT": "2 min"}, "STYLEBOT_INSTANT_WAIT_LIMIT must be a number"),
    ({"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL must start with http"),
    ({"BOT_TOKEN": TOKEN, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_STRIP_PIXELS": "100"}, "STYLEBOT_STRIP_PIXELS must be at least 4096"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_ADMINS": "me"}, "STYLEBOT_ADMINS must be comma-separated"),
    ({"BOT_TOKEN": TOKEN, "STYLEBOT_JOBS_PER_HOUR": "-1"}, "STYLEBOT_JOBS_PER_HOUR must be at least 0"),
])
def test_bad_settings_give_one_line_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as error:
        BotConfig.from_env(env)
    assert names in str(error.value) and "\n" not in str(error.value) and TOKEN not in str(error.value)


def test_api_server_url_format() -> None:
    saved = apihelper.API_URL, apihelper.FILE_URL
    try:
        use_api_server("http://127.0.0.1:8081")
        assert apihelper.API_URL.format("T", "getMe") == "http://127.0.0.1:8081/botT/getMe"
        assert apihelper.FILE_URL.format("T", "photos/a.jpg") == "http://127.0.0.1:8081/file/botT/photos/a.jpg"
    finally:
        apihelper.API_URL, apihelper.FILE_URL = saved


def test_log_lines_never_show_the_token() -> None:
    record = logging.LogRecord("urllib3", logging.DEBUG, __file__, 1, "POST /bot%s/getUpdates failed", (TOKEN,), None)
    assert RedactingFormatter(TOKEN, "%(message)s").format(record) == "POST /bot<BOT_TOKEN>/getUpdates failed"


def _run_script(script: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    return subprocess.run([sys.executable, str(REPO / script)], cwd=cwd, env={**clean, **env}, capture_output=True,
                          text=True, timeout=timeout)


def test_missing_token_is_one_line_on_stderr(tmp_path: Path) -> None:
    done = _run_script("run_vgg.py", {}, tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: BOT_TOKEN is not set")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_missing_weights_file_is_one_line_on_stderr(tmp_path: Path, random_resnet_weights_dir: Path) -> None:
    """The x4 network's file is missing and downloads are off (STYLEBOT_OFFLINE): one line names it."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("vgg19_features_0_10.pth", "resnet50_stem_layer2_0.pth", "fast_style", "wct"):
        (weights / name).symlink_to((random_resnet_weights_dir / name).resolve())
    done = _run_script("run_full.py", {"BOT_TOKEN": TOKEN, "STYLEBOT_WEIGHTS_DIR": str(weights),
                                       "STYLEBOT_OFFLINE": "1"}, tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "sr/realesr_general_x4v3.pth" in errors[0]
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


def test_run_script_with_dotenv_answers_then_stops_on_sigterm(tmp_path: Path, real_weights_dir: Path,
                                                             fake_api: FakeBotApi) -> None:
    """run_vgg.py reads BOT_TOKEN and TELEGRAM_API_URL from .env, answers a user through the fake server,
    and on SIGTERM stops its workers and exits 0, leaving the running job in the journal (the next start
    resumes it: tests/test_bots_reliability.py) rather than telling its user to send it again; DEBUG logs
    never show the token."""
    fake_api.token = TOKEN
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TOKEN}\nTELEGRAM_API_URL=http://127.0.0.1:{fake_api.port}\n")
    env = {"STYLEBOT_WEIGHTS_DIR": str(real_weights_dir), "STYLEBOT_STEPS": "100000", "STYLEBOT_SIZES": "64",
           "STYLEBOT_SIZE": "64", "STYLEBOT_COMPUTE_THREADS": "1", "LOG_LEVEL": "DEBUG"}
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    process = subprocess.Popen([sys.executable, str(REPO / "run_vgg.py")], cwd=tmp_path, env={**clean, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake_api.send_text(5, "/help")
        fake_api.wait_for_message(5, "I repaint your photo", timeout=60)
        ask_for_painting(fake_api, 5, photo_bytes(), "style:waves")
        fake_api.wait_for_message(5, "🎨 Painting with VGG19", timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert fake_api.messages(5)[-1]["text"].startswith("🎨 Painting with VGG19"), "nobody is told to resend"
    with SqliteStore.open(tmp_path / "data", UserSettings()) as store:
        assert [job.status for job in store.journal.unfinished()] == [JobStatus.RUNNING]
    assert "getUpdates" in stderr and TOKEN not in stderr and "<BOT_TOKEN>" in stderr
    assert "Traceback" not in stderr
