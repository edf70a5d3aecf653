"""`GET /healthz`, `/readyz` and `/metrics` over HTTP, for whichever process has checks to answer: the chat
process (`bots.chat.health`) and each Celery worker of the distributed mode (`celery_worker`).

Each check answers JSON ``{"ok": ..., "checks": {name: bool}}``, 200 when every check passes, else 503;
`/metrics` Prometheus' text format. `HealthServer` serves the app on its own address from a thread, with
uvicorn (already the webhook's server) kept as an object so that `stop()` works from any thread.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from bots.common.config import ConfigError

__all__ = ["PATHS", "App", "health_app", "HealthServer"]

log = logging.getLogger(__name__)
PATHS = ("/healthz", "/readyz", "/metrics")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]
Checks = Callable[[], dict[str, bool]]


def health_app(alive: Checks, ready: Checks, scrape: Callable[[], tuple[bytes, str]]) -> App:
    """The ASGI app of the three paths: `alive()` and `ready()` name their checks, `scrape()` gives the
    metrics' text and content type."""
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] != "GET" or path not in PATHS:
            return await _answer(send, 404 if scope["method"] == "GET" else 405, b"", b"text/plain")
        if path == "/metrics":
            body, content_type = scrape()
            return await _answer(send, 200, body, content_type.encode())
        checks = alive() if path == "/healthz" else ready()
        ok = all(checks.values())
        await _answer(send, 200 if ok else 503, json.dumps({"ok": ok, "checks": checks}).encode(),
                      b"application/json")

    return app


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class HealthServer:
    """`app` on its own address (`STYLEBOT_HEALTH_LISTEN`), served by a thread until `stop()`."""

    def __init__(self, app: App, listen: tuple[str, int]) -> None:
        import uvicorn  # here: only a process that serves health checks loads the server

        self.listen = listen
        self._server = uvicorn.Server(uvicorn.Config(
            app, interface="asgi3", http="h11", loop="asyncio", ws="none", lifespan="off",
            log_config=None, access_log=False, server_header=False))
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._socket is None:
            raise RuntimeError("the health server is not started")
        return self._socket.getsockname()[:2]

    def start(self) -> None:
        """Bind (a port in use is a one-line ConfigError) and serve in a thread."""
        host, port = self.listen
        try:
            self._socket = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                                else socket.AF_INET)
        except OSError as exc:
            raise ConfigError(f"STYLEBOT_HEALTH_LISTEN {host}:{port} cannot be used: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="health", daemon=True)
        self._thread.start()
        log.info("health checks and metrics on http://%s:%d", *self.address)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._socket is not None:
            self._socket.close()
