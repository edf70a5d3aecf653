"""Webhook mode through the real telebot client and the fake Bot API: the bot registers its webhook with the
secret, answers only posts that carry it, answers Telegram at once however slow a handler is, and a bot
that polls again deletes the webhook first. The in-process bots get engines that compute nothing: /help
and a photo's first step need none."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import telebot
from telebot.apihelper import ApiTelegramException

from bot_harness import TOKEN, BotUnderTest, bot_config
from bots import Backbone, BotConfig, ConfigError, Engines, VggBot
from bots.common import texts
from fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[1]
URL = "https://bot.example.com/telegram/hook"
SECRET = "s3cret-Token_0123456789"
HELP = "I repaint your photo"
NO_COMPUTE = Engines({Backbone.VGG19: object()}, None)  # never called by these tests


def _webhook(**overrides: object) -> dict[str, object]:
    """Webhook settings for a bot listening on a free loopback port."""
    return {"webhook_url": URL, "webhook_secret": SECRET, "webhook_listen": ("127.0.0.1", 0), **overrides}


def _start(api: FakeBotApi, tmp_path: Path) -> BotUnderTest:
    return BotUnderTest.start(VggBot, api, NO_COMPUTE, tmp_path / "jobs", **_webhook())


@pytest.fixture
def running(fake_api: FakeBotApi, tmp_path: Path) -> Iterator[BotUnderTest]:
    """A VGG bot in webhook mode, listening on a free loopback port."""
    bot = _start(fake_api, tmp_path)
    yield bot
    bot.stop()


def _address(running: BotUnderTest) -> str:
    return "%s:%d" % running.bot.webhook.address


def _request(address: str, method: str, body: bytes = b"", secret: str | None = SECRET) -> int:
    """A raw request to the bot's webhook server; returns the HTTP status."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        connection.request(method, "/telegram/hook", body, {"Content-Type": "application/json", **headers})
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_fake_refuses_polling_while_a_webhook_is_set(fake_api: FakeBotApi) -> None:
    client = telebot.TeleBot(TOKEN)
    client.set_webhook(URL, secret_token=SECRET, allowed_updates=["message"])
    fake_api.send_text(7, "hello")
    info = client.get_webhook_info()
    assert (info.url, info.pending_update_count, info.allowed_updates) == (URL, 1, ["message"])
    with pytest.raises(ApiTelegramException) as refused:
        client.get_updates(timeout=1, long_polling_timeout=0)
    assert refused.value.error_code == 409 and "webhook is active" in refused.value.description
    client.remove_webhook()  # telebot's: setWebhook with an empty URL
    assert fake_api.webhook is None and client.get_webhook_info().url == ""
    assert [u.message.text for u in client.get_updates(timeout=1, long_polling_timeout=0)] == ["hello"]
    with pytest.raises(ApiTelegramException, match="HTTPS URL must be provided"):
        client.set_webhook("http://bot.example.com/hook")


def test_registers_its_webhook_and_answers_posts_with_the_secret(fake_api: FakeBotApi,
                                                                 running: BotUnderTest) -> None:
    assert fake_api.webhook == {"url": URL, "secret_token": SECRET, "allowed_updates": ["message", "callback_query"]}
    registered = fake_api.wait_for(lambda c: c.method == "setWebhook")
    assert registered.params["drop_pending_updates"] == "False"  # what waited at Telegram is still answered
    assert running.bot.telegram.get_webhook_info().url == URL

    user = running.user(7)
    since = user.says("/help")
    assert fake_api.post_update(_address(running)) == 200
    user.gets(HELP, since)
    since = user.sends_photo()
    assert fake_api.post_update(_address(running)) == 200
    user.gets(texts.ASK_STYLE, since)
    assert fake_api.poll_count == fake_api.polls_refused == 0, "a webhook bot never polls"


def test_a_wrong_or_missing_secret_gets_403_and_no_answer(fake_api: FakeBotApi, running: BotUnderTest) -> None:
    user = running.user(7)
    since = user.says("/help")
    assert fake_api.post_update(_address(running), secret="s3cret-Token_0123456788") == 403
    assert fake_api.post_update(_address(running), secret=None) == 403
    with pytest.raises(AssertionError):
        user.gets(HELP, since, timeout=0.5)
    assert fake_api.post_update(_address(running)) == 200  # Telegram posts it again: now it is answered
    user.gets(HELP, since)


def test_only_telegrams_posts_are_read(running: BotUnderTest) -> None:
    address = _address(running)
    assert _request(address, "GET") == 405
    assert _request(address, "POST", b'{"update_id": 1}', secret=None) == 403
    assert _request(address, "POST", b"not json") == 400
    assert _request(address, "POST", b" " * (2 * 1024 * 1024)) == 413


def test_telegram_gets_its_answer_at_once_while_a_handler_is_slow(fake_api: FakeBotApi,
                                                                   running: BotUnderTest) -> None:
    """The first /help's reply hangs for 3 s in the fake: its post is answered at once anyway, and so is a
    second user's, whose /help is answered while the first handler still waits."""
    fake_api.stall_next("sendMessage", seconds=3)
    first, second = running.user(7), running.user(8)
    first.says("/help")
    posted = time.monotonic()
    assert fake_api.post_update(_address(running)) == 200
    assert time.monotonic() - posted < 1.0
    stalled = fake_api.wait_for(lambda c: c.method == "sendMessage" and c.error == "stalled")
    since = second.says("/help")
    posted = time.monotonic()
    assert fake_api.post_update(_address(running)) == 200
    assert time.monotonic() - posted < 1.0
    second.gets(HELP, since)
    answered = fake_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 8 and c.ok)
    assert answered.time < stalled.time + 3, "the second update waited for the first handler"


def test_polling_again_deletes_the_webhook_first(fake_api: FakeBotApi, tmp_path: Path) -> None:
    """A webhook bot stops (its webhook stays: Telegram keeps the updates meanwhile); the same bot started
    without STYLEBOT_WEBHOOK_URL deletes the webhook before polling, and gets what waited."""
    _start(fake_api, tmp_path).stop()
    assert fake_api.webhook is not None
    fake_api.send_text(7, "/help")
    polling = BotUnderTest.start(VggBot, fake_api, NO_COMPUTE, tmp_path / "jobs")
    try:
        polling.user(7).gets(HELP)
    finally:
        polling.stop()
    methods = [c.method for c in fake_api.calls]
    assert methods.count("deleteWebhook") == 1 and methods.index("setWebhook") < methods.index("deleteWebhook")
    assert fake_api.webhook is None and fake_api.polls_refused == 0 and fake_api.poll_count >= 1
    assert "drop_pending_updates" in fake_api.wait_for(lambda c: c.method == "deleteWebhook").params


def test_registration_is_retried_through_telegrams_hiccups(fake_api: FakeBotApi, tmp_path: Path) -> None:
    fake_api.fail_next("setWebhook", 429, "Too Many Requests: retry after 1")
    running = _start(fake_api, tmp_path)
    running.stop()
    assert [c.ok for c in fake_api.calls if c.method == "setWebhook"] == [False, True]


@pytest.mark.parametrize("overrides, says", [
    ({"webhook_url": "http://bot.example.com/hook"},
     "Telegram refused STYLEBOT_WEBHOOK_URL: Bad Request: bad webhook: An HTTPS URL must be provided"),
    ({"webhook_listen": "busy"}, "STYLEBOT_WEBHOOK_LISTEN 127.0.0.1:"),
])
def test_a_refused_url_or_a_busy_port_stops_the_start_with_one_line(fake_api: FakeBotApi, tmp_path: Path,
                                                                     overrides: dict, says: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        if overrides.get("webhook_listen") == "busy":
            overrides = {"webhook_listen": busy.getsockname()}
        bot = VggBot(bot_config(fake_api, tmp_path / "jobs", **_webhook(**overrides)), NO_COMPUTE)
        try:
            with pytest.raises(ConfigError) as error:
                bot.start()
        finally:
            bot.stop(timeout=5)
            bot.store.close()
    assert says in str(error.value) and "\n" not in str(error.value) and SECRET not in str(error.value)


def test_webhook_settings_from_the_environment() -> None:
    polling = BotConfig.from_env({"BOT_TOKEN": TOKEN})
    assert (polling.webhook_url, polling.webhook_secret, polling.webhook_listen) == (None, None, ("0.0.0.0", 8443))
    config = BotConfig.from_env({"BOT_TOKEN": TOKEN, "STYLEBOT_WEBHOOK_URL": URL, "STYLEBOT_WEBHOOK_SECRET": SECRET,
                                 "STYLEBOT_WEBHOOK_LISTEN": "[::1]:9000"})
    assert (config.webhook_url, config.webhook_secret, config.webhook_listen) == (URL, SECRET, ("::1", 9000))
    assert SECRET not in repr(config)


@pytest.mark.parametrize("env, says", [
    ({"STYLEBOT_WEBHOOK_URL": "http://bot.example.com/hook", "STYLEBOT_WEBHOOK_SECRET": SECRET},
     "STYLEBOT_WEBHOOK_URL must be the public https:// address"),
    ({"STYLEBOT_WEBHOOK_URL": "https://", "STYLEBOT_WEBHOOK_SECRET": SECRET}, "STYLEBOT_WEBHOOK_URL must be"),
    ({"STYLEBOT_WEBHOOK_URL": URL}, "STYLEBOT_WEBHOOK_SECRET is required with STYLEBOT_WEBHOOK_URL"),
    ({"STYLEBOT_WEBHOOK_URL": URL, "STYLEBOT_WEBHOOK_SECRET": "no spaces or !"}, "STYLEBOT_WEBHOOK_SECRET must be"),
    ({"STYLEBOT_WEBHOOK_URL": URL, "STYLEBOT_WEBHOOK_SECRET": "x" * 257}, "STYLEBOT_WEBHOOK_SECRET must be"),
    ({"STYLEBOT_WEBHOOK_LISTEN": "8443"}, "STYLEBOT_WEBHOOK_LISTEN must be host:port"),
    ({"STYLEBOT_WEBHOOK_LISTEN": "0.0.0.0:99999"}, "STYLEBOT_WEBHOOK_LISTEN must be host:port"),
    ({"STYLEBOT_WEBHOOK_LISTEN": "localhost:https"}, "STYLEBOT_WEBHOOK_LISTEN must be host:port"),
])
def test_bad_webhook_settings_are_one_line_errors(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as error:
        BotConfig.from_env({"BOT_TOKEN": TOKEN, **env})
    message = str(error.value)
    assert says in message and "\n" not in message and "no spaces or !" not in message and "x" * 257 not in message


def test_run_script_serves_the_webhook_and_stops_on_sigterm(tmp_path: Path, real_weights_dir: Path,
                                                            fake_api: FakeBotApi) -> None:
    """run_vgg.py with the webhook settings: it registers, answers a post, and on SIGTERM exits 0; even its
    DEBUG logs (telebot's include every call's parameters) never show the secret or the token."""
    fake_api.token = TOKEN
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"http://127.0.0.1:{fake_api.port}", "STYLEBOT_WEBHOOK_URL": URL,
           "STYLEBOT_WEBHOOK_SECRET": SECRET, "STYLEBOT_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
           "STYLEBOT_WEIGHTS_DIR": str(real_weights_dir), "STYLEBOT_COMPUTE_THREADS": "1", "LOG_LEVEL": "DEBUG"}
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    process = subprocess.Popen([sys.executable, str(REPO / "run_vgg.py")], cwd=tmp_path, env={**clean, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake_api.wait_for(lambda c: c.method == "setWebhook" and c.ok, timeout=60)
        fake_api.send_text(5, "/help")
        assert fake_api.post_update(f"127.0.0.1:{port}", timeout=60) == 200
        fake_api.wait_for_message(5, HELP, timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "setWebhook" in stderr and SECRET not in stderr and TOKEN not in stderr and "Traceback" not in stderr
    assert fake_api.poll_count == 0
