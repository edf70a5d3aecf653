"""The durable store (bots.store): the JSON codec; then settings, telebot states through a real TeleBot,
results behind buttons and the job journal, each against both backends (SQLite, and Redis through a real
redis-server: see redis_server.py); then what only one backend has (SQLite's file and its opening errors,
Redis's restarts, URLs and login); and several threads and processes on one store.

Every test works in its own temporary folder or Redis key prefix; time is a fake clock, so nothing sleeps.
"""
from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from telebot import TeleBot
from telebot.custom_filters import StateFilter
from telebot.states import State, StatesGroup
from telebot.storage import StateStorageBase
from telebot.types import Update

from bots.chat.conversation import Flow
from bots.common.backbone import Backbone
from bots.common.requests import InstantRequest, PaintRequest, Remembered, Style
from bots.common.settings import UserSettings
from bots.store import (JobJournal, JobRecord, JobStatus, JournalSummary, ResultStorage, SettingsStorage, Store,
                        StoreError)
from bots.store.codec import (CodecError, decode_request, decode_result, decode_settings, decode_style,
                              encode_request, encode_result, encode_settings, encode_style)
from bots.store.redis import RedisStore, redact
from bots.store.sqlite import DATABASE_NAME, SCHEMA_VERSION, SqliteStore
from fake_clock import FakeClock
from redis_server import RedisServer, free_port

REPO = Path(__file__).resolve().parents[1]
DAY = 24 * 3600.0
DEFAULTS = UserSettings(size=512)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot"  # not there yet: open creates it, parents too


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the file, as another program would have, in autocommit mode."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def reopen(data_dir: Path, clock: FakeClock, **options: object) -> SqliteStore:
    """Another store on the same folder: what the bot gets after a restart, or a worker process."""
    return SqliteStore.open(data_dir, DEFAULTS, clock=clock, **options)


def count(path: Path, table: str) -> int:
    with raw(path) as other:
        return other.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


class SqliteBackend:
    """The SQLite store in a folder, for the tests both backends pass; `open` again is a restart (or a
    worker process), the other methods are what another program would see and do in the file."""

    def __init__(self, data_dir: Path, clock: FakeClock) -> None:
        self.data_dir = data_dir
        self.clock = clock

    def open(self, defaults: UserSettings = DEFAULTS, **options: object) -> SqliteStore:
        return SqliteStore.open(self.data_dir, defaults, **{"clock": self.clock, **options})

    def spec(self) -> tuple[str, ...]:
        """What a spawned process needs to open the same store (see `open_spec`)."""
        return "sqlite", str(self.data_dir)

    def count(self, what: str) -> int:
        """How many settings, results or jobs are stored."""
        return count(self.data_dir / DATABASE_NAME, what)

    def write_setting(self, user_id: int, name: str, value: object) -> None:
        with raw(self.data_dir / DATABASE_NAME) as other:
            (text,) = other.execute("SELECT changes FROM settings WHERE user_id = ?", (user_id,)).fetchone()
            other.execute("UPDATE settings SET changes = ? WHERE user_id = ?",
                          (json.dumps({**json.loads(text), name: value}), user_id))

    def drop_results(self) -> None:
        with raw(self.data_dir / DATABASE_NAME) as other:
            other.execute("DELETE FROM results")


class RedisBackend:
    """The Redis store under a prefix of its own on the session's redis-server; the same methods."""

    _KEYS = {"settings": "settings:*", "results": "result:*", "jobs": "job:*"}
    _prefixes = itertools.count()

    def __init__(self, server: RedisServer, clock: FakeClock) -> None:
        self.server = server
        self.clock = clock
        self.prefix = f"test-{os.getpid()}-{next(self._prefixes)}:"

    def open(self, defaults: UserSettings = DEFAULTS, **options: object) -> RedisStore:
        return RedisStore.open(self.server.url, defaults, **{"clock": self.clock, "prefix": self.prefix, **options})

    def spec(self) -> tuple[str, ...]:
        return "redis", self.server.url, self.prefix

    def count(self, what: str) -> int:
        with self.client() as client:
            return len(list(client.scan_iter(match=self.prefix + self._KEYS[what])))

    def write_setting(self, user_id: int, name: str, value: object) -> None:
        with self.client() as client:
            client.hset(f"{self.prefix}settings:{user_id}", name, json.dumps(value))

    def drop_results(self) -> None:
        with self.client() as client:
            client.delete(*client.scan_iter(match=self.prefix + self._KEYS["results"]))

    def client(self) -> redis.Redis:
        """A plain client, as another program would have."""
        return redis.Redis.from_url(self.server.url, decode_responses=True)


Backend = SqliteBackend | RedisBackend


def open_spec(spec: tuple[str, ...]) -> Store:
    """In a spawned process: the store `Backend.spec` describes, on the real clock."""
    kind, *where = spec
    if kind == "sqlite":
        return SqliteStore.open(Path(where[0]), DEFAULTS)
    return RedisStore.open(where[0], DEFAULTS, prefix=where[1])


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, data_dir: Path, clock: FakeClock) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(data_dir, clock)
    return RedisBackend(request.getfixturevalue("redis_server"), clock)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    with backend.open() as opened:
        yield opened


@pytest.fixture
def sqlite_store(data_dir: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    with SqliteStore.open(data_dir, DEFAULTS, clock=clock) as opened:
        yield opened


PAINT = PaintRequest("content-id", Style(file_id="style-id"), (Backbone.VGG19, Backbone.RESNET50),
                     UserSettings(strength="soft", size=256, keep_colors=True, backbone=None))
PAINT_BUILTIN = PaintRequest("content-2", Style(builtin="starry_night"), (Backbone.RESNET50,),
                             UserSettings(backbone=Backbone.RESNET50))
INSTANT = InstantRequest("content-3", ("mosaic", "candy", "udnie"), UserSettings(strength="strong", size=1024))
INSTANT_ONE = InstantRequest("content-4", ("mosaic",), UserSettings(backbone=Backbone.VGG19))


def through_json(data: dict) -> dict:
    return json.loads(json.dumps(data))


# ---- import -------------------------------------------------------------------------------------------
def test_the_store_does_not_load_torch() -> None:
    code = ("import sys, bots.store, bots.store.codec, bots.store.sqlite, bots.store.redis\n"
            "from bots.store.sqlite import SqliteStore\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert 'bots.jobs.engines' not in sys.modules, 'bots.jobs.engines was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_parts_have_the_interfaces_shape(store: Store) -> None:
    assert isinstance(store.states, StateStorageBase)
    for part, interface in ((store.settings, SettingsStorage), (store.results, ResultStorage),
                            (store.journal, JobJournal)):
        missing = [name for name in dir(interface) if not name.startswith("_") and not hasattr(part, name)]
        assert not missing, (part, missing)


# ---- codec --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", [Style(builtin="starry_night"), Style(file_id="AgACAgIAAxkBAAI")])
def test_styles_round_trip(style: Style) -> None:
    encoded = through_json(encode_style(style))
    assert encoded["kind"] == "style"
    assert decode_style(encoded) == style


@pytest.mark.parametrize("settings", [UserSettings(), UserSettings(backbone=None, keep_colors=True),
                                      UserSettings(strength="strong", size=2048, backbone=Backbone.RESNET50)])
def test_settings_round_trip(settings: UserSettings) -> None:
    encoded = through_json(encode_settings(settings))
    assert encoded["kind"] == "settings"
    assert encoded["backbone"] == (settings.backbone.value if settings.backbone else None)
    assert decode_settings(encoded) == settings


@pytest.mark.parametrize("request_", [PAINT, PAINT_BUILTIN, INSTANT, INSTANT_ONE])
def test_requests_round_trip(request_: PaintRequest | InstantRequest) -> None:
    encoded = through_json(encode_request(request_))
    assert encoded["kind"] == ("paint" if isinstance(request_, PaintRequest) else "instant")
    decoded = decode_request(encoded)
    assert decoded == request_ and type(decoded) is type(request_)
    assert isinstance(decoded.settings.backbone, (Backbone, type(None)))


@pytest.mark.parametrize("result", [
    Remembered(1, PAINT, {Backbone.VGG19: "vgg-picture", Backbone.RESNET50: "resnet-picture"}),
    Remembered(-100123, PAINT_BUILTIN),
    Remembered(7, INSTANT),
    Remembered(8, INSTANT_ONE, {}),
])
def test_results_round_trip(result: Remembered) -> None:
    decoded = decode_result(through_json(encode_result(result)))
    assert decoded == result
    assert list(decoded.pictures) == list(result.pictures)  # the order of a comparison's pictures too
    assert all(isinstance(key, Backbone) for key in decoded.pictures)


@pytest.mark.parametrize("bad", [
    {"kind": "paint"},
    {"kind": "sketch", "content": "x"},
    {**encode_request(PAINT), "backbones": ["alexnet"]},
    {**encode_request(PAINT), "style": {"kind": "style", "builtin": "a", "file_id": "b"}},
    {**encode_request(INSTANT), "settings": {**encode_settings(UserSettings()), "size": "big"}},
    {**encode_request(INSTANT), "styles": [1, 2]},
])
def test_what_does_not_decode_is_a_codec_error(bad: dict) -> None:
    with pytest.raises(CodecError):
        decode_request(bad)
    with pytest.raises(CodecError):
        decode_result({"kind": "result", "chat_id": 1, "request": bad})


def test_settings_decode_over_a_base_and_skip_unknown_fields() -> None:
    base = UserSettings(size=640, backbone=Backbone.VGG19)
    assert decode_settings({"strength": "soft", "from_the_future": 1}, base) == UserSettings(
        strength="soft", size=640, backbone=Backbone.VGG19)


# ---- settings -----------------------------------------------------------------------------------------
def test_settings_start_from_the_defaults_without_writing_them(store: Store, backend: Backend) -> None:
    assert store.settings.get(42) == DEFAULTS
    assert store.settings.defaults == DEFAULTS
    assert backend.count("settings") == 0


def test_settings_changes_survive_a_restart(store: Store, backend: Backend) -> None:
    assert store.settings.change(1, strength="strong") == replace_defaults(strength="strong")
    assert store.settings.change(1, backbone=Backbone.RESNET50, keep_colors=True) == replace_defaults(
        strength="strong", backbone=Backbone.RESNET50, keep_colors=True)
    store.settings.change(2, backbone=None)
    store.close()
    with backend.open() as again:
        assert again.settings.get(1) == replace_defaults(strength="strong", backbone=Backbone.RESNET50,
                                                         keep_colors=True)
        assert again.settings.get(2) == DEFAULTS
        assert again.settings.get(3) == DEFAULTS
        assert again.settings.change(1, backbone=None).backbone is None
        assert again.settings.get(1).backbone is None


def replace_defaults(**changes: object) -> UserSettings:
    return replace(DEFAULTS, **changes)


def test_unchanged_settings_follow_new_defaults(store: Store, backend: Backend) -> None:
    store.settings.change(1, strength="soft")
    store.close()
    with backend.open(UserSettings(size=256)) as again:
        assert again.settings.get(1) == UserSettings(strength="soft", size=256)


def test_an_unknown_setting_is_refused_before_anything_is_written(store: Store) -> None:
    with pytest.raises(TypeError):
        store.settings.change(1, colour="blue")
    with pytest.raises(TypeError):
        store.settings.change(1, size=object())
    with pytest.raises(CodecError):
        store.settings.change(1, size="big")
    with pytest.raises(CodecError):
        store.settings.change(1, backbone="alexnet")
    assert store.settings.get(1) == DEFAULTS


def test_an_unreadable_stored_setting_is_skipped(store: Store, backend: Backend) -> None:
    store.settings.change(1, strength="soft", backbone=Backbone.VGG19)
    backend.write_setting(1, "backbone", "alexnet")
    assert store.settings.get(1) == replace_defaults(strength="soft")


# ---- states, through a real TeleBot -------------------------------------------------------------------
class Later(StatesGroup):
    """A second conversation step, as a bot with more steps than the style question would have."""

    step = State()


def bot_on(store: Store) -> TeleBot:
    return TeleBot("123:ABC", state_storage=store.states, threaded=False)


def test_telebot_states_and_data_survive_a_restart(store: Store, backend: Backend) -> None:
    bot = bot_on(store)
    assert bot.get_state(5, 10) is None
    assert bot.set_state(5, Flow.style, 10)
    bot.add_data(5, 10, content="photo-id", count=2)
    with bot.retrieve_data(5, 10) as data:
        assert data == {"content": "photo-id", "count": 2}
        data["style"] = {"builtin": "starry_night"}
        data["nested"] = [1, 2.5, None, True, {"a": "é"}]
    assert bot.get_state(5, 10) == "Flow:style" == Flow.style.name
    assert bot.set_state(5, Later.step, 10)  # a new state keeps the data
    store.close()

    with backend.open() as again:
        bot = bot_on(again)
        assert bot.get_state(5, 10) == "Later:step"
        with bot.retrieve_data(5, 10) as data:
            assert data == {"content": "photo-id", "count": 2, "style": {"builtin": "starry_night"},
                            "nested": [1, 2.5, None, True, {"a": "é"}]}
        assert bot.get_state(5) is None  # the user's private chat is another key
        assert bot.delete_state(5, 10)
        assert not bot.delete_state(5, 10)
        assert bot.get_state(5, 10) is None
        with bot.retrieve_data(5, 10) as data:
            assert data == {}


def test_a_state_handler_finds_its_state_after_a_restart(store: Store, backend: Backend) -> None:
    bot_on(store).set_state(5, Flow.style, 10)
    store.close()
    with backend.open() as again:
        bot, seen = bot_on(again), []
        bot.add_custom_filter(StateFilter(bot))
        bot.register_message_handler(lambda message: seen.append(("style", message.text)), state=Flow.style)
        bot.register_message_handler(lambda message: seen.append(("other", message.text)))
        bot.process_new_updates([Update.de_json({"update_id": 1, "message": {
            "message_id": 1, "date": 0, "text": "hello", "chat": {"id": 10, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "Ann"}}})])
        assert seen == [("style", "hello")]


def test_telebot_keys_keep_bots_threads_and_business_connections_apart(store: Store) -> None:
    bot, other_bot = bot_on(store), TeleBot("456:DEF", state_storage=store.states, threaded=False)
    bot.set_state(1, "A:a", 2)
    other_bot.set_state(1, "B:b", 2)
    bot.set_state(1, "C:c", 2, message_thread_id=9)
    bot.set_state(1, "D:d", 2, business_connection_id="biz")
    assert [bot.get_state(1, 2), other_bot.get_state(1, 2), bot.get_state(1, 2, message_thread_id=9),
            bot.get_state(1, 2, business_connection_id="biz")] == ["A:a", "B:b", "C:c", "D:d"]


def test_data_without_a_state_is_refused_like_telebots_memory_storage(store: Store) -> None:
    bot = bot_on(store)
    with pytest.raises(RuntimeError):
        bot.add_data(1, 2, content="x")
    with bot.retrieve_data(1, 2) as data:
        data["lost"] = True  # nothing to save it in, as with telebot's memory storage
    assert bot.get_state(1, 2) is None
    assert bot.retrieve_data(1, 2).data == {}


def test_state_data_must_be_json(store: Store) -> None:
    bot = bot_on(store)
    bot.set_state(1, Flow.style, 2)
    with pytest.raises(TypeError, match="JSON"):
        bot.add_data(1, 2, style=Style(builtin="starry_night"))
    with pytest.raises(TypeError, match="JSON"):
        with bot.retrieve_data(1, 2) as data:
            data["style"] = Style(builtin="starry_night")
    assert store.states.get_data(2, 1, bot_id=123) == {}


def test_reset_data_keeps_the_state_and_an_error_in_the_block_is_not_swallowed(store: Store) -> None:
    bot = bot_on(store)
    assert not bot.reset_data(1, 2)
    bot.set_state(1, Flow.style, 2)
    bot.add_data(1, 2, content="x")
    assert bot.reset_data(1, 2)
    assert bot.get_state(1, 2) == "Flow:style"
    with pytest.raises(KeyError):  # telebot's own context would swallow it (its __exit__ returns True)
        with bot.retrieve_data(1, 2) as data:
            data["content"] = "y"
            raise KeyError("boom")
    with bot.retrieve_data(1, 2) as data:
        assert data == {"content": "y"}  # saved on the way out, as telebot does


def test_the_storage_api_directly(store: Store) -> None:
    states = store.states
    assert states.set_state(2, 1, "Flow:style", bot_id=7)
    assert states.set_data(2, 1, "k", "v", bot_id=7)
    assert states.get_data(2, 1, bot_id=7) == {"k": "v"}
    taken = states.get_data(2, 1, bot_id=7)
    taken["k"] = "changed"
    assert states.get_data(2, 1, bot_id=7) == {"k": "v"}  # a copy
    assert states.save(2, 1, {"k": "saved"}, None, None, 7)  # positional, as StateDataContext calls it
    assert states.get_data(2, 1, bot_id=7) == {"k": "saved"}
    assert not states.save(2, 99, {"k": "x"}, bot_id=7)
    with states.get_interactive_data(2, 1, bot_id=7) as data:
        data["more"] = 1
    assert states.get_data(2, 1, bot_id=7) == {"k": "saved", "more": 1}
    assert states.set_state(2, 1, None, bot_id=7) and states.get_state(2, 1, bot_id=7) is None


def test_forgotten_conversations_are_purged(store: Store, clock: FakeClock) -> None:
    bot = bot_on(store)
    bot.set_state(1, Flow.style, 1)
    clock.advance(31 * DAY)
    bot.set_state(2, Flow.style, 2)
    assert bot.get_state(1, 1) is None
    assert bot.get_state(2, 2) == "Flow:style"


# ---- results ------------------------------------------------------------------------------------------
def test_results_are_recalled_by_number_in_their_own_chat(store: Store) -> None:
    first = store.results.remember(Remembered(10, PAINT, {Backbone.VGG19: "v", Backbone.RESNET50: "r"}))
    second = store.results.remember(Remembered(20, INSTANT))
    assert 0 < first < second
    assert store.results.recall(first, 10) == Remembered(10, PAINT, {Backbone.VGG19: "v", Backbone.RESNET50: "r"})
    assert store.results.recall(second, 20) == Remembered(20, INSTANT)
    assert store.results.recall(first, 20) is None  # another chat's
    assert store.results.recall(first, 10) is not None  # ...which did not delete it
    assert store.results.recall(second + 1, 20) is None
    assert store.results.recall(0, 20) is None
    assert store.results.recall(10 ** 30, 20) is None  # a forged button: no OverflowError


def test_result_numbers_only_grow_across_restarts(store: Store, backend: Backend) -> None:
    numbers = [store.results.remember(Remembered(1, INSTANT_ONE)) for _ in range(3)]
    backend.drop_results()  # even when the newest one is gone
    store.close()
    with backend.open() as again:
        number = again.results.remember(Remembered(1, INSTANT_ONE))
        assert number > max(numbers)
        assert again.results.recall(number, 1) == Remembered(1, INSTANT_ONE)


def test_old_results_are_forgotten_and_deleted(backend: Backend, clock: FakeClock) -> None:
    with backend.open(result_days=2) as store:
        old = store.results.remember(Remembered(1, PAINT))
        clock.advance(2 * DAY - 1)
        assert store.results.recall(old, 1) == Remembered(1, PAINT)
        clock.advance(2)
        assert store.results.recall(old, 2) is None  # another chat's, and expired: deleted as well
        assert backend.count("results") == 0


def test_expired_results_are_purged_at_most_once_a_minute(data_dir: Path, clock: FakeClock) -> None:
    start = clock.now
    with SqliteStore.open(data_dir, DEFAULTS, result_days=1, clock=clock) as store:
        store.results.remember(Remembered(1, PAINT))  # A; the first remember purges (nothing yet)
        clock.advance(10)
        store.results.remember(Remembered(1, PAINT))  # B
        clock.now = start + DAY + 5
        store.results.remember(Remembered(1, PAINT))  # C: A goes on the way
        assert count(store.path, "results") == 2
        clock.now = start + DAY + 30
        store.results.remember(Remembered(1, PAINT))  # D: B has expired, but the last purge was 25 s ago
        assert count(store.path, "results") == 3
        clock.now = start + DAY + 70
        store.results.remember(Remembered(1, PAINT))  # E: B goes
        assert count(store.path, "results") == 3


# ---- the job journal ----------------------------------------------------------------------------------
def test_a_job_goes_from_waiting_to_delivered(store: Store, clock: FakeClock) -> None:
    payload = {"request": encode_request(PAINT), "reply_to": 77}
    job = store.journal.add(1, 10, "transfer", "paint", payload)
    assert job == JobRecord(id=job.id, user_id=1, chat_id=10, lane="transfer", kind="paint", payload=payload,
                            status_message_id=None, status=JobStatus.WAITING, attempts=0, created=clock.now,
                            started=None, finished=None)
    assert store.journal.get(job.id) == job
    store.journal.set_status_message(job.id, 555)
    clock.advance(5)
    running = store.journal.start(job.id)
    assert (running.status, running.attempts, running.started, running.status_message_id) == (
        JobStatus.RUNNING, 1, clock.now, 555)
    clock.advance(12.5)
    assert store.journal.finish(job.id, JobStatus.DELIVERED)
    assert not store.journal.finish(job.id, JobStatus.FAILED)  # a supervisor too late: nothing to report
    done = store.journal.get(job.id)
    assert (done.status, done.finished, done.attempts) == (JobStatus.DELIVERED, clock.now, 1)
    assert decode_request(done.payload["request"]) == PAINT


def test_journal_mistakes(store: Store) -> None:
    job = store.journal.add(1, 1, "transfer", "paint", {})
    with pytest.raises(ValueError):
        store.journal.finish(job.id, JobStatus.RUNNING)
    with pytest.raises(TypeError, match="JSON"):
        store.journal.add(1, 1, "transfer", "paint", {"style": Style(builtin="x")})
    with pytest.raises(TypeError):
        store.journal.add(1, 1, "transfer", "paint", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        store.journal.start(job.id + 100)
    with pytest.raises(KeyError):
        store.journal.set_status_message(job.id + 100, 1)
    assert store.journal.get(job.id + 100) is None
    assert not store.journal.finish(job.id + 100, JobStatus.CANCELLED)
    assert store.journal.finish(job.id, "cancelled")  # type: ignore[arg-type]  # its value works too


def test_a_cancelled_job_is_not_started(store: Store) -> None:
    job = store.journal.add(1, 1, "transfer", "paint", {})
    assert store.journal.finish(job.id, JobStatus.CANCELLED)
    after = store.journal.start(job.id)
    assert (after.status, after.attempts, after.started) == (JobStatus.CANCELLED, 0, None)


def test_unfinished_jobs_are_resumed_in_order_after_a_restart(store: Store, backend: Backend,
                                                              clock: FakeClock) -> None:
    ids = []
    for n in range(5):
        ids.append(store.journal.add(n, n, "instant" if n % 2 else "transfer", "paint", {"n": n}).id)
        clock.advance(1)
    store.journal.start(ids[1])
    store.journal.start(ids[3])
    store.journal.finish(ids[3], JobStatus.DELIVERED)
    store.journal.finish(ids[4], JobStatus.CANCELLED)
    store.close()
    with backend.open() as again:
        resumed = again.journal.unfinished()
        assert [job.id for job in resumed] == [ids[0], ids[1], ids[2]]
        assert [job.status for job in resumed] == [JobStatus.WAITING, JobStatus.RUNNING, JobStatus.WAITING]
        assert again.journal.start(ids[1]).attempts == 2  # running when the bot stopped: a second attempt


def test_jobs_created_since_count_cancelled_ones_with_their_cost(store: Store, clock: FakeClock) -> None:
    times = []
    for cost in (None, 7, None):  # a photo, a 7-second clip, a photo
        job = store.journal.add(1, 1, "transfer", "paint", {} if cost is None else {"cost": cost})
        times.append(job.created)
        clock.advance(600)
    store.journal.finish(job.id, JobStatus.CANCELLED)
    store.journal.add(2, 2, "transfer", "paint", {})
    assert store.journal.created_since(1, times[0]) == list(zip(times, (1, 7, 1)))
    assert store.journal.created_since(1, times[1]) == [(times[1], 7), (times[2], 1)]
    assert store.journal.created_since(1, clock.now) == []
    assert store.journal.created_since(3, 0) == []


def test_summary_counts_and_durations(store: Store, clock: FakeClock) -> None:
    def job(kind: str, status: JobStatus, seconds: float, start: bool = True) -> None:
        record = store.journal.add(1, 1, "transfer", kind, {})
        if start:
            store.journal.start(record.id)
        clock.advance(seconds)
        store.journal.finish(record.id, status)

    job("paint", JobStatus.DELIVERED, 30)  # before the period
    clock.advance(1)
    since = clock.now
    job("paint", JobStatus.DELIVERED, 20)
    job("paint", JobStatus.DELIVERED, 10)
    job("instant", JobStatus.DELIVERED, 2)
    job("upscale", JobStatus.FAILED, 5)
    job("paint", JobStatus.CANCELLED, 1, start=False)
    store.journal.add(1, 1, "transfer", "paint", {})  # unfinished: not counted
    assert store.journal.summary(since) == JournalSummary(delivered=3, failed=1, cancelled=1,
                                                          durations={"instant": [2.0], "paint": [10.0, 20.0]})
    assert store.journal.summary(clock.now + 1) == JournalSummary()


def test_old_final_jobs_are_purged(backend: Backend, clock: FakeClock) -> None:
    with backend.open(job_days=30) as store:
        old = store.journal.add(1, 1, "transfer", "paint", {})
        store.journal.finish(old.id, JobStatus.DELIVERED)
        waiting = store.journal.add(1, 1, "transfer", "paint", {})
        clock.advance(31 * DAY)
        store.journal.add(1, 1, "transfer", "paint", {})
        assert store.journal.get(old.id) is None
        assert store.journal.get(waiting.id) is not None  # never an unfinished one


# ---- SQLite only: opening its file --------------------------------------------------------------------
def test_open_creates_the_folder_and_a_wal_database(sqlite_store: SqliteStore, data_dir: Path) -> None:
    assert sqlite_store.path == data_dir / DATABASE_NAME and sqlite_store.path.is_file()
    with raw(sqlite_store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "stylebot.sqlite3" in repr(sqlite_store)


def test_a_folder_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the data folder .*afile") as error:
        SqliteStore.open(tmp_path / "afile" / "data", DEFAULTS)
    assert "\n" not in str(error.value)


def test_a_data_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(StoreError, match="afile is a file, not a folder"):
        SqliteStore.open(tmp_path / "afile", DEFAULTS)


def test_a_database_path_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / DATABASE_NAME).mkdir()  # a folder where the file should be: refused even as root
    with pytest.raises(StoreError, match=f"cannot open .*{DATABASE_NAME}"):
        SqliteStore.open(tmp_path, DEFAULTS)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="ro"):
            SqliteStore.open(folder, DEFAULTS)
    finally:
        folder.chmod(0o700)


def test_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / DATABASE_NAME).write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="damaged or not a database: move it away") as error:
        SqliteStore.open(tmp_path, DEFAULTS)
    assert str(tmp_path / DATABASE_NAME) in str(error.value) and "\n" not in str(error.value)


def test_another_programs_database(tmp_path: Path) -> None:
    with raw(tmp_path / DATABASE_NAME) as other:
        other.execute("CREATE TABLE mine (x)")
    with pytest.raises(StoreError, match="not stylebot's"):
        SqliteStore.open(tmp_path, DEFAULTS)


def test_a_newer_schema(sqlite_store: SqliteStore, data_dir: Path) -> None:
    sqlite_store.close()
    with raw(data_dir / DATABASE_NAME) as other:
        other.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer version"):
        SqliteStore.open(data_dir, DEFAULTS)


@pytest.mark.parametrize("existing", [True, False], ids=["wal-database", "fresh-file"])
def test_a_database_locked_by_another_program(tmp_path: Path, existing: bool) -> None:
    if existing:
        SqliteStore.open(tmp_path, DEFAULTS).close()
    other = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="locked by another program for more than 0.2 s") as error:
            SqliteStore.open(tmp_path, DEFAULTS, busy_timeout=0.2)
        assert str(tmp_path / DATABASE_NAME) in str(error.value)
        other.execute("ROLLBACK")
    finally:
        other.close()
    SqliteStore.open(tmp_path, DEFAULTS, busy_timeout=0.2).close()  # free again


def test_a_lock_held_while_running_is_a_store_error(sqlite_store: SqliteStore, data_dir: Path,
                                                     clock: FakeClock) -> None:
    with reopen(data_dir, clock, busy_timeout=0.1) as impatient:
        other = sqlite3.connect(sqlite_store.path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreError, match="locked"):
                impatient.journal.add(1, 1, "transfer", "paint", {})
            assert impatient.settings.get(1) == DEFAULTS  # reading goes on (WAL)
        finally:
            other.close()
        impatient.journal.add(1, 1, "transfer", "paint", {})


def test_a_closed_store_says_so(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.settings.get(1)


def test_bad_retention(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SqliteStore.open(tmp_path, DEFAULTS, result_days=0)
    with pytest.raises(ValueError):  # before connecting: no server needed
        RedisStore.open("redis://127.0.0.1:1/0", DEFAULTS, job_days=0)


# ---- Redis only: restarts, URLs, login, expiry ----------------------------------------------------------
@pytest.fixture
def redis_backend(redis_server: RedisServer, clock: FakeClock) -> RedisBackend:
    return RedisBackend(redis_server, clock)


def test_everything_survives_a_redis_restart(redis_backend: RedisBackend, redis_server: RedisServer) -> None:
    with redis_backend.open() as store:
        store.settings.change(1, strength="soft")
        bot = bot_on(store)
        bot.set_state(5, Flow.style, 10)
        bot.add_data(5, 10, content="photo-id")
        number = store.results.remember(Remembered(10, PAINT))
        waiting = store.journal.add(1, 10, "transfer", "paint", {"n": 1})
        done = store.journal.add(1, 10, "instant", "instant", {"n": 2})
        store.journal.start(done.id)
        store.journal.finish(done.id, JobStatus.DELIVERED)
        redis_server.restart()  # what Redis knows now comes from its append-only file

        # the open store reconnects and loads its scripts again
        assert store.settings.get(1) == replace_defaults(strength="soft")
        assert bot.get_state(5, 10) == "Flow:style"
        assert store.states.get_data(10, 5, bot_id=123) == {"content": "photo-id"}
        assert store.results.recall(number, 10) == Remembered(10, PAINT)
        assert [job.id for job in store.journal.unfinished()] == [waiting.id]
        assert store.journal.start(waiting.id).attempts == 1
        assert store.journal.finish(waiting.id, JobStatus.FAILED)
        assert store.journal.summary(0) == JournalSummary(delivered=1, failed=1, durations={"instant": [0.0]})
        assert store.journal.add(1, 10, "transfer", "paint", {}).id == done.id + 1
    with redis_backend.open() as again:
        assert again.results.remember(Remembered(10, PAINT)) == number + 1


def test_a_redis_that_stops_and_comes_back(redis_backend: RedisBackend, redis_server: RedisServer) -> None:
    with redis_backend.open() as store:
        store.settings.change(1, size=256)
        redis_server.stop()
        try:
            started = time.monotonic()
            with pytest.raises(StoreError, match=r"^cannot reach Redis at redis://127\.0\.0\.1:\d+/0 \(.*\): start "
                                                 r"Redis, or check the host and port in the URL$") as error:
                store.journal.add(1, 1, "transfer", "paint", {})
            assert time.monotonic() - started < 5 and "\n" not in str(error.value)
        finally:
            redis_server.start()
        assert store.settings.get(1).size == 256  # the same store carries on


def test_an_unreachable_redis_is_one_line_without_the_password() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreError) as error:
        RedisStore.open(f"redis://:s3cret@127.0.0.1:{port}/0", DEFAULTS)
    message = str(error.value)
    assert message.startswith(f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0 (")
    assert "s3cret" not in message and "\n" not in message
    assert time.monotonic() - started < 5


def test_a_hung_redis_fails_within_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connections are accepted, never answered
        started = time.monotonic()
        with pytest.raises(StoreError, match="cannot reach Redis at .*[Tt]imeout"):
            RedisStore.open(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", DEFAULTS, timeout=0.5)
        assert time.monotonic() - started < 3


def test_a_wrong_password_is_refused_without_showing_it(redis_backend: RedisBackend,
                                                        redis_server: RedisServer) -> None:
    with redis_backend.client() as admin:
        admin.execute_command("ACL", "SETUSER", "stylebot-test", "on", ">right-pass", "~*", "+@all")
    host = f"127.0.0.1:{redis_server.port}/0"
    for url, shown in ((f"redis://stylebot-test:s3cret@{host}", f"redis://stylebot-test:***@{host}"),
                       (f"redis://:s3cret@{host}", f"redis://:***@{host}"),  # the default user has none
                       (f"redis://stylebot-test@{host}?password=s3cret", f"redis://stylebot-test@{host}?password=***")):
        with pytest.raises(StoreError) as error:
            RedisStore.open(url, DEFAULTS, prefix=redis_backend.prefix)
        message = str(error.value)
        assert message.startswith(f"Redis at {shown} refused the login (")
        assert message.endswith("check the user and password in the URL")
        assert "s3cret" not in message and "\n" not in message
    with RedisStore.open(f"redis://stylebot-test:right-pass@{host}", DEFAULTS, prefix=redis_backend.prefix) as store:
        assert store.settings.change(1, size=256).size == 256
        assert repr(store) == f"RedisStore('redis://stylebot-test:***@{host}', prefix={redis_backend.prefix!r})"


@pytest.mark.parametrize("url", ["http://:s3cret@127.0.0.1/", "127.0.0.1:6379", "redis://:s3cret@127.0.0.1:port/0"])
def test_what_is_not_a_redis_url(url: str) -> None:
    with pytest.raises(StoreError, match="is not a Redis URL .*: use redis://") as error:
        RedisStore.open(url, DEFAULTS)
    assert "s3cret" not in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("url, shown", [
    ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:p%40ss:word@host/1", "redis://user:***@host/1"),
    ("redis://:p@ss@host", "redis://:***@host"),
    ("rediss://user@host", "rediss://user@host"),
    ("redis://host/0?password=secret&db=2", "redis://host/0?password=***&db=2"),
    ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
])
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_prefix_written_by_a_newer_version_or_another_program(redis_backend: RedisBackend) -> None:
    redis_backend.open().close()
    with redis_backend.client() as other:
        other.set(redis_backend.prefix + "schema", 2)
    with pytest.raises(StoreError, match="newer version of stylebot .*choose another prefix"):
        redis_backend.open()
    with redis_backend.client() as other:
        other.set(redis_backend.prefix + "schema", "celery")
    with pytest.raises(StoreError, match="not stylebot's"):
        redis_backend.open()


def test_two_prefixes_on_one_redis_do_not_meet(redis_server: RedisServer, clock: FakeClock) -> None:
    with RedisBackend(redis_server, clock).open() as first, RedisBackend(redis_server, clock).open() as second:
        first.settings.change(1, size=256)
        bot_on(first).set_state(1, Flow.style, 1)
        job = first.journal.add(1, 1, "transfer", "paint", {})
        number = first.results.remember(Remembered(1, PAINT))
        assert second.settings.get(1) == DEFAULTS and bot_on(second).get_state(1, 1) is None
        assert second.journal.unfinished() == [] and second.results.recall(number, 1) is None
        assert second.journal.add(1, 1, "transfer", "paint", {}).id == job.id  # numbered on its own


def test_redis_expires_what_retention_forgets(redis_backend: RedisBackend) -> None:
    with redis_backend.open(result_days=2, job_days=7) as store, redis_backend.client() as other:
        store.settings.change(1, size=256)
        bot_on(store).set_state(1, Flow.style, 1)
        number = store.results.remember(Remembered(1, PAINT))
        waiting = store.journal.add(1, 1, "transfer", "paint", {})
        done = store.journal.add(1, 1, "transfer", "paint", {})
        store.journal.finish(done.id, JobStatus.CANCELLED)
        [state] = other.scan_iter(match=redis_backend.prefix + "state:*")

        def days_left(key: str) -> float:
            return other.ttl(redis_backend.prefix + key) / DAY

        assert days_left("settings:1") < 0  # kept for ever
        assert days_left(f"job:{waiting.id}") < 0  # until it is finished
        assert 2 < days_left(f"result:{number}") <= 3  # the retention, and a day more
        assert 7 < days_left(f"job:{done.id}") <= 8
        assert 7 < days_left("jobs:user:1") <= 8
        assert 30 < days_left(state.removeprefix(redis_backend.prefix)) <= 31


def test_a_redis_that_keeps_nothing_on_disk_is_reported(redis_backend: RedisBackend,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with redis_backend.client() as admin, caplog.at_level(logging.WARNING, "bots.store.redis"):
        admin.config_set("appendonly", "no")
        try:
            redis_backend.open().close()
        finally:
            admin.config_set("appendonly", "yes")
            while admin.info("persistence")["aof_rewrite_in_progress"] or admin.info("persistence")[
                    "aof_rewrite_scheduled"]:  # the append-only file is written afresh: wait, or a restart loses it
                time.sleep(0.02)
        assert "keeps nothing on disk" in caplog.text
        caplog.clear()
        redis_backend.open().close()
        assert "keeps nothing on disk" not in caplog.text


# ---- several threads, several processes ---------------------------------------------------------------
def test_two_stores_and_many_threads_lose_nothing(backend: Backend) -> None:
    stores = [backend.open(clock=time.time), backend.open(clock=time.time)]
    threads_per_store, jobs_per_thread = 4, 25
    fields = [("strength", "soft"), ("size", 256), ("keep_colors", True), ("backbone", Backbone.RESNET50)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores) * threads_per_store)

    def work(store: Store, n: int) -> None:
        try:
            start.wait()
            for i in range(jobs_per_thread):
                job = store.journal.add(n, n, "transfer", "paint", {"thread": n, "i": i})
                store.settings.change(n, size=128 + i)  # each thread its own user...
                name, value = fields[n % len(fields)]
                store.settings.change(1000, **{name: value})  # ...and all of them the same one
                store.results.remember(Remembered(n, INSTANT_ONE))
                if i % 2:
                    assert store.journal.finish(job.id, JobStatus.DELIVERED)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(store, s * threads_per_store + t))
               for s, store in enumerate(stores) for t in range(threads_per_store)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        everyone = len(threads)
        assert backend.count("jobs") == everyone * jobs_per_thread
        assert backend.count("results") == everyone * jobs_per_thread
        unfinished = everyone * len(range(0, jobs_per_thread, 2))  # the even ones
        assert len(stores[1].journal.unfinished()) == unfinished
        for n in range(everyone):
            assert stores[n % 2].settings.get(n).size == 128 + jobs_per_thread - 1
            assert len(stores[0].journal.created_since(n, 0)) == jobs_per_thread
        assert stores[1].settings.get(1000) == replace_defaults(strength="soft", size=256, keep_colors=True,
                                                                backbone=Backbone.RESNET50)
    finally:
        for store in stores:
            store.close()


def _finish_in_a_child(spec: tuple[str, ...], job_id: int) -> None:
    """Run in a spawned process: a worker that opens its own store and delivers the parent's job."""
    with open_spec(spec) as store:
        job = store.journal.start(job_id)
        assert job.status is JobStatus.RUNNING
        assert decode_request(job.payload["request"]) == INSTANT
        if not store.journal.finish(job_id, JobStatus.DELIVERED):
            raise SystemExit(3)
        store.results.remember(Remembered(job.chat_id, INSTANT))


def test_a_worker_process_finishes_the_parents_job(store: Store, backend: Backend) -> None:
    job = store.journal.add(1, 10, "instant", "instant", {"request": encode_request(INSTANT)})
    child = multiprocessing.get_context("spawn").Process(target=_finish_in_a_child, args=(backend.spec(), job.id))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    done = store.journal.get(job.id)
    assert (done.status, done.attempts) == (JobStatus.DELIVERED, 1)
    assert not store.journal.finish(job.id, JobStatus.FAILED)  # the supervisor's late word changes nothing
    assert store.journal.unfinished() == []
    assert store.results.recall(store.results.remember(Remembered(10, PAINT)) - 1, 10) == Remembered(10, INSTANT)


def test_only_one_of_many_threads_finishes_a_job(backend: Backend) -> None:
    stores = [backend.open(clock=time.time), backend.open(clock=time.time)]
    threads_per_store = 4
    start = threading.Barrier(len(stores) * threads_per_store)
    try:
        ids = [stores[0].journal.add(1, 1, "transfer", "paint", {}).id for _ in range(30)]
        winners: dict[int, list[int]] = {job_id: [] for job_id in ids}

        def work(store: Store, n: int) -> None:
            start.wait(60)
            for job_id in ids:
                if store.journal.finish(job_id, JobStatus.DELIVERED if n % 2 else JobStatus.FAILED):
                    winners[job_id].append(n)

        threads = [threading.Thread(target=work, args=(store, s * threads_per_store + t))
                   for s, store in enumerate(stores) for t in range(threads_per_store)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(len(found) == 1 for found in winners.values()), winners
        for job_id, [winner] in winners.items():
            assert stores[1].journal.get(job_id).status is (JobStatus.DELIVERED if winner % 2 else JobStatus.FAILED)
    finally:
        for store in stores:
            store.close()


def _finish_them_all(spec: tuple[str, ...], ids: list[int], start: threading.Barrier,
                     results: multiprocessing.Queue) -> None:
    """Run in a spawned process: once every process is ready, finish every job; report those it did."""
    with open_spec(spec) as store:
        start.wait(60)
        results.put([job_id for job_id in ids if store.journal.finish(job_id, JobStatus.DELIVERED)])


def test_only_one_of_many_processes_finishes_a_job(store: Store, backend: Backend) -> None:
    ids = [store.journal.add(1, 1, "transfer", "paint", {}).id for _ in range(30)]
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(3), context.Queue()
    children = [context.Process(target=_finish_them_all, args=(backend.spec(), ids, start, results))
                for _ in range(3)]
    for child in children:
        child.start()
    finished = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0] * 3
    assert Counter(job_id for done in finished for job_id in done) == Counter(ids)  # each job once
    assert all(store.journal.get(job_id).status is JobStatus.DELIVERED for job_id in ids)
