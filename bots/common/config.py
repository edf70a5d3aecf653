"""Bot settings, read once at start from the environment (and `.env`), so a bad one fails before polling.

Every setting is documented in the README (section "Bots"). Errors are `ConfigError`s whose message is
one line naming the variable; the token itself never appears in any message.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bots.common.budget import MB, cgroup_memory_limit
from bots.common.settings import PHOTO_SIZE
from transfer.device import DEVICE_SETTING, DeviceError, check_device_name
from transfer.precision import PRECISION_SETTING, PrecisionError, check_precision_name

__all__ = ["BotConfig", "ConfigError", "PUBLIC_DOWNLOAD_LIMIT", "SELF_HOSTED_DOWNLOAD_LIMIT", "memory_limit"]

PUBLIC_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files on api.telegram.org
SELF_HOSTED_DOWNLOAD_LIMIT = 2000 * 1024 * 1024  # a local Bot API server's own ceiling
DEFAULT_SIZES = (512, 1024)  # offered in /settings besides the photo's own size
MIN_STRIP_PIXELS = 4096  # smaller strips are mostly halo: much slower for little memory saved
TELEGRAM_PHOTO_SIDE = 2560  # results are sent as photos: Telegram keeps and shows at most 2560 px
DEFAULT_MAX_SIDE = 2048
DEFAULT_UPSCALE_MAX_SIDE = 4096  # a x4 result's long side at most: 4096 px is a 48 MB RGB picture
DEFAULT_LISTEN = ("0.0.0.0", 8443)  # where the webhook's HTTP server binds, behind the TLS proxy
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook's secret_token
MEMORY_LIMIT_SETTING = "STYLEBOT_MEMORY_LIMIT"
# A working job's worker beats at every cancel check (each Gatys strip, upscaler tile, network pass) and
# every second of a delivery's backoff; the longest silence is then one Bot API call (up to
# STYLEBOT_TELEGRAM_TIMEOUT, 60 s, plus connecting) or one strip of a slow CPU (seconds): 150 s leaves
# more than twice the longest.
DEFAULT_STALL_AFTER = 150.0
MIN_MEMORY_LIMIT_MB = 256  # below it not even the import baselines fit: surely a typo (bytes? GB?)


Number = TypeVar("Number", int, float)


class ConfigError(ValueError):
    """A missing or malformed setting; the message names the variable and what to put there."""


def _number(env: Mapping[str, str], name: str, default: Number, minimum: Number,
            kind: type[Number] = int) -> Number:
    """The setting `name` as a `kind` (int or float) of at least `minimum`, or `default` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {noun}, not {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _sizes(env: Mapping[str, str], max_side: int) -> tuple[int, ...]:
    text = env.get("STYLEBOT_SIZES", "").strip()
    if not text:
        return tuple(size for size in DEFAULT_SIZES if size < max_side)
    try:
        sizes = tuple(sorted({int(part) for part in text.replace(" ", "").split(",") if part}))
    except ValueError:
        raise ConfigError(f"STYLEBOT_SIZES must be comma-separated pixel sizes such as 256,384,512, "
                          f"not {text!r}") from None
    if not sizes or sizes[0] < 32 or sizes[-1] > max_side:
        raise ConfigError(f"STYLEBOT_SIZES needs at least one size, each from 32 to STYLEBOT_MAX_SIDE ({max_side}) px")
    return sizes


def _video_side(env: Mapping[str, str]) -> int:
    """STYLEBOT_VIDEO_SIDE: 64 to 1280 px (what a phone plays well; a video note is at most 640 px anyway)."""
    side = _number(env, "STYLEBOT_VIDEO_SIDE", 480, 64)
    if side > 1280:
        raise ConfigError(f"STYLEBOT_VIDEO_SIDE must be at most 1280 px, not {side}")
    return side


def _default_size(env: Mapping[str, str], max_side: int) -> int:
    """STYLEBOT_SIZE: "photo" (the default: the photo's own size) or a long side in px."""
    text = env.get("STYLEBOT_SIZE", "").strip().lower()
    if text in ("", "photo"):
        return PHOTO_SIZE
    size = _number(env, "STYLEBOT_SIZE", PHOTO_SIZE, 32)
    if size > max_side:
        raise ConfigError(f"STYLEBOT_SIZE must be at most STYLEBOT_MAX_SIDE ({max_side}) px, not {size}")
    return size


def _admins(env: Mapping[str, str]) -> frozenset[int]:
    text = env.get("STYLEBOT_ADMINS", "").strip()
    try:
        return frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"STYLEBOT_ADMINS must be comma-separated Telegram user ids such as 12345,67890, "
                          f"not {text!r}") from None


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = env.get("STYLEBOT_REDIS_URL", "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("STYLEBOT_REDIS_URL must start with redis://, rediss:// or unix:// "
                          "(e.g. redis://localhost:6379/0)")
    return url or None


def memory_limit(env: Mapping[str, str] = os.environ, cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The bytes this host or container may use, or None when no limit is known: the setting
    `STYLEBOT_MEMORY_LIMIT` (whole MB, at least 256), else the cgroup's limit under `cgroup_root`
    (`bots.common.budget.cgroup_memory_limit`). A malformed setting raises `ConfigError`."""
    text = env.get(MEMORY_LIMIT_SETTING, "").strip()
    if not text:
        return cgroup_memory_limit(cgroup_root)
    try:
        megabytes = int(text)
    except ValueError:
        megabytes = None
    if megabytes is None or megabytes < MIN_MEMORY_LIMIT_MB:
        raise ConfigError(f"{MEMORY_LIMIT_SETTING} must be a whole number of megabytes, at least "
                          f"{MIN_MEMORY_LIMIT_MB} (such as 2048), not {text!r}")
    return megabytes * MB


def _device(env: Mapping[str, str]) -> str:
    try:
        return check_device_name(env.get(DEVICE_SETTING, "").strip() or "auto")
    except DeviceError as exc:
        raise ConfigError(str(exc)) from None


def _precision(env: Mapping[str, str]) -> str:
    try:
        return check_precision_name(env.get(PRECISION_SETTING, "").strip() or "auto")
    except PrecisionError as exc:
        raise ConfigError(str(exc)) from None


def _listen(text: str, name: str = "STYLEBOT_WEBHOOK_LISTEN") -> tuple[str, int]:
    """The setting `name`'s host:port as (host, port); an IPv6 host in brackets, e.g. [::]:8443."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() for c in host) or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be host:port such as 0.0.0.0:8443 or [::]:8443, not {text!r}")
    return host, int(port)


def _webhook(env: Mapping[str, str]) -> tuple[str | None, str | None, tuple[str, int]]:
    """(url, secret, listen address); no URL: long polling, and the secret is not used. Neither the URL (it
    could hold the token) nor the secret is ever quoted in an error."""
    url = env.get("STYLEBOT_WEBHOOK_URL", "").strip() or None
    secret = env.get("STYLEBOT_WEBHOOK_SECRET", "").strip() or None
    listen_text = env.get("STYLEBOT_WEBHOOK_LISTEN", "").strip()
    listen = _listen(listen_text) if listen_text else DEFAULT_LISTEN
    if url is None:
        return None, None, listen
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError("STYLEBOT_WEBHOOK_URL must be the public https:// address Telegram posts updates to, "
                          "such as https://bot.example.com/telegram")
    if secret is None:
        raise ConfigError("STYLEBOT_WEBHOOK_SECRET is required with STYLEBOT_WEBHOOK_URL: 1 to 256 characters of "
                          "A-Z, a-z, 0-9, _ and -, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if not WEBHOOK_SECRET.fullmatch(secret):
        raise ConfigError("STYLEBOT_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - "
                          "(Telegram refuses others)")
    return url, secret, listen


def _token(env: Mapping[str, str]) -> str:
    token = env.get("BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError("BOT_TOKEN is not set: put the token from @BotFather in the environment "
                          "or in a .env file (BOT_TOKEN=123456:ABC...)")
    bot_id, _, secret = token.partition(":")
    if not bot_id.isdigit() or not secret:
        raise ConfigError("BOT_TOKEN does not look like a bot token (expected digits, a colon, then the "
                          "secret, as @BotFather gives it)")
    return token


@dataclass(frozen=True)
class BotConfig:
    """How a bot runs: its token, the Bot API server, the job queue and the transfer defaults."""

    token: str = field(repr=False)  # never in logs or reprs
    api_url: str | None = None  # self-hosted Bot API server, e.g. http://localhost:8081; None: Telegram's
    workers: int = 1  # jobs computed at the same time
    queue_limit: int = 500  # jobs waiting (not running) in a lane at most: a memory guard; more are refused
    instant_wait_limit: float = 120.0  # seconds a new instant job or quick version may expect to wait
    transfer_wait_limit: float = 1800.0  # seconds a new full painting or upscale may expect to wait
    sizes: tuple[int, ...] = DEFAULT_SIZES  # long-side choices offered in /settings besides the photo's own
    default_size: int = PHOTO_SIZE  # a new user's size: PHOTO_SIZE (the photo's own, up to max_side) or px
    max_side: int = DEFAULT_MAX_SIDE  # the long side of any result at most (Telegram keeps 2560 px)
    upscale_max_side: int = DEFAULT_UPSCALE_MAX_SIDE  # the long side of a x4 result at most
    video_seconds: float = 15.0  # the longest clip (GIF, video, video note) painted
    video_frames: int = 360  # frames painted at most: a longer clip keeps every n-th frame, its duration kept
    video_side: int = 480  # a clip's frames are painted with their long side at most this, in px
    steps: int | None = None  # optimisation steps per transfer; None: each backbone's preset
    progress_interval: float = 3.0  # seconds between two edits of a progress message
    update_threads: int = 4  # threads answering chat updates (commands, buttons, photo checks)
    compute_threads: int | None = None  # CPU threads per running job; None: torch's default (all cores)
    strip_pixels: int | None = None  # pixels a style job computes at once; None: from the memory limit
    weights_dir: Path | None = None  # None: STYLEBOT_WEIGHTS_DIR or the weights package
    data_dir: Path = Path("data")  # the database (settings, conversations, results, job journal)
    temp_dir: Path | None = None  # private folder of the jobs' files; None: `tmp` in the data folder
    result_days: float = 7.0  # how long the buttons under a result keep working
    jobs_per_hour: int = 30  # per user (0: no limit)
    admins: frozenset[int] = frozenset()  # Telegram user ids that get /stats
    delivery_patience: float = 300.0  # seconds a result's delivery is retried through Telegram's errors
    telegram_timeout: float = 60.0  # seconds to wait for an answer to one Bot API call
    memory_limit: int | None = None  # bytes the bot may use (setting, else cgroup); sizes Gatys strips and tiles
    device: str = "auto"  # where the workers compute: auto (a CUDA GPU if torch sees one), cpu, cuda, cuda:N
    precision: str = "auto"  # what the networks compute in: auto (bfloat16 where native), float32, bfloat16
    redis_url: str | None = field(default=None, repr=False)  # distributed mode; None: one host (may hold a password)
    redeliver_after: float = 3600.0  # seconds before a lost worker's job goes to another (distributed mode)
    stall_after: float = DEFAULT_STALL_AFTER  # seconds without a heartbeat before a job's worker is killed
    deadline_factor: float = 4.0  # a running job is killed past this multiple of its estimate...
    deadline_min: float = 600.0  # ...or past these seconds, whichever is later
    webhook_url: str | None = None  # public https:// address Telegram posts updates to; None: long polling
    webhook_secret: str | None = field(default=None, repr=False)  # Telegram sends it back in a header; never logged
    webhook_listen: tuple[str, int] = DEFAULT_LISTEN  # where the webhook's HTTP server binds (port 0: any free one)
    health_listen: tuple[str, int] | None = None  # /healthz, /readyz, /metrics when polling; None: not served
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.default_size != PHOTO_SIZE and self.default_size not in self.sizes:
            object.__setattr__(self, "sizes", tuple(sorted({*self.sizes, self.default_size})))
        if self.temp_dir is None:
            object.__setattr__(self, "temp_dir", self.data_dir / "tmp")

    def job_deadline(self, estimate: float) -> float:
        """Seconds a job expected to take `estimate` may run before its worker is killed as hung."""
        return max(self.deadline_min, self.deadline_factor * estimate)

    @property
    def metrics_dir(self) -> Path:
        """Where worker processes count their metrics (`bots.common.metrics`), emptied at each start."""
        return self.data_dir / "metrics"

    def job_folder(self, job_id: int) -> Path:
        """The private folder of a job's files (its worker deletes it at the end; the supervisor too when a
        worker dies)."""
        return Path(self.temp_dir) / f"job-{job_id}"  # never None once made (__post_init__)

    @property
    def download_limit(self) -> int:
        """Largest file getFile will serve: 20 MB on Telegram's servers, far more on a self-hosted one."""
        return SELF_HOSTED_DOWNLOAD_LIMIT if self.api_url else PUBLIC_DOWNLOAD_LIMIT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BotConfig:
        """Settings from `env` (default: os.environ); raises `ConfigError` with a one-line message."""
        env = os.environ if env is None else env
        max_side = _number(env, "STYLEBOT_MAX_SIDE", DEFAULT_MAX_SIDE, 64)
        if max_side > TELEGRAM_PHOTO_SIDE:
            raise ConfigError(f"STYLEBOT_MAX_SIDE must be at most {TELEGRAM_PHOTO_SIDE} px (what Telegram keeps "
                              f"of a photo), not {max_side}")
        sizes = _sizes(env, max_side)
        default_size = _default_size(env, max_side)
        steps = _number(env, "STYLEBOT_STEPS", 0, 1) or None
        api_url = env.get("TELEGRAM_API_URL", "").strip().rstrip("/") or None
        if api_url and not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"TELEGRAM_API_URL must start with http:// or https://, not {api_url!r}")
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
        weights = env.get("STYLEBOT_WEIGHTS_DIR", "").strip()
        temp = env.get("STYLEBOT_TMP_DIR", "").strip()
        data = env.get("STYLEBOT_DATA_DIR", "").strip() or "data"
        webhook_url, webhook_secret, webhook_listen = _webhook(env)
        health = env.get("STYLEBOT_HEALTH_LISTEN", "").strip()
        return cls(
            token=_token(env),
            api_url=api_url,
            workers=_number(env, "STYLEBOT_WORKERS", 1, 1),
            queue_limit=_number(env, "STYLEBOT_QUEUE_LIMIT", 500, 0),
            instant_wait_limit=_number(env, "STYLEBOT_INSTANT_WAIT_LIMIT", 120.0, 0.0, float),
            transfer_wait_limit=_number(env, "STYLEBOT_TRANSFER_WAIT_LIMIT", 1800.0, 0.0, float),
            sizes=sizes,
            default_size=default_size,
            max_side=max_side,
            upscale_max_side=_number(env, "STYLEBOT_UPSCALE_MAX_SIDE", DEFAULT_UPSCALE_MAX_SIDE, 64),
            video_seconds=_number(env, "STYLEBOT_VIDEO_SECONDS", 15.0, 1.0, float),
            video_frames=_number(env, "STYLEBOT_VIDEO_FRAMES", 360, 2),
            video_side=_video_side(env),
            steps=steps,
            progress_interval=_number(env, "STYLEBOT_PROGRESS_INTERVAL", 3.0, 0.0, float),
            update_threads=_number(env, "STYLEBOT_UPDATE_THREADS", 4, 1),
            compute_threads=_number(env, "STYLEBOT_COMPUTE_THREADS", 0, 1) or None,
            strip_pixels=_number(env, "STYLEBOT_STRIP_PIXELS", 0, MIN_STRIP_PIXELS) or None,
            weights_dir=Path(weights).expanduser() if weights else None,
            data_dir=Path(data).expanduser(),
            temp_dir=Path(temp).expanduser() if temp else None,
            result_days=_number(env, "STYLEBOT_RESULT_DAYS", 7.0, 0.01, float),
            jobs_per_hour=_number(env, "STYLEBOT_JOBS_PER_HOUR", 30, 0),
            admins=_admins(env),
            delivery_patience=_number(env, "STYLEBOT_DELIVERY_PATIENCE", 300.0, 0.0, float),
            telegram_timeout=_number(env, "STYLEBOT_TELEGRAM_TIMEOUT", 60.0, 1.0, float),
            memory_limit=memory_limit(env),
            device=_device(env),
            precision=_precision(env),
            redis_url=_redis_url(env),
            redeliver_after=_number(env, "STYLEBOT_REDELIVER_AFTER", 3600.0, 5.0, float),
            stall_after=_number(env, "STYLEBOT_STALL_AFTER", DEFAULT_STALL_AFTER, 1.0, float),
            deadline_factor=_number(env, "STYLEBOT_DEADLINE_FACTOR", 4.0, 1.0, float),
            deadline_min=_number(env, "STYLEBOT_DEADLINE_MIN", 600.0, 1.0, float),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_listen=webhook_listen,
            health_listen=_listen(health, "STYLEBOT_HEALTH_LISTEN") if health else None,
            log_level=level,
        )
