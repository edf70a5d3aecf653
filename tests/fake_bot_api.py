"""A fake Telegram Bot API server, so the real `telebot` client can be tested end to end without the network.

The bots are driven exactly as in production (long polling, multipart uploads, file downloads); only the
URLs change (`FakeBotApi.install()`).  Tests inject user events (`send_text`, `send_photo`, `press_button`...)
and wait for what the bot does (`wait_for_message`, `wait_for_photo`...); a failed wait raises an
AssertionError that dumps everything the bot sent, which is what makes a failing bot test readable.
Standard library only (PIL, when installed, is used to build PhotoSize thumbnails); no pytest import, because
the bot benchmark (`python -m bench bot`) uses it too.  Every call records its arrival time (time.monotonic).
Telegram under load misbehaves, and so can the fake, to test a bot's retry policy end to end: `fail_next`
(an error answer, JSON or the front end's HTML page), `reset_next` (the connection reset), `stall_next` (no
answer at all); the faulted calls stay in the log (`calls`, `faults`), so a test can count the attempts.
Webhooks as in Telegram: setWebhook records what it got (`webhook`), getUpdates is refused with 409 while one is
set, and `post_update` delivers a pending update to the bot's own HTTP server as Telegram would post it.
Users may speak another language (`set_user_language`), write in group chats (`add_group`), reply to a message
(`reply_to=`), send albums (`send_album`) and act all at once (`together`), so a bot's translations, group
handling, album grouping and bursts are tested through the same updates Telegram sends.

Usage:  with FakeBotApi() as api:  api.install(); ...   or, in conftest.py:
        @pytest.fixture
        def fake_api():
            yield from fake_api_fixture()
"""
from __future__ import annotations

import copy
import http.client
import io
import itertools
import json
import mimetypes
import re
import socket
import struct
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit
WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete " \
                   "the webhook first"
REGISTERED = "<registered>"  # post_update's default secret: the one setWebhook got (no real secret has "<")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
T = TypeVar("T")


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hang up mid-request (a stopped bot's pooled connection): not a server error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ApiError(Exception):
    """Raised by a method to answer {"ok": false, ...} with this code, like the real API."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass
class _Fault:
    """A misbehaviour queued for a method's next call; the method is not run (Telegram never accepted it)."""
    kind: str  # "json": an error answer as the Bot API gives; "html": the front end's error page;
    #            "reset": the connection reset; "stall": no answer for `seconds`, then the connection closed
    code: int = 0
    description: str = ""
    seconds: float = 0.0

    @property
    def error(self) -> str:
        """What the call log records as the call's error."""
        return {"reset": "connection reset", "stall": "stalled"}.get(self.kind, self.description)


def _html_page(code: int, description: str) -> bytes:
    """An error page as nginx (Telegram's front end) writes it, e.g. on 502 Bad Gateway and 504 Gateway Timeout."""
    title = f"{code} {description}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n").encode()


@dataclass
class Upload:
    """A multipart file part, as the bot sent it."""
    field: str
    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One request from the bot: what it asked and uploaded, when it arrived, what it got back."""
    index: int
    method: str
    params: dict[str, str]
    files: dict[str, Upload]
    time: float  # time.monotonic() at arrival
    done: bool = False
    ok: bool = False
    result: Any = None
    error: str | None = None  # the error description when not ok

    @property
    def chat_id(self) -> int | None:
        try:
            return int(self.params["chat_id"])
        except (KeyError, ValueError):
            return None

    def json_param(self, name: str) -> Any:
        """A JSON-encoded parameter (reply_markup, media, commands...) decoded; None when absent."""
        value = self.params.get(name)
        return None if value is None else json.loads(value)


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int


@dataclass
class _Msg:
    data: dict[str, Any]  # the Message object as the Bot API returns it
    from_bot: bool
    markup: Any = None  # any keyboard the bot attached (only inline keyboards appear in `data`)
    deleted: bool = False
    seq: int = 0  # index of the call that last created or changed it (for `since=`)


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Fields and files of a multipart/form-data body (telebot sends unquoted filenames, hence the regexes)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r'[;\s]name="?([^";\r\n]*)"?', headers).group(1)
        filename = re.search(r'filename="?([^";\r\n]*)"?', headers)
        ctype = re.search(r"Content-Type:\s*([^\r\n;]+)", headers, re.I)
        data = data[:-2] if data.endswith(b"\r\n") else data
        if filename:
            files[name] = Upload(name, filename.group(1), data, ctype.group(1).strip() if ctype else None)
        else:
            fields[name] = data.decode("utf-8")
    return fields, files


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.telegram.org
    disable_nagle_algorithm = True  # headers and body are two writes: with Nagle, each call waited ~40 ms for an ACK

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        fake: FakeBotApi = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if m := re.fullmatch(r"/file/bot([^/]+)/(.+)", url.path):
            data = fake._download(m.group(1), unquote(m.group(2)))
            if data is not None:
                return self._reply(200, data, "application/octet-stream")
        if not (m := re.fullmatch(r"/bot([^/]+)/(\w+)", url.path)):
            return self._reply(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        files: dict[str, Upload] = {}
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            fields, files = _parse_multipart(body, ctype)
            params.update(fields)
        elif ctype.startswith("application/json") and body:
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()})
        elif body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        answer = fake._dispatch(m.group(1), m.group(2), params, files)
        if isinstance(answer, _Fault):
            return self._misbehave(answer, fake)
        status, payload = answer
        self._reply(status, json.dumps(payload).encode())

    do_POST = do_GET

    def _misbehave(self, fault: _Fault, fake: FakeBotApi) -> None:
        """Answer an HTML error page, or reset the connection, or hold it (without the fake's lock) and close it
        unanswered; a stall ends early when the fake closes."""
        if fault.kind == "html":
            return self._reply(fault.code, _html_page(fault.code, fault.description), "text/html")
        self.close_connection = True
        if fault.kind == "stall":
            fake._closing.wait(fault.seconds)
            return  # then closed by the server, unanswered
        # a zero linger time makes close() send a RST instead of a FIN; the socket's file descriptor is only
        # closed when its file objects are, hence rfile first (the server's own close then finds it closed)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def _reply(self, status: int, data: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeBotApi:
    """The fake server and its state: users' updates in, the bot's calls, messages and files out."""

    def __init__(self, token: str | None = None, max_poll_wait: float = 1.0, default_timeout: float = 5.0) -> None:
        """token: if set, other tokens get 401.  max_poll_wait caps getUpdates' long poll (it wakes at once
        on a new update anyway), so a stopped bot exits fast.  default_timeout: for the wait_for_* helpers."""
        self.token, self.max_poll_wait, self.default_timeout = token, max_poll_wait, default_timeout
        self.bot_user = {"id": int(token.split(":")[0]) if token else 123, "is_bot": True, "first_name": "StyleBot",
                         "username": "stylebot_test_bot", "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False}
        self.commands: list[dict] = []  # the last setMyCommands
        self.commands_by_language: dict[str | None, list[dict]] = {}  # setMyCommands by language_code (None: all)
        self.commands_by_scope: dict[tuple[str, str | None], list[dict]] = {}  # by (scope type, language_code)
        self.poll_count = 0  # getUpdates calls run (kept out of `calls`: they would drown the log; see `faults`)
        self.polls_refused = 0  # getUpdates calls refused (409) because a webhook was set
        self.webhook: dict | None = None  # the last setWebhook's url, secret_token and allowed_updates; None: polling
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._updates: list[dict] = []
        self._update_ids, self._ids = itertools.count(1), itertools.count(1)
        self._msgs: dict[int, dict[int, _Msg]] = {}
        self._next_mid: dict[int, int] = {}
        self._files: dict[str, _File] = {}
        self._paths: dict[str, _File] = {}
        self._queued_faults: dict[str, list[_Fault]] = {}  # by method name, lower-cased
        self._faults: list[Call] = []
        self._closing = threading.Event()  # wakes stalls up on close()
        self._callbacks: set[str] = set()
        self._languages: dict[int, str | None] = {}  # users' interface languages, where set (else "en")
        self._groups: dict[int, dict] = {}  # group chats' Chat objects, by chat id
        self._closed, self._poll_epoch = False, 0
        self._saved_urls: tuple[Any, Any] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._t0 = time.monotonic()

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeBotApi:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="FakeBotApi", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop serving; long polls and stalls in flight return at once; telebot's URLs are restored."""
        self.uninstall()
        self._closing.set()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def end_long_polls(self) -> None:
        """Make getUpdates calls in flight return now (empty): call after bot.stop_polling() to stop it at once."""
        with self._cond:
            self._poll_epoch += 1
            self._cond.notify_all()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server, "FakeBotApi is not started"
        return self._server.server_address[1]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot{{0}}/{{1}}"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot{{0}}/{{1}}"

    def install(self) -> FakeBotApi:
        """Point telebot.apihelper at this server (restored by uninstall() / close())."""
        from telebot import apihelper
        if self._saved_urls is None:
            self._saved_urls = (apihelper.API_URL, apihelper.FILE_URL)
        apihelper.API_URL, apihelper.FILE_URL = self.api_url, self.file_url
        return self

    def uninstall(self) -> None:
        if self._saved_urls is not None:
            from telebot import apihelper
            apihelper.API_URL, apihelper.FILE_URL = self._saved_urls
            self._saved_urls = None

    # ---- users' side: inject updates ---------------------------------------------------------------------
    def add_file(self, data: bytes, file_path_hint: str = "documents/file.bin", file_size: int | None = None) -> str:
        """Register a downloadable file; file_size may be faked (e.g. > 20 MB) without sending that many bytes."""
        with self._cond:
            return self._register(data, file_path_hint, file_size).file_id

    def set_user_language(self, user_id: int, language_code: str | None) -> None:
        """The interface language the user's "from" carries from now on (None: no language_code, as Telegram
        leaves it out for some users); "en" for users never set."""
        with self._cond:
            self._languages[user_id] = language_code

    def add_group(self, chat_id: int, title: str = "Group", kind: str = "group") -> None:
        """Make `chat_id` a group chat (kind "group" or "supergroup"; ids negative, as in Telegram): users'
        messages there need a user_id, the sender."""
        assert chat_id < 0 and kind in ("group", "supergroup"), f"not a group chat: {chat_id} {kind}"
        with self._cond:
            self._groups[chat_id] = {"id": chat_id, "type": kind, "title": title}

    def send_text(self, chat_id: int, text: str, user_id: int | None = None, reply_to: int | None = None) -> dict:
        """A user's text message; "/cmd ..." (or "/cmd@bot_name ...") gets its bot_command entity; reply_to: the
        id of the message in this chat it answers."""
        extra = {"entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]} \
            if text.startswith("/") else {}
        return self._user_message(chat_id, user_id, reply_to, text=text, **extra)

    def send_photo(self, chat_id: int, image_bytes: bytes, caption: str | None = None,
                   sizes: tuple[int, ...] = (90, 320, 800), user_id: int | None = None,
                   reply_to: int | None = None) -> dict:
        """A user's photo: JPEG thumbnails no longer than `sizes` (smaller than the image), then the original
        bytes as the largest PhotoSize, so a bot that takes photo[-1] downloads exactly `image_bytes`."""
        with self._cond:
            photo = self._photo_sizes(image_bytes, sizes)
        return self._user_message(chat_id, user_id, reply_to, photo=photo, **({"caption": caption} if caption else {}))

    def send_document(self, chat_id: int, data: bytes, file_name: str = "file.bin", mime_type: str | None = None,
                      file_size: int | None = None, caption: str | None = None, user_id: int | None = None,
                      reply_to: int | None = None) -> dict:
        with self._cond:
            doc = self._media_obj("document", data, file_name, mime_type, file_size)
        return self._user_message(chat_id, user_id, reply_to, document=doc, **({"caption": caption} if caption else {}))

    def send_album(self, chat_id: int, pictures: list[bytes], user_id: int | None = None, caption: str | None = None,
                   as_documents: bool = False, gap: float = 0.0) -> list[dict]:
        """A user's album of 2-10 pictures, as Telegram sends it: one message each (consecutive ids, all stored at
        once) sharing a fresh media_group_id, the caption on the first only.  Photos as in send_photo, or with
        as_documents image files photo1.jpg, photo2.jpg...  gap: seconds between the items' updates, so they
        may come in different getUpdates batches; 0 pushes them together (one getUpdates returns them all)."""
        assert 2 <= len(pictures) <= 10, f"an album has 2-10 items, not {len(pictures)}"
        with self._cond:
            group = str(10**17 + next(self._ids))
            items = [{"document": self._media_obj("document", data, f"photo{i}.jpg", "image/jpeg", None)}
                     if as_documents else {"photo": self._photo_sizes(data)} for i, data in enumerate(pictures, 1)]
            if caption:
                items[0]["caption"] = caption
            msgs = [copy.deepcopy(self._new_message(chat_id, False, user_id, len(self._calls), media_group_id=group,
                                                    **item).data) for item in items]
            at_once = msgs[:1] if gap else msgs
            for msg in at_once:
                self._push_update(message=copy.deepcopy(msg))
        for msg in msgs[len(at_once):]:
            time.sleep(gap)
            with self._cond:
                self._push_update(message=copy.deepcopy(msg))
        return msgs

    def send_sticker(self, chat_id: int, user_id: int | None = None) -> dict:
        with self._cond:
            f = self._register(b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "stickers/sticker.webp")
        return self._user_message(chat_id, user_id, sticker={**self._file_obj(f), "type": "regular", "width": 512,
                                  "height": 512, "is_animated": False, "is_video": False, "emoji": "\U0001F600"})

    def send_clip(self, chat_id: int, data: bytes, kind: str = "video", duration: int | None = None,
                  size: tuple[int, int] = (640, 360), caption: str | None = None, file_name: str = "clip.mp4",
                  file_size: int | None = None, user_id: int | None = None, reply_to: int | None = None) -> dict:
        """A user's moving picture, as Telegram sends it: an "animation" (a GIF, as a silent MP4; with a
        "document" beside it, as Telegram adds for older clients), a "video", or a round "video_note"
        (`length` its side). `duration` (seconds, as the message says it) defaults to 1."""
        assert kind in ("animation", "video", "video_note"), kind
        with self._cond:
            f = self._register(data, f"{kind}s/{file_name}", file_size)
            common = {**self._file_obj(f), "duration": 1 if duration is None else duration}
            if kind == "video_note":
                content = {"video_note": {**common, "length": size[0]}}
            else:
                media = {**common, "width": size[0], "height": size[1], "file_name": file_name,
                         "mime_type": "video/mp4"}
                content = {kind: media, **({"document": dict(media)} if kind == "animation" else {})}
        return self._user_message(chat_id, user_id, reply_to, **content, **({"caption": caption} if caption else {}))

    def press_button(self, chat_id: int, message_id: int, data: str, user_id: int | None = None) -> str:
        """A callback_query for the bot's inline button carrying `data`; returns the query id.  In a group,
        user_id (who pressed) is required."""
        with self._cond:
            msg = self._msgs.get(chat_id, {}).get(message_id)
            if msg is None or msg.deleted or data not in [d for _, d in self.inline_buttons(msg.data)]:
                raise AssertionError(f"FakeBotApi: no inline button {data!r} on message {message_id} in chat "
                                     f"{chat_id}.\n{self._dump(chat_id)}")
            sender = self._sender(chat_id, user_id)
            qid = str(10**15 + next(self._ids))
            self._callbacks.add(qid)
            self._push_update(callback_query={"id": qid, "from": sender, "data": data,
                                              "message": copy.deepcopy(msg.data), "chat_instance": str(-chat_id)})
            return qid

    @contextmanager
    def together(self) -> Iterator[None]:
        """Users' events injected inside arrive together, as in a burst: the bot's next getUpdates returns all
        of them (up to its limit) in one batch. The server answers no call meanwhile: inject, don't wait."""
        with self._cond:
            yield

    def post_update(self, address: str, secret: str | None = REGISTERED, timeout: float = 10.0) -> int:
        """Deliver the oldest pending update as Telegram posts to a webhook: JSON to http://`address` (the bot's
        host:port, standing for the https URL of its TLS proxy) at the registered URL's path, with the header
        X-Telegram-Bot-Api-Secret-Token: `secret` (default: the registered one; None: no header). A 2xx answer
        confirms the update; anything else leaves it pending for the next try, as Telegram retries. Returns the
        HTTP status."""
        with self._cond:
            if not self._updates:
                raise AssertionError(f"FakeBotApi: no pending update to post.\n{self._dump(None)}")
            update, registered = copy.deepcopy(self._updates[0]), self.webhook or {}
        if secret == REGISTERED:
            secret = registered.get("secret_token")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        host, _, port = address.rpartition(":")
        connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
        try:
            connection.request("POST", urlsplit(registered.get("url", "")).path or "/", json.dumps(update), headers)
            status = connection.getresponse().status
        finally:
            connection.close()
        if 200 <= status < 300:
            with self._cond:
                self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return status

    # ---- bot's side: inspect and wait --------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """The bot's calls in arrival order (getUpdates excluded: see poll_count), faulted ones included."""
        with self._cond:
            return list(self._calls)

    @property
    def faults(self) -> list[Call]:
        """The calls that got an injected fault, getUpdates' included (which `calls` leaves out and poll_count
        does not count, the method not being run), in arrival order."""
        with self._cond:
            return list(self._faults)

    def mark(self) -> int:
        """Position in the call log: pass as since= to ignore what happened before."""
        with self._cond:
            return len(self._calls)

    def messages(self, chat_id: int, include_user: bool = False) -> list[dict]:
        """The chat's messages in their current state (after edits), each with "deleted": bool and, when the
        bot attached one, its reply_markup (reply keyboards included)."""
        with self._cond:
            return [self._view(m) for m in self._msgs.get(chat_id, {}).values() if m.from_bot or include_user]

    def file_bytes(self, file_id: str) -> bytes:
        with self._cond:
            return self._files[file_id].data

    def media_bytes(self, message: dict) -> bytes:
        """What a message carries: the largest photo size, or its document/clip/sticker bytes."""
        if message.get("photo"):
            return self.file_bytes(message["photo"][-1]["file_id"])
        kinds = ("animation", "video_note", "document", "video", "sticker")
        return self.file_bytes(next(message[k] for k in kinds if k in message)["file_id"])

    @staticmethod
    def inline_buttons(message: dict) -> list[tuple[str, str | None]]:
        """(text, callback_data) of a message's inline keyboard, row by row."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data")) for row in rows for b in row]

    # Faults: each method has one queue, used in the order the faults were queued (fail_next then reset_next:
    # the next call fails, the one after is reset).  A faulted call is logged on arrival as finished, with
    # ok=False and its error ("connection reset", "stalled", the description), even while a stall holds it.
    def fail_next(self, method: str, code: int = 400, description: str | None = None, times: int = 1,
                  html: bool = False) -> None:
        """Make the next `times` calls of `method` fail, e.g. (sendPhoto, 429, "Too Many Requests: retry after 1"):
        a JSON error (telebot raises ApiTelegramException with error_code, description, and result_json, with
        parameters.retry_after from "retry after N"); with html=True, an HTML page as Telegram's front end
        answers on 502/504 (telebot raises ApiHTTPException: no error_code, only .result, the requests
        Response, with status_code).  description defaults to "Bad Request: injected failure", with html to
        the status phrase ("Bad Gateway")."""
        if description is None:
            description = HTTPStatus(code).phrase if html else "Bad Request: injected failure"
        self._queue(method, _Fault("html" if html else "json", code, description), times)

    def reset_next(self, method: str, times: int = 1) -> None:
        """Read the next `times` calls of `method` and reset their connection (RST) without running them: telebot
        raises requests.exceptions.ConnectionError (ProtocolError "Connection aborted.", ConnectionResetError with
        errno ECONNRESET; a clean close would give RemoteDisconnected, a subclass with no errno)."""
        self._queue(method, _Fault("reset"), times)

    def stall_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next `times` calls of `method` for `seconds` without running them, then close the connection
        unanswered: a client reading for less time raises requests.exceptions.ReadTimeout, one reading for
        longer requests.exceptions.ConnectionError (RemoteDisconnected).  Other calls go on meanwhile."""
        self._queue(method, _Fault("stall", seconds=seconds), times)

    def _queue(self, method: str, fault: _Fault, times: int) -> None:
        with self._cond:
            self._queued_faults.setdefault(method.lower(), []).extend([fault] * times)

    def wait_for(self, predicate: Callable[[Call], bool], timeout: float | None = None, since: int = 0,
                 chat_id: int | None = None, what: str = "matching call") -> Call:
        """The first finished call (from index `since`) matching `predicate`; chat_id only scopes the dump."""
        return self._wait(lambda: next((c for c in self._calls[since:] if c.done and predicate(c)), None),
                          timeout, chat_id, what)

    def wait_for_message(self, chat_id: int, text_contains: str | None = None, timeout: float | None = None,
                         since: int = 0) -> dict:
        """The first bot message (deleted ones too, so a short-lived one is not missed) created or changed
        since `since`, whose text or caption contains `text_contains`."""
        return self._wait_msg(chat_id, lambda d: text_contains is None or text_contains in
                              (d.get("text") or d.get("caption") or ""), timeout, since, f"message ~ {text_contains!r}")

    def wait_for_photo(self, chat_id: int, timeout: float | None = None, since: int = 0) -> dict:
        return self._wait_msg(chat_id, lambda d: "photo" in d, timeout, since, "photo")

    def wait_for_clip(self, chat_id: int, kind: str, timeout: float | None = None, since: int = 0) -> dict:
        """The bot's next animation, video or video_note (`kind`) in the chat."""
        return self._wait_msg(chat_id, lambda d: kind in d, timeout, since, kind)

    def wait_for_document(self, chat_id: int, timeout: float | None = None, since: int = 0) -> dict:
        return self._wait_msg(chat_id, lambda d: "document" in d, timeout, since, "document")

    def wait_for_media_group(self, chat_id: int, timeout: float | None = None, since: int = 0,
                             count: int | None = None) -> list[dict]:
        def check() -> list[dict] | None:
            groups: dict[str, list[dict]] = {}
            for m in self._msgs.get(chat_id, {}).values():
                if m.from_bot and m.seq >= since and "media_group_id" in m.data:
                    groups.setdefault(m.data["media_group_id"], []).append(self._view(m))
            return next((g for g in groups.values() if count is None or len(g) == count), None)
        return self._wait(check, timeout, chat_id, f"media group of {count or 'any number of'} items")

    def dump(self, chat_id: int | None = None) -> str:
        with self._cond:
            return self._dump(chat_id)

    # ---- internals (called with self._cond held) -------------------------------------------------------
    def _wait(self, check: Callable[[], T | None], timeout: float | None, chat_id: int | None, what: str) -> T:
        timeout = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (found := check()):
                if (left := deadline - time.monotonic()) <= 0:
                    where = "" if chat_id is None else f" in chat {chat_id}"
                    raise AssertionError(f"FakeBotApi: no {what}{where} within {timeout}s.\n{self._dump(chat_id)}")
                self._cond.wait(left)
            return found

    def _wait_msg(self, chat_id: int, match: Callable[[dict], bool], timeout: float | None, since: int,
                  what: str) -> dict:
        return self._wait(lambda: next((self._view(m) for m in self._msgs.get(chat_id, {}).values()
                                        if m.from_bot and m.seq >= since and match(m.data)), None),
                          timeout, chat_id, what)

    def _dump(self, chat_id: int | None) -> str:
        short = lambda v: repr(v if len(v) <= 100 else v[:97] + "...")  # noqa: E731
        lines = [f"Bot calls{'' if chat_id is None else f' (chat {chat_id} and chat-less)'}:"]
        for c in self._calls:
            if chat_id is None or c.chat_id in (None, chat_id):
                args = " ".join(f"{k}={short(v)}" for k, v in c.params.items() if k != "chat_id")
                args += "".join(f" {k}=<{len(u.data)} bytes {u.filename}>" for k, u in c.files.items())
                outcome = "..." if not c.done else "ok" if c.ok else f"ERROR {c.error}"
                lines.append(f"  #{c.index} +{c.time - self._t0:.3f}s {c.method} {args} -> {outcome}")
        for chat, msgs in self._msgs.items():
            if chat_id in (None, chat):
                lines.append(f"Messages in chat {chat}:")
                for m in msgs.values():
                    kind = next((k for k in ("text", "photo", "animation", "video_note", "document", "video", "sticker")
                                 if k in m.data), "?")
                    body = m.data.get("text") or m.data.get("caption") or m.data.get("document", {}).get("file_name") \
                        or ""
                    keys = f" buttons={self.inline_buttons(m.data)}" if "reply_markup" in m.data else \
                        f" markup={json.dumps(m.markup)}" if m.markup else ""
                    lines.append(f"  [{m.data['message_id']}] {'bot' if m.from_bot else 'user'} {kind} {short(body)}"
                                 f"{keys}{' (deleted)' if m.deleted else ''}")
        polls_faulted = sum(c.method.lower() == "getupdates" for c in self._faults)
        lines.append(f"Unconfirmed updates: {len(self._updates)}; getUpdates calls: {self.poll_count}"
                     + (f" (and {polls_faulted} faulted)" if polls_faulted else ""))
        return "\n".join(lines)

    def _view(self, m: _Msg) -> dict:
        view = copy.deepcopy(m.data)
        if m.markup is not None:
            view["reply_markup"] = copy.deepcopy(m.markup)
        view["deleted"] = m.deleted
        return view

    def _user(self, user_id: int) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "username": f"user{user_id}"}
        language = self._languages.get(user_id, "en")
        return user if language is None else {**user, "language_code": language}

    def _sender(self, chat_id: int, user_id: int | None) -> dict:
        """The "from" of a user's message or button press: user_id, by default the private chat's user."""
        if user_id is None:
            if chat_id in self._groups:
                raise AssertionError(f"FakeBotApi: chat {chat_id} is a group: say which user_id sends")
            user_id = chat_id
        return self._user(user_id)

    def _new_message(self, chat_id: int, from_bot: bool, user_id: int | None, seq: int, **content: Any) -> _Msg:
        sender = self.bot_user if from_bot else self._sender(chat_id, user_id)
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        private = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}", "username": f"user{chat_id}"}
        chat = dict(self._groups.get(chat_id) or private)
        data = {"message_id": mid, "from": sender, "chat": chat, "date": int(time.time()), **content}
        msg = self._msgs.setdefault(chat_id, {})[mid] = _Msg(data, from_bot, seq=seq)
        return msg

    def _replied(self, chat_id: int, message_id: int) -> dict | None:
        """A message's reply_to_message: the replied message as stored, without its own reply (as Telegram)."""
        if (target := self._msgs.get(chat_id, {}).get(message_id)) is None:
            return None
        replied = copy.deepcopy(target.data)
        replied.pop("reply_to_message", None)
        return replied

    def _user_message(self, chat_id: int, user_id: int | None, reply_to: int | None = None, **content: Any) -> dict:
        with self._cond:
            if reply_to is not None:
                if (replied := self._replied(chat_id, reply_to)) is None:
                    raise AssertionError(f"FakeBotApi: no message {reply_to} to reply to in chat {chat_id}.\n"
                                         f"{self._dump(chat_id)}")
                content["reply_to_message"] = replied
            msg = self._new_message(chat_id, False, user_id, len(self._calls), **content)
            self._push_update(message=copy.deepcopy(msg.data))
            return copy.deepcopy(msg.data)

    def _push_update(self, **update: Any) -> None:
        self._updates.append({"update_id": next(self._update_ids), **update})
        self._cond.notify_all()

    def _register(self, data: bytes, path_hint: str, file_size: int | None = None) -> _File:
        n = next(self._ids)
        folder, _, name = path_hint.rpartition("/")
        ext = name.rpartition(".")[2] if "." in name else "bin"
        f = _File(f"FILE-{n:06d}", f"UNIQ-{n:06d}", f"{folder or 'documents'}/file_{n}.{ext}",
                  data, len(data) if file_size is None else file_size)
        self._files[f.file_id] = self._paths[f.file_path] = f
        return f

    @staticmethod
    def _file_obj(f: _File) -> dict:
        return {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": f.file_size}

    def _photo_sizes(self, data: bytes, sizes: tuple[int, ...] = (90, 320, 800)) -> list[dict]:
        """PhotoSize array, smallest first, the original bytes last (only it when PIL is missing)."""
        try:
            from PIL import Image
        except ImportError:
            return [{**self._file_obj(self._register(data, "photos/p.jpg")), "width": 0, "height": 0}]
        if not data:  # a URL we cannot fetch (no network)
            return [{**self._file_obj(self._register(data, "photos/p.jpg")), "width": 0, "height": 0}]
        try:
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            rgb = img.convert("RGB")
        except Exception as e:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from e
        out = []
        for side in sorted(s for s in sizes if s < max(w, h)):
            small, buf = rgb.copy(), io.BytesIO()
            small.thumbnail((side, side))
            small.save(buf, "JPEG", quality=85)
            out.append({**self._file_obj(self._register(buf.getvalue(), "photos/p.jpg")),
                        "width": small.width, "height": small.height})
        out.append({**self._file_obj(self._register(data, "photos/p.jpg")), "width": w, "height": h})
        return out

    def _media_obj(self, kind: str, data: bytes, filename: str, mime: str | None, file_size: int | None) -> Any:
        if kind == "photo":
            return self._photo_sizes(data)
        f = self._register(data, f"{kind}s/{filename}", file_size)
        obj = {**self._file_obj(f), "file_name": filename,
               "mime_type": mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"}
        return {**obj, "width": 640, "height": 360, "duration": 1} if kind == "video" else obj

    def _resolve(self, c: Call, value: str | None, field: str) -> tuple[bytes, str, str | None]:
        """An InputFile: a multipart part (plain or attach://name), a known file_id, or a URL (empty bytes)."""
        if value is None or value.startswith("attach://"):
            if (up := c.files.get(value[9:] if value else field)) is None:
                raise ApiError(400, f"Bad Request: there is no {field} in the request")
            return up.data, up.filename, up.content_type
        if value in self._files:
            f = self._files[value]
            return f.data, f.file_path.rpartition("/")[2], None
        if re.match(r"https?://", value):
            return b"", value.rstrip("/").rpartition("/")[2] or "file", None
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _download(self, token: str, path: str) -> bytes | None:
        with self._cond:
            f = self._paths.get(path)
            return None if f is None or (self.token and token != self.token) else f.data

    def _dispatch(self, token: str, method: str, params: dict[str, str],
                  files: dict[str, Upload]) -> tuple[int, dict] | _Fault:
        """Run one Bot API method (with the lock held; getUpdates' wait releases it) and log it; or log the call
        as faulted and return the fault for the handler to act out (without the lock: a stall blocks no one)."""
        if self.token and token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        name = method.lower()
        with self._cond:
            call = Call(len(self._calls), method, params, files, time.monotonic())
            if name != "getupdates":
                self._calls.append(call)
            if queued := self._queued_faults.get(name):
                fault = queued.pop(0)
                call.done, call.error = True, fault.error
                self._faults.append(call)
                self._cond.notify_all()
                return (fault.code, self._error(fault.code, fault.description)) if fault.kind == "json" else fault
            try:
                if (handler := getattr(self, "_m_" + name, None)) is None:
                    raise ApiError(404, "Not Found: method not found")
                status, payload = 200, {"ok": True, "result": handler(call)}
            except ApiError as e:
                status, payload = e.code, self._error(e.code, e.description)
            except Exception as e:  # a bug in the fake: make it visible in the test
                status, payload = 500, {"ok": False, "error_code": 500, "description": f"Fake API error: {e!r}"}
            call.done, call.ok, call.result, call.error = True, payload["ok"], payload.get("result"), \
                payload.get("description")
            self._cond.notify_all()
            return status, payload

    @staticmethod
    def _error(code: int, description: str) -> dict:
        """An error answer; "retry after N" in the description (a 429) sets parameters.retry_after, as in Telegram."""
        payload = {"ok": False, "error_code": code, "description": description}
        if retry := re.search(r"retry after (\d+)", description):
            payload["parameters"] = {"retry_after": int(retry.group(1))}
        return payload

    def _chat(self, c: Call) -> int:
        if c.chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        return c.chat_id

    def _find(self, c: Call, action: str) -> _Msg:
        msg = self._msgs.get(self._chat(c), {}).get(int(c.params.get("message_id") or 0))
        if msg is None or msg.deleted:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        if action == "edit" and not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _set_markup(self, msg: _Msg, markup: Any) -> None:
        msg.markup = markup
        if markup and "inline_keyboard" in markup:
            msg.data["reply_markup"] = markup
        else:
            msg.data.pop("reply_markup", None)

    def _bot_message(self, c: Call, **content: Any) -> dict:
        chat = self._chat(c)
        reply = c.json_param("reply_parameters") or {"message_id": int(c.params.get("reply_to_message_id") or 0)}
        if replied := self._replied(chat, reply["message_id"]):
            content["reply_to_message"] = replied
        msg = self._new_message(chat, True, None, c.index, **content)
        self._set_markup(msg, c.json_param("reply_markup"))
        return copy.deepcopy(msg.data)

    @staticmethod
    def _caption(params: dict) -> dict:
        return {"caption": params["caption"]} if params.get("caption") else {}

    def _edit(self, c: Call, field: str) -> dict:
        """editMessageText/Caption: omitting reply_markup removes the inline keyboard, as in Telegram."""
        msg = self._find(c, "edit")
        if (field == "text") != ("text" in msg.data):
            raise ApiError(400, f"Bad Request: there is no {field} in the message to edit")
        new, markup = c.params.get(field, ""), c.json_param("reply_markup")
        if field == "text" and not new:
            raise ApiError(400, "Bad Request: message text is empty")
        if new == msg.data.get(field, "") and markup == msg.markup:
            raise ApiError(400, NOT_MODIFIED)
        msg.data[field], msg.data["edit_date"], msg.seq = new, int(time.time()), c.index
        self._set_markup(msg, markup)
        return copy.deepcopy(msg.data)

    # ---- Bot API methods (name lower-cased: the real API is case-insensitive) ----------------------------
    def _m_getme(self, c: Call) -> dict:
        return dict(self.bot_user)

    def _m_getupdates(self, c: Call) -> list[dict]:
        """Long polling: confirm updates below `offset` (negative: keep the last -offset), then wait; refused
        while a webhook is set, as in Telegram."""
        if self.webhook is not None:
            self.polls_refused += 1
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset, limit = int(c.params.get("offset") or 0), int(c.params.get("limit") or 100)
        deadline = time.monotonic() + min(float(c.params.get("timeout") or 0), self.max_poll_wait)
        self.poll_count, epoch = self.poll_count + 1, self._poll_epoch
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        while not self._updates and not self._closed and epoch == self._poll_epoch \
                and (left := deadline - time.monotonic()) > 0:
            self._cond.wait(left)
        return copy.deepcopy(self._updates[:limit])

    def _m_setwebhook(self, c: Call) -> bool:
        """Like Telegram: an https:// URL only (an empty one deletes the webhook: telebot's remove_webhook), a
        secret of its allowed characters; the updates then wait for `post_update` instead of getUpdates."""
        url = c.params.get("url", "")
        if not url:
            return self._m_deletewebhook(c)
        if not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = c.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": c.json_param("allowed_updates")}
        self._drop_pending(c)
        return True

    def _m_deletewebhook(self, c: Call) -> bool:
        self.webhook = None
        self._drop_pending(c)
        return True

    def _m_getwebhookinfo(self, c: Call) -> dict:
        info = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self.webhook is not None:
            info["url"] = self.webhook["url"]
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _drop_pending(self, c: Call) -> None:
        if c.params.get("drop_pending_updates", "").lower() in ("true", "1"):
            self._updates.clear()

    def _m_setmycommands(self, c: Call) -> bool:
        """Kept by language_code and by scope type too, so a bot's menus in each language can be checked."""
        self.commands = c.json_param("commands") or []
        language = c.params.get("language_code") or None
        self.commands_by_language[language] = self.commands
        self.commands_by_scope[(self._scope(c), language)] = self.commands
        return True

    def _m_getmycommands(self, c: Call) -> list[dict]:
        return copy.deepcopy(self.commands_by_scope.get((self._scope(c), c.params.get("language_code") or None), []))

    @staticmethod
    def _scope(c: Call) -> str:
        return (c.json_param("scope") or {}).get("type", "default")

    def _m_sendchataction(self, c: Call) -> bool:
        self._chat(c)
        return True

    def _m_answercallbackquery(self, c: Call) -> bool:
        if c.params.get("callback_query_id") not in self._callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._callbacks.discard(c.params["callback_query_id"])
        return True

    def _m_sendmessage(self, c: Call) -> dict:
        if not c.params.get("text", "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._bot_message(c, text=c.params["text"])

    def _m_editmessagetext(self, c: Call) -> dict:
        return self._edit(c, "text")

    def _m_editmessagecaption(self, c: Call) -> dict:
        return self._edit(c, "caption")

    def _m_editmessagereplymarkup(self, c: Call) -> dict:
        msg = self._find(c, "edit")
        if (markup := c.json_param("reply_markup")) == msg.markup:
            raise ApiError(400, NOT_MODIFIED)
        self._set_markup(msg, markup)
        msg.seq = c.index
        return copy.deepcopy(msg.data)

    def _m_deletemessage(self, c: Call) -> bool:
        msg = self._find(c, "delete")
        msg.deleted, msg.seq = True, c.index
        return True

    def _m_getfile(self, c: Call) -> dict:
        if (f := self._files.get(c.params.get("file_id", ""))) is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if f.file_size > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {**self._file_obj(f), "file_path": f.file_path}

    def _m_sendphoto(self, c: Call) -> dict:
        photo = self._photo_sizes(self._resolve(c, c.params.get("photo"), "photo")[0])
        return self._bot_message(c, photo=photo, **self._caption(c.params))

    def _m_senddocument(self, c: Call) -> dict:
        data, filename, mime = self._resolve(c, c.params.get("document"), "document")
        doc = self._media_obj("document", data, filename, mime, None)
        return self._bot_message(c, document=doc, **self._caption(c.params))

    def _clip(self, c: Call, kind: str) -> dict:
        """sendAnimation/sendVideo/sendVideoNote: the uploaded MP4 kept as it came, described by the call's own
        width, height, duration (and a video note's length), as Telegram describes what it was given."""
        data, filename, mime = self._resolve(c, c.params.get(kind), kind)
        f = self._register(data, f"{kind}s/{filename}")
        duration = int(c.params.get("duration") or 0)
        if kind == "video_note":
            return self._bot_message(c, video_note={**self._file_obj(f), "length": int(c.params.get("length") or 0),
                                                    "duration": duration})
        media = {**self._file_obj(f), "width": int(c.params.get("width") or 0),
                 "height": int(c.params.get("height") or 0), "duration": duration, "file_name": filename,
                 "mime_type": mime or "video/mp4"}
        extra = {"document": dict(media)} if kind == "animation" else {}
        return self._bot_message(c, **{kind: media}, **extra, **self._caption(c.params))

    def _m_sendanimation(self, c: Call) -> dict:
        return self._clip(c, "animation")

    def _m_sendvideo(self, c: Call) -> dict:
        return self._clip(c, "video")

    def _m_sendvideonote(self, c: Call) -> dict:
        return self._clip(c, "video_note")

    def _m_sendmediagroup(self, c: Call) -> list[dict]:
        media = c.json_param("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: media group must have 2-10 items")
        items = [(m, self._media_obj(m["type"], *self._resolve(c, m.get("media"), m["type"]), None)) for m in media]
        group = str(10**17 + next(self._ids))
        out = []
        for m, obj in items:
            out.append(self._bot_message(c, media_group_id=group, **{m["type"]: obj}, **self._caption(m)))
        return out


def fake_api_fixture() -> Iterator[FakeBotApi]:
    """Body of a pytest fixture: a started, installed FakeBotApi, closed (URLs restored) afterwards."""
    with FakeBotApi() as api:
        api.install()
        yield api
