"""The durable store (bots.store): the JSON codec, settings, telebot states through a real TeleBot, results
behind buttons, the job journal, opening errors, and several threads and processes on one file.

Every test works in its own temporary folder; time is a fake clock, so nothing sleeps.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from telebot import TeleBot
from telebot.custom_filters import StateFilter
from telebot.states import State, StatesGroup
from telebot.types import Update

from bots.backbone import Backbone
from bots.conversation import Flow, Remembered
from bots.settings import UserSettings
from bots.store import JobJournal, JobRecord, JobStatus, JournalSummary, ResultStorage, SettingsStorage, StoreError
from bots.store.codec import (CodecError, decode_request, decode_result, decode_settings, decode_style,
                              encode_request, encode_result, encode_settings, encode_style)
from bots.store.sqlite import DATABASE_NAME, SCHEMA_VERSION, SqliteStore
from bots.workflow import InstantRequest, PaintRequest, Style

REPO = Path(__file__).resolve().parents[1]
DAY = 24 * 3600.0
DEFAULTS = UserSettings(size=512)


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot"  # not there yet: open creates it, parents too


@pytest.fixture
def store(data_dir: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    with SqliteStore.open(data_dir, DEFAULTS, clock=clock) as opened:
        yield opened


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
    code = ("import sys, bots.store, bots.store.codec, bots.store.sqlite\n"
            "from bots.store import SqliteStore\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert 'bots.engines' not in sys.modules, 'bots.engines was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_sqlite_parts_have_the_interfaces_shape(store: SqliteStore) -> None:
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
def test_settings_start_from_the_defaults_without_writing_them(store: SqliteStore) -> None:
    assert store.settings.get(42) == DEFAULTS
    assert store.settings.defaults == DEFAULTS
    with raw(store.path) as other:
        assert other.execute("SELECT count(*) FROM settings").fetchone()[0] == 0


def test_settings_changes_survive_a_restart(store: SqliteStore, data_dir: Path, clock: FakeClock) -> None:
    assert store.settings.change(1, strength="strong") == replace_defaults(strength="strong")
    assert store.settings.change(1, backbone=Backbone.RESNET50, keep_colors=True) == replace_defaults(
        strength="strong", backbone=Backbone.RESNET50, keep_colors=True)
    store.settings.change(2, backbone=None)
    store.close()
    with reopen(data_dir, clock) as again:
        assert again.settings.get(1) == replace_defaults(strength="strong", backbone=Backbone.RESNET50,
                                                         keep_colors=True)
        assert again.settings.get(2) == DEFAULTS
        assert again.settings.get(3) == DEFAULTS
        assert again.settings.change(1, backbone=None).backbone is None
        assert again.settings.get(1).backbone is None


def replace_defaults(**changes: object) -> UserSettings:
    return replace(DEFAULTS, **changes)


def test_unchanged_settings_follow_new_defaults(store: SqliteStore, data_dir: Path, clock: FakeClock) -> None:
    store.settings.change(1, strength="soft")
    store.close()
    with SqliteStore.open(data_dir, UserSettings(size=256), clock=clock) as again:
        assert again.settings.get(1) == UserSettings(strength="soft", size=256)


def test_an_unknown_setting_is_refused_before_anything_is_written(store: SqliteStore) -> None:
    with pytest.raises(TypeError):
        store.settings.change(1, colour="blue")
    with pytest.raises(TypeError):
        store.settings.change(1, size=object())
    with pytest.raises(CodecError):
        store.settings.change(1, size="big")
    with pytest.raises(CodecError):
        store.settings.change(1, backbone="alexnet")
    assert store.settings.get(1) == DEFAULTS


def test_an_unreadable_stored_setting_is_skipped(store: SqliteStore) -> None:
    store.settings.change(1, strength="soft", backbone=Backbone.VGG19)
    with raw(store.path) as other:
        other.execute("""UPDATE settings SET changes = '{"strength": "soft", "backbone": "alexnet"}'""")
    assert store.settings.get(1) == replace_defaults(strength="soft")


# ---- states, through a real TeleBot -------------------------------------------------------------------
class Later(StatesGroup):
    """A second conversation step, as a bot with more steps than the style question would have."""

    step = State()


def bot_on(store: SqliteStore) -> TeleBot:
    return TeleBot("123:ABC", state_storage=store.states, threaded=False)


def test_telebot_states_and_data_survive_a_restart(store: SqliteStore, data_dir: Path, clock: FakeClock) -> None:
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

    with reopen(data_dir, clock) as again:
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


def test_a_state_handler_finds_its_state_after_a_restart(store: SqliteStore, data_dir: Path,
                                                         clock: FakeClock) -> None:
    bot_on(store).set_state(5, Flow.style, 10)
    store.close()
    with reopen(data_dir, clock) as again:
        bot, seen = bot_on(again), []
        bot.add_custom_filter(StateFilter(bot))
        bot.register_message_handler(lambda message: seen.append(("style", message.text)), state=Flow.style)
        bot.register_message_handler(lambda message: seen.append(("other", message.text)))
        bot.process_new_updates([Update.de_json({"update_id": 1, "message": {
            "message_id": 1, "date": 0, "text": "hello", "chat": {"id": 10, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "Ann"}}})])
        assert seen == [("style", "hello")]


def test_telebot_keys_keep_bots_threads_and_business_connections_apart(store: SqliteStore) -> None:
    bot, other_bot = bot_on(store), TeleBot("456:DEF", state_storage=store.states, threaded=False)
    bot.set_state(1, "A:a", 2)
    other_bot.set_state(1, "B:b", 2)
    bot.set_state(1, "C:c", 2, message_thread_id=9)
    bot.set_state(1, "D:d", 2, business_connection_id="biz")
    assert [bot.get_state(1, 2), other_bot.get_state(1, 2), bot.get_state(1, 2, message_thread_id=9),
            bot.get_state(1, 2, business_connection_id="biz")] == ["A:a", "B:b", "C:c", "D:d"]


def test_data_without_a_state_is_refused_like_telebots_memory_storage(store: SqliteStore) -> None:
    bot = bot_on(store)
    with pytest.raises(RuntimeError):
        bot.add_data(1, 2, content="x")
    with bot.retrieve_data(1, 2) as data:
        data["lost"] = True  # nothing to save it in, as with telebot's memory storage
    assert bot.get_state(1, 2) is None
    assert bot.retrieve_data(1, 2).data == {}


def test_state_data_must_be_json(store: SqliteStore) -> None:
    bot = bot_on(store)
    bot.set_state(1, Flow.style, 2)
    with pytest.raises(TypeError, match="JSON"):
        bot.add_data(1, 2, style=Style(builtin="starry_night"))
    with pytest.raises(TypeError, match="JSON"):
        with bot.retrieve_data(1, 2) as data:
            data["style"] = Style(builtin="starry_night")
    assert store.states.get_data(2, 1, bot_id=123) == {}


def test_reset_data_keeps_the_state_and_an_error_in_the_block_is_not_swallowed(store: SqliteStore) -> None:
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


def test_the_storage_api_directly(store: SqliteStore) -> None:
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


def test_forgotten_conversations_are_purged(store: SqliteStore, clock: FakeClock) -> None:
    bot = bot_on(store)
    bot.set_state(1, Flow.style, 1)
    clock.advance(31 * DAY)
    bot.set_state(2, Flow.style, 2)
    assert bot.get_state(1, 1) is None
    assert bot.get_state(2, 2) == "Flow:style"


# ---- results ------------------------------------------------------------------------------------------
def test_results_are_recalled_by_number_in_their_own_chat(store: SqliteStore) -> None:
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


def test_result_numbers_only_grow_across_restarts(store: SqliteStore, data_dir: Path, clock: FakeClock) -> None:
    numbers = [store.results.remember(Remembered(1, INSTANT_ONE)) for _ in range(3)]
    with raw(store.path) as other:
        other.execute("DELETE FROM results")  # even when the newest one is gone
    store.close()
    with reopen(data_dir, clock) as again:
        number = again.results.remember(Remembered(1, INSTANT_ONE))
        assert number > max(numbers)
        assert again.results.recall(number, 1) == Remembered(1, INSTANT_ONE)


def test_old_results_are_forgotten_and_deleted(data_dir: Path, clock: FakeClock) -> None:
    with SqliteStore.open(data_dir, DEFAULTS, result_days=2, clock=clock) as store:
        old = store.results.remember(Remembered(1, PAINT))
        clock.advance(2 * DAY - 1)
        assert store.results.recall(old, 1) == Remembered(1, PAINT)
        clock.advance(2)
        assert store.results.recall(old, 2) is None  # another chat's, and expired: deleted as well
        assert count(store, "results") == 0


def test_expired_results_are_purged_at_most_once_a_minute(data_dir: Path, clock: FakeClock) -> None:
    start = clock.now
    with SqliteStore.open(data_dir, DEFAULTS, result_days=1, clock=clock) as store:
        store.results.remember(Remembered(1, PAINT))  # A; the first remember purges (nothing yet)
        clock.advance(10)
        store.results.remember(Remembered(1, PAINT))  # B
        clock.now = start + DAY + 5
        store.results.remember(Remembered(1, PAINT))  # C: A goes on the way
        assert count(store, "results") == 2
        clock.now = start + DAY + 30
        store.results.remember(Remembered(1, PAINT))  # D: B has expired, but the last purge was 25 s ago
        assert count(store, "results") == 3
        clock.now = start + DAY + 70
        store.results.remember(Remembered(1, PAINT))  # E: B goes
        assert count(store, "results") == 3


def count(store: SqliteStore, table: str) -> int:
    with raw(store.path) as other:
        return other.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---- the job journal ----------------------------------------------------------------------------------
def test_a_job_goes_from_waiting_to_delivered(store: SqliteStore, clock: FakeClock) -> None:
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


def test_journal_mistakes(store: SqliteStore) -> None:
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


def test_a_cancelled_job_is_not_started(store: SqliteStore) -> None:
    job = store.journal.add(1, 1, "transfer", "paint", {})
    assert store.journal.finish(job.id, JobStatus.CANCELLED)
    after = store.journal.start(job.id)
    assert (after.status, after.attempts, after.started) == (JobStatus.CANCELLED, 0, None)


def test_unfinished_jobs_are_resumed_in_order_after_a_restart(store: SqliteStore, data_dir: Path,
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
    with reopen(data_dir, clock) as again:
        resumed = again.journal.unfinished()
        assert [job.id for job in resumed] == [ids[0], ids[1], ids[2]]
        assert [job.status for job in resumed] == [JobStatus.WAITING, JobStatus.RUNNING, JobStatus.WAITING]
        assert again.journal.start(ids[1]).attempts == 2  # running when the bot stopped: a second attempt


def test_jobs_created_since_count_cancelled_ones(store: SqliteStore, clock: FakeClock) -> None:
    times = []
    for _ in range(3):
        job = store.journal.add(1, 1, "transfer", "paint", {})
        times.append(job.created)
        clock.advance(600)
    store.journal.finish(job.id, JobStatus.CANCELLED)
    store.journal.add(2, 2, "transfer", "paint", {})
    assert store.journal.created_since(1, times[0]) == times
    assert store.journal.created_since(1, times[1]) == times[1:]
    assert store.journal.created_since(1, clock.now) == []
    assert store.journal.created_since(3, 0) == []


def test_summary_counts_and_durations(store: SqliteStore, clock: FakeClock) -> None:
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


def test_old_final_jobs_are_purged(data_dir: Path, clock: FakeClock) -> None:
    with SqliteStore.open(data_dir, DEFAULTS, job_days=30, clock=clock) as store:
        old = store.journal.add(1, 1, "transfer", "paint", {})
        store.journal.finish(old.id, JobStatus.DELIVERED)
        waiting = store.journal.add(1, 1, "transfer", "paint", {})
        clock.advance(31 * DAY)
        store.journal.add(1, 1, "transfer", "paint", {})
        assert store.journal.get(old.id) is None
        assert store.journal.get(waiting.id) is not None  # never an unfinished one


# ---- opening ------------------------------------------------------------------------------------------
def test_open_creates_the_folder_and_a_wal_database(store: SqliteStore, data_dir: Path) -> None:
    assert store.path == data_dir / DATABASE_NAME and store.path.is_file()
    with raw(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "stylebot.sqlite3" in repr(store)


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


def test_a_newer_schema(store: SqliteStore, data_dir: Path) -> None:
    store.close()
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


def test_a_lock_held_while_running_is_a_store_error(store: SqliteStore, data_dir: Path, clock: FakeClock) -> None:
    with reopen(data_dir, clock, busy_timeout=0.1) as impatient:
        other = sqlite3.connect(store.path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreError, match="locked"):
                impatient.journal.add(1, 1, "transfer", "paint", {})
            assert impatient.settings.get(1) == DEFAULTS  # reading goes on (WAL)
        finally:
            other.close()
        impatient.journal.add(1, 1, "transfer", "paint", {})


def test_a_closed_store_says_so(store: SqliteStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.settings.get(1)


def test_bad_retention(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SqliteStore.open(tmp_path, DEFAULTS, result_days=0)


# ---- several threads, several processes ---------------------------------------------------------------
def test_two_stores_and_many_threads_lose_nothing(data_dir: Path) -> None:
    stores = [SqliteStore.open(data_dir, DEFAULTS), SqliteStore.open(data_dir, DEFAULTS)]
    threads_per_store, jobs_per_thread = 4, 25
    fields = [("strength", "soft"), ("size", 256), ("keep_colors", True), ("backbone", Backbone.RESNET50)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores) * threads_per_store)

    def work(store: SqliteStore, n: int) -> None:
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
        assert count(stores[0], "jobs") == everyone * jobs_per_thread
        assert count(stores[0], "results") == everyone * jobs_per_thread
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


def _finish_in_a_child(data_dir: str, job_id: int) -> None:
    """Run in a spawned process: a worker that opens its own store and delivers the parent's job."""
    with SqliteStore.open(Path(data_dir), DEFAULTS) as store:
        job = store.journal.start(job_id)
        assert job.status is JobStatus.RUNNING
        assert decode_request(job.payload["request"]) == INSTANT
        if not store.journal.finish(job_id, JobStatus.DELIVERED):
            raise SystemExit(3)
        store.results.remember(Remembered(job.chat_id, INSTANT))


def test_a_worker_process_finishes_the_parents_job(store: SqliteStore, data_dir: Path) -> None:
    job = store.journal.add(1, 10, "instant", "instant", {"request": encode_request(INSTANT)})
    child = multiprocessing.get_context("spawn").Process(target=_finish_in_a_child, args=(str(data_dir), job.id))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    done = store.journal.get(job.id)
    assert (done.status, done.attempts) == (JobStatus.DELIVERED, 1)
    assert not store.journal.finish(job.id, JobStatus.FAILED)  # the supervisor's late word changes nothing
    assert store.journal.unfinished() == []
    assert store.results.recall(store.results.remember(Remembered(10, PAINT)) - 1, 10) == Remembered(10, INSTANT)
