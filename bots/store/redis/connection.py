"""The plumbing every part of the Redis store shares: the client and its timeouts, key names under one
prefix, Redis errors turned into one-line StoreErrors that never show the password, and the closed flag
(a redis-py client would silently reconnect after `close`)."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from bots.store import StoreError

__all__ = ["SCHEMA_VERSION", "TTL_MARGIN", "Clock", "Connection", "connect", "redact"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1  # in the key "<prefix>schema": a newer bot's layout is refused rather than misread
TTL_MARGIN = 24 * 3600  # s: Redis expiry is this much later than the retention judged with the clock

Clock = Callable[[], float]


def connect(url: str, clock: Clock, prefix: str, timeout: float) -> Connection:
    """A client for `url` that has answered, written the schema marker and is ready; StoreError otherwise.

    A socket waits at most `timeout` seconds (connecting or for a reply), so a Redis that is down or hung
    fails in seconds. No command is retried, since one whose reply was lost may have run (`start` would
    count an attempt twice, `finish` tell its caller False); a connection that Redis closed (a restart) is
    replaced by the pool before a command is sent on it."""
    try:
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise StoreError(f"{redact(url)} is not a Redis URL ({_one_line(exc, _password(url))}): use "
                         f"redis://[[user]:password@]host[:port][/db], rediss://... for TLS, or unix:///path") from None
    connection = Connection(client, url, clock, prefix)
    try:
        with connection.use() as ready:
            _check_schema(ready, connection.key("schema"), connection.url)
            _warn_without_persistence(ready, connection.url)
    except BaseException:
        client.close()
        raise
    return connection


def _check_schema(client: redis.Redis, key: str, safe: str) -> None:
    """Mark the prefix as ours (which also proves that we may write: a replica is read-only) and refuse
    a layout written by a newer version."""
    client.set(key, SCHEMA_VERSION, nx=True)
    version = client.get(key)
    if not (version or "").isdigit():
        raise StoreError(f"{key!r} on Redis at {safe} is not stylebot's ({version!r}): choose another prefix")
    if int(version) > SCHEMA_VERSION:
        raise StoreError(f"Redis at {safe} was written by a newer version of stylebot (schema {version}, this one "
                         f"knows {SCHEMA_VERSION}): upgrade the bot, or choose another prefix")


def _warn_without_persistence(client: redis.Redis, safe: str) -> None:
    """A Redis that neither snapshots nor logs forgets every job when it restarts: say so once. Managed
    Redis services often forbid CONFIG; then nothing is said."""
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except redis.ResponseError:
        return
    if config.get("appendonly") == "no" and not config.get("save"):
        log.warning("Redis at %s keeps nothing on disk (appendonly no, no save points): a Redis restart "
                    "loses every job and setting; set appendonly yes", safe)


def redact(url: str) -> str:
    """`url` with its password (in the user part or a `password=` query) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a Redis URL that cannot be parsed>"
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        url = url.replace(f"//{parts.netloc}", f"//{user.partition(':')[0]}:***@{host}", 1)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def _password(url: str) -> str | None:
    """The password in `url`, to keep it out of error messages too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return unquote(parts.password)
    return dict(parse_qsl(parts.query)).get("password") or None


def _one_line(exc: BaseException, password: str | None) -> str:
    """The error's text on one line, without the password should it appear there."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace(password, "***") if password else text


def _store_error(safe: str, password: str | None, exc: redis.RedisError) -> StoreError:
    """A one-line StoreError for a Redis error: what is wrong, and what to do."""
    text = _one_line(exc, password)
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.NoPermissionError)):
        return StoreError(f"Redis at {safe} refused the login ({text}): check the user and password in the URL")
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return StoreError(f"cannot reach Redis at {safe} ({text}): start Redis, or check the host and port "
                          f"in the URL")
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return StoreError(f"Redis at {safe} is read-only (a replica?): point the URL at the primary")
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return StoreError(f"Redis at {safe} is out of memory: raise its maxmemory")
    return StoreError(f"Redis at {safe}: {text} ({type(exc).__name__}): check the server")


class Connection:
    """The client the store's parts share, their key names, and the clock."""

    def __init__(self, client: redis.Redis, url: str, clock: Clock, prefix: str) -> None:
        self.client = client
        self.url = redact(url)
        self._password = _password(url)
        self.clock = clock
        self.prefix = prefix
        self.closed = False

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    def script(self, source: str) -> Script:
        """A Lua script, run atomically by Redis (EVALSHA, loaded again after a Redis restart)."""
        return self.client.register_script(source)

    @contextmanager
    def use(self) -> Iterator[redis.Redis]:
        """The client, with its errors as StoreErrors; StoreError at once if the store was closed."""
        if self.closed:
            raise StoreError(f"the store on Redis at {self.url} was closed: open it again")
        try:
            yield self.client
        except redis.RedisError as exc:
            raise _store_error(self.url, self._password, exc) from exc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.close()
