"""Webhook mode: Telegram POSTs each update to `STYLEBOT_WEBHOOK_URL` instead of the bot long-polling for it.

TLS is not done here. Telegram posts only to https:// (ports 443, 80, 88, 8443), so a reverse proxy or load
balancer terminates TLS at that public address and forwards plain HTTP to `STYLEBOT_WEBHOOK_LISTEN`, on any
path: what authenticates Telegram is the `X-Telegram-Bot-Api-Secret-Token` header, compared in constant time
before a byte of the body is read; a missing or wrong one gets 403. The secret never reaches the logs: telebot
sends a call's parameters in its URL, which telebot and urllib3 log at DEBUG and network errors quote, so the
log handlers set up at start blank it out.

Why not telebot's own `TeleBot.run_webhooks` (`telebot.ext.sync.webhooks`: FastAPI on uvicorn): it does check
the header and answer 403, but with `!=` (not constant-time); its default URL path is the bot token; it calls
`uvicorn.run`, which rewrites the process's logging setup and gives no handle to stop the server from another
thread (`StyleBot.stop`, the tests), only Ctrl-C in the main thread; and it pulls in FastAPI and pydantic for
one endpoint. So the endpoint is a small ASGI app here, on uvicorn's `Server` kept as an object (`stop()`
sets its `should_exit`), on a socket bound at start so that a port in use is a one-line error. uvicorn with its
h11 parser is the most used, actively kept Python ASGI server, pure Python with two small dependencies.

Telegram gets its 200 at once: on a threaded TeleBot, `process_new_updates` only puts each handler run on
telebot's worker pool (`STYLEBOT_UPDATE_THREADS` threads), so a slow handler never holds a request, and every
update is dispatched from the server's one event-loop thread, as polling dispatches from one thread. On stop
the webhook stays registered: Telegram keeps the updates that arrive meanwhile for the next start.
"""
from __future__ import annotations

import hmac
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException, ApiTelegramException
from telebot.types import Update

from bots.common.config import BotConfig, ConfigError
from bots.common.serving import PATHS

__all__ = ["ALLOWED_UPDATES", "Webhook", "drop_webhook"]

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query"]  # the updates the handlers answer; Telegram sends no others
SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_BODY = 1024 * 1024  # an update is a few kB: anything bigger is not from Telegram
MAX_RETRY_WAIT = 30.0  # seconds between two tries to register the webhook, at most
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Webhook:
    """The bot's HTTP endpoint: `open()` binds it and registers it with Telegram, `serve()` answers Telegram's
    posts until `stop()` (or, in the main thread, Ctrl-C or SIGTERM)."""

    def __init__(self, telegram: TeleBot, config: BotConfig, health: Callable[..., Awaitable[None]] | None = None
                 ) -> None:
        import uvicorn  # here, not at the top: a polling bot never loads the server (and asyncio)

        if not (config.webhook_url and config.webhook_secret):
            raise ValueError("a webhook needs a URL and a secret")
        self.telegram, self.url, self.listen = telegram, config.webhook_url, config.webhook_listen
        self._secret = config.webhook_secret.encode()
        self._health = health  # the ASGI app of GET /healthz, /readyz, /metrics (`bots.chat.health`)
        self._socket: socket.socket | None = None
        self._stopping = threading.Event()
        # no access log, and the process's logging left alone: uvicorn's own lines go through the bot's handler
        self._server = uvicorn.Server(uvicorn.Config(
            self._app, interface="asgi3", http="h11", loop="asyncio", ws="none", lifespan="off", log_config=None,
            access_log=False, server_header=False, timeout_graceful_shutdown=5))

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it listens on (the real port when the setting asked for 0)."""
        if self._socket is None:
            raise RuntimeError("the webhook is not open")
        return self._socket.getsockname()[:2]

    def open(self) -> None:
        """Listen, then register the webhook: Telegram's first posts wait in the socket's backlog until
        `serve()`. Raises ConfigError (one line) when the address cannot be used or Telegram refuses the URL;
        network trouble and Telegram's 429 and 5xx are retried until it passes or `stop()`."""
        host, port = self.listen
        try:
            self._socket = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                                else socket.AF_INET, backlog=128)
        except OSError as exc:
            raise ConfigError(f"STYLEBOT_WEBHOOK_LISTEN {host}:{port} cannot be used: "
                              f"{exc.strerror or exc}") from None
        try:
            self._register()
        except BaseException:
            self._socket.close()
            raise

    def _register(self) -> None:
        wait = 1.0
        while not self._stopping.is_set():
            try:
                self.telegram.set_webhook(self.url, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False,
                                          secret_token=self._secret.decode())
            except ApiTelegramException as exc:
                if exc.error_code < 500 and exc.error_code != 429:
                    raise ConfigError(f"Telegram refused STYLEBOT_WEBHOOK_URL: {exc.description}") from None
                problem: Exception = exc
            except (ApiException, RequestException) as exc:
                problem = exc
            else:
                log.info("webhook registered: Telegram posts updates to %s", self.url)
                return
            log.warning("could not register the webhook (trying again in %.0f s): %s", wait, problem)
            self._stopping.wait(wait)
            wait = min(2 * wait, MAX_RETRY_WAIT)

    def serve(self) -> None:
        """Answer Telegram until `stop()`. In the main thread uvicorn also stops on Ctrl-C and SIGTERM, ends the
        requests in flight, then raises the signal again: KeyboardInterrupt for the caller, as when polling."""
        if self._socket is None:
            raise RuntimeError("the webhook is not open")
        log.info("answering Telegram's posts on %s:%d", *self.address)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        """Stop serving (or trying to register) soon; safe to call from any thread, and before `serve()`."""
        self._stopping.set()
        self._server.should_exit = True

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """One request: 403 without the right secret, else 200 as soon as telebot has queued the update; a
        GET goes to the health checks."""
        if scope["method"] == "GET" and self._health is not None and scope["path"] in PATHS:
            return await self._health(scope, receive, send)
        if scope["method"] != "POST":
            return await _answer(send, 405, (b"allow", b"POST"))
        if not hmac.compare_digest(dict(scope["headers"]).get(SECRET_HEADER, b""), self._secret):
            return await _answer(send, 403)
        body = await _body(receive)
        if body is None:
            return await _answer(send, 413)
        try:
            update = Update.de_json(body.decode())
        except Exception as exc:  # not JSON, or not an update telebot can read
            log.warning("the webhook got a post that is not an update: %r", exc)
            return await _answer(send, 400)
        self.telegram.process_new_updates([update])
        await _answer(send, 200)


async def _body(receive: Receive) -> bytes | None:
    """The request's body; None when it is over MAX_BODY or the client left."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        more = message.get("more_body", False)
    return body


async def _answer(send: Send, status: int, *headers: tuple[bytes, bytes]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0"), *headers]})
    await send({"type": "http.response.body", "body": b""})


def drop_webhook(telegram: TeleBot) -> None:
    """Delete any webhook, keeping its pending updates, before polling: Telegram refuses getUpdates while one
    is set. A failure is only logged (polling then reports the 409 Conflict it gets)."""
    try:
        telegram.delete_webhook(drop_pending_updates=False)
    except (ApiException, RequestException) as exc:
        log.warning("could not delete the webhook before polling: %s", exc)
