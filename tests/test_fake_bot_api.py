"""The fake Bot API server against the real telebot client: if these pass, bot tests built on it mean something."""
from __future__ import annotations

import errno
import io
import socket
import struct
import threading
import time
from typing import Iterator

import pytest
import requests
import telebot
from PIL import Image
from telebot import apihelper, types

from fake_bot_api import FakeBotApi, fake_api_fixture

CHAT = 4242


def _jpeg(size: tuple[int, int] = (1000, 600), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    yield from fake_api_fixture()


@pytest.fixture
def bot(fake_api: FakeBotApi) -> Iterator[telebot.TeleBot]:
    """A real TeleBot (echo, photo round trip, inline keyboard) polling the fake server in a thread."""
    bot = telebot.TeleBot("123:ABC", threaded=False)

    @bot.message_handler(commands=["menu"])
    def menu(message: types.Message) -> None:
        kb = types.InlineKeyboardMarkup()
        kb.add(types.InlineKeyboardButton("Van Gogh", callback_data="style:vangogh"),
               types.InlineKeyboardButton("Monet", callback_data="style:monet"))
        bot.send_message(message.chat.id, "Pick a style", reply_markup=kb)

    @bot.message_handler(content_types=["text"])
    def echo(message: types.Message) -> None:
        bot.send_message(message.chat.id, f"echo: {message.text}")

    @bot.message_handler(content_types=["photo"])
    def photo(message: types.Message) -> None:
        file_info = bot.get_file(message.photo[-1].file_id)
        data = bot.download_file(file_info.file_path)
        bot.send_chat_action(message.chat.id, "upload_photo")
        bot.send_photo(message.chat.id, data, caption=f"{len(data)} bytes", reply_to_message_id=message.message_id)

    @bot.callback_query_handler(func=lambda call: True)
    def pick(call: types.CallbackQuery) -> None:
        bot.answer_callback_query(call.id, "OK")
        bot.edit_message_text(f"Style: {call.data.split(':')[1]}", call.message.chat.id, call.message.message_id)

    thread = threading.Thread(target=bot.polling, kwargs={"non_stop": True, "timeout": 5, "long_polling_timeout": 1},
                              daemon=True)
    thread.start()
    yield bot
    bot.stop_polling()
    fake_api.end_long_polls()
    thread.join(timeout=5)
    assert not thread.is_alive(), "polling did not stop"


def test_install_sets_and_restores_telebot_urls() -> None:
    before = (apihelper.API_URL, apihelper.FILE_URL)
    with FakeBotApi() as api:
        api.install()
        assert apihelper.API_URL == f"http://127.0.0.1:{api.port}/bot{{0}}/{{1}}"
        assert apihelper.FILE_URL == api.file_url
    assert (apihelper.API_URL, apihelper.FILE_URL) == before


def test_echo_command_and_inline_keyboard(fake_api: FakeBotApi, bot: telebot.TeleBot) -> None:
    fake_api.send_text(CHAT, "hello")
    assert fake_api.wait_for_message(CHAT, "echo: hello")["from"]["is_bot"] is True

    fake_api.send_text(CHAT, "/menu")
    menu = fake_api.wait_for_message(CHAT, "Pick a style")
    assert fake_api.inline_buttons(menu) == [("Van Gogh", "style:vangogh"), ("Monet", "style:monet")]

    since = fake_api.mark()
    qid = fake_api.press_button(CHAT, menu["message_id"], "style:monet")
    edited = fake_api.wait_for_message(CHAT, "Style: monet", since=since)
    assert edited["message_id"] == menu["message_id"] and "reply_markup" not in edited  # keyboard removed by edit
    answer = fake_api.wait_for(lambda c: c.method == "answerCallbackQuery")
    assert answer.ok and answer.params["callback_query_id"] == qid and answer.params["text"] == "OK"
    assert [m["text"] for m in fake_api.messages(CHAT)] == ["echo: hello", "Style: monet"]
    assert fake_api.poll_count >= 1 and fake_api.calls[0].method == "getMe"


def test_photo_round_trip(fake_api: FakeBotApi, bot: telebot.TeleBot) -> None:
    sent = _jpeg()
    user_msg = fake_api.send_photo(CHAT, sent, caption="paint me")
    assert [(p["width"], p["height"]) for p in user_msg["photo"]] == [(90, 54), (320, 192), (800, 480), (1000, 600)]

    reply = fake_api.wait_for_photo(CHAT)
    assert reply["caption"] == f"{len(sent)} bytes"
    assert reply["reply_to_message"]["message_id"] == user_msg["message_id"]
    assert fake_api.media_bytes(reply) == sent  # the bot downloaded the largest size and sent it back
    assert Image.open(io.BytesIO(fake_api.media_bytes(reply))).size == (1000, 600)
    upload = fake_api.wait_for(lambda c: c.method == "sendPhoto").files["photo"]
    assert upload.data == sent
    methods = [c.method for c in fake_api.calls]
    assert methods.index("getFile") < methods.index("sendChatAction") < methods.index("sendPhoto")


def test_failed_wait_dumps_what_the_bot_sent(fake_api: FakeBotApi, bot: telebot.TeleBot) -> None:
    fake_api.send_text(CHAT, "ping")
    fake_api.wait_for_message(CHAT, "echo: ping")
    with pytest.raises(AssertionError) as err:
        fake_api.wait_for_photo(CHAT, timeout=0.2)
    assert "no photo in chat 4242" in str(err.value) and "sendMessage text='echo: ping'" in str(err.value)


def test_file_too_big_and_unknown_file_reach_telebot_as_api_errors(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    doc = fake_api.send_document(CHAT, b"%PDF-1.4", "big.pdf", file_size=25 * 1024 * 1024)["document"]
    assert doc["mime_type"] == "application/pdf" and doc["file_size"] == 25 * 1024 * 1024
    with pytest.raises(apihelper.ApiTelegramException) as err:
        bot.get_file(doc["file_id"])
    assert err.value.error_code == 400 and err.value.description == "Bad Request: file is too big"
    with pytest.raises(apihelper.ApiTelegramException, match="invalid file_id"):
        bot.get_file("nope")
    small = fake_api.add_file(b"abc", "documents/a.txt")
    assert bot.download_file(bot.get_file(small).file_path) == b"abc"


def test_edit_errors_like_the_real_api(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    msg = bot.send_message(CHAT, "same")
    with pytest.raises(apihelper.ApiTelegramException, match="message is not modified") as err:
        bot.edit_message_text("same", CHAT, msg.message_id)
    assert err.value.error_code == 400
    with pytest.raises(apihelper.ApiTelegramException, match="message to edit not found"):
        bot.edit_message_text("other", CHAT, 999)
    bot.delete_message(CHAT, msg.message_id)
    with pytest.raises(apihelper.ApiTelegramException, match="message to delete not found"):
        bot.delete_message(CHAT, msg.message_id)
    assert fake_api.messages(CHAT)[0]["deleted"] is True
    with pytest.raises(apihelper.ApiTelegramException, match="method not found"):
        apihelper._make_request(bot.token, "sendTelepathy")
    assert fake_api.calls[-1].method == "sendTelepathy" and not fake_api.calls[-1].ok


def test_fail_next_injects_one_error(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1")
    with pytest.raises(apihelper.ApiTelegramException) as err:
        bot.send_photo(CHAT, _jpeg((64, 64)))
    assert err.value.error_code == 429 and err.value.result_json["parameters"] == {"retry_after": 1}
    assert bot.send_photo(CHAT, _jpeg((64, 64))).photo[-1].width == 64


def test_media_group_with_two_photos(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    red, blue = _jpeg((300, 200), (255, 0, 0)), _jpeg((200, 300), (0, 0, 255))
    sent = bot.send_media_group(CHAT, [types.InputMediaPhoto(red, caption="before"), types.InputMediaPhoto(blue)])
    assert len(sent) == 2 and sent[0].media_group_id == sent[1].media_group_id
    group = fake_api.wait_for_media_group(CHAT, count=2, timeout=1)
    assert group[0]["caption"] == "before" and "caption" not in group[1]
    assert [Image.open(io.BytesIO(fake_api.media_bytes(m))).size for m in group] == [(300, 200), (200, 300)]
    again = bot.send_media_group(CHAT, [types.InputMediaPhoto(sent[0].photo[-1].file_id),
                                        types.InputMediaPhoto(sent[1].photo[-1].file_id)])
    assert [m.photo[-1].width for m in again] == [300, 200]


def test_long_poll_wakes_on_injected_update(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    threading.Timer(0.2, fake_api.send_text, (CHAT, "late")).start()
    updates = bot.get_updates(timeout=5, long_polling_timeout=30)  # capped: returns on the update, not after 30 s
    assert [u.message.text for u in updates] == ["late"]
    fake_api.max_poll_wait = 0.1
    assert bot.get_updates(offset=updates[-1].update_id + 1, long_polling_timeout=1) == []
    fake_api.send_sticker(CHAT)
    for kind in ("video", "animation", "video_note"):
        fake_api.send_clip(CHAT, b"\x00\x00\x00\x18ftypmp42", kind, duration=3)
    got = [u.message for u in bot.get_updates(offset=updates[-1].update_id + 1)]
    assert [m.content_type for m in got] == ["sticker", "video", "animation", "video_note"]
    assert got[2].document is not None and got[3].video_note.duration == 3  # as Telegram sends them


def test_clips_are_sent_and_described_as_the_bot_api_describes_them(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    data = b"\x00\x00\x00\x18ftypisom clip"
    video = bot.send_video(CHAT, data, duration=5, width=480, height=360, caption="painted")
    animation = bot.send_animation(CHAT, data, duration=2, width=320, height=240)
    note = bot.send_video_note(CHAT, data, duration=4, length=240)
    assert (video.video.width, video.video.duration, video.caption) == (480, 5, "painted")
    assert animation.content_type == "animation" and animation.animation.height == 240
    assert (note.video_note.length, note.video_note.duration) == (240, 4)
    assert fake_api.media_bytes(fake_api.wait_for_clip(CHAT, "video_note")) == data


def test_calls_on_a_kept_alive_connection_take_no_40_ms(fake_api: FakeBotApi) -> None:
    """Headers and body are two writes: with Nagle's algorithm on, each answer waited for a delayed ACK."""
    bot = telebot.TeleBot("123:ABC", threaded=False)
    bot.get_me()
    start = time.monotonic()
    for i in range(20):
        bot.send_message(CHAT, f"#{i}")
    assert time.monotonic() - start < 0.4  # 20 x 44 ms with Nagle


def test_a_client_that_hangs_up_is_not_reported_as_a_server_error(capfd) -> None:
    """A stopped bot's pooled connection may be reset mid-request: no traceback in the test output."""
    with FakeBotApi() as api:
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", api.port))
            client.sendall(b"GET /bot1/getMe HTTP/1.1")  # no line end: the server is still reading
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # with a zero linger time: a reset, not a clean close
        time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err


# ---- injected faults: Telegram under load, for testing a bot's retry policy end to end -------------------
UPLOADS = {  # a fresh request each time: what a bot's retry sends again
    "sendPhoto": lambda bot, **kw: bot.send_photo(CHAT, _jpeg((64, 64)), **kw),
    "sendDocument": lambda bot, **kw: bot.send_document(CHAT, b"%PDF-1.4 result", visible_file_name="result.pdf",
                                                        **kw),
    "sendMediaGroup": lambda bot, **kw: bot.send_media_group(
        CHAT, [types.InputMediaPhoto(_jpeg((64, 64))), types.InputMediaPhoto(_jpeg((48, 48)))], **kw),
}


def _assert_not_run_then_delivered(fake_api: FakeBotApi, bot: telebot.TeleBot, method: str, error: str) -> None:
    """The faulted call ran nothing; the next one delivers; the log shows the fault, then the success."""
    assert fake_api.messages(CHAT) == []
    UPLOADS[method](bot, timeout=2)
    attempts = [c for c in fake_api.calls if c.method == method]
    assert [(c.done, c.ok, c.error) for c in attempts] == [(True, False, error), (True, True, None)]
    assert fake_api.faults == attempts[:1]
    assert len(fake_api.messages(CHAT)) == (2 if method == "sendMediaGroup" else 1)


@pytest.mark.parametrize("method", UPLOADS)
def test_429_with_retry_after_on_each_upload_method(fake_api: FakeBotApi, method: str) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.fail_next(method, 429, "Too Many Requests: retry after 1")
    with pytest.raises(apihelper.ApiTelegramException) as err:
        UPLOADS[method](bot)
    assert err.value.error_code == 429 and err.value.description == "Too Many Requests: retry after 1"
    assert err.value.result_json["parameters"] == {"retry_after": 1}
    _assert_not_run_then_delivered(fake_api, bot, method, "Too Many Requests: retry after 1")


def test_502_as_json_is_an_api_telegram_exception(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.fail_next("sendPhoto", 502, "Bad Gateway")
    with pytest.raises(apihelper.ApiTelegramException) as err:
        UPLOADS["sendPhoto"](bot)
    assert err.value.error_code == 502 and "parameters" not in err.value.result_json
    _assert_not_run_then_delivered(fake_api, bot, "sendPhoto", "Bad Gateway")


@pytest.mark.parametrize("code, phrase", [(502, "Bad Gateway"), (504, "Gateway Timeout")])
def test_front_end_html_page_is_an_api_http_exception(fake_api: FakeBotApi, code: int, phrase: str) -> None:
    """Not an ApiTelegramException: no error_code, no JSON, only the HTTP response."""
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.fail_next("sendMediaGroup", code, html=True)
    with pytest.raises(apihelper.ApiHTTPException) as err:
        UPLOADS["sendMediaGroup"](bot)
    assert not isinstance(err.value, apihelper.ApiTelegramException) and not hasattr(err.value, "error_code")
    response = err.value.result
    assert (response.status_code, response.reason) == (code, phrase)
    assert response.headers["Content-Type"] == "text/html"
    assert f"<title>{code} {phrase}</title>" in response.text and "nginx" in response.text
    _assert_not_run_then_delivered(fake_api, bot, "sendMediaGroup", phrase)


def test_reset_is_a_connection_error_and_the_method_is_not_run(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    bot.get_me()  # a pooled keep-alive connection, as a running bot has
    fake_api.reset_next("sendDocument")
    with pytest.raises(requests.exceptions.ConnectionError) as err:
        UPLOADS["sendDocument"](bot)
    cause = err.value.args[0].args[1]  # ProtocolError("Connection aborted.", cause)
    assert cause.errno == errno.ECONNRESET  # a RST; a clean close is RemoteDisconnected (errno None), a subclass
    assert fake_api.calls[-1].files["document"].data == b"%PDF-1.4 result"  # the request was read in full
    _assert_not_run_then_delivered(fake_api, bot, "sendDocument", "connection reset")


def test_stall_times_out_a_short_client_and_blocks_no_one(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.stall_next("sendPhoto", 3)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        UPLOADS["sendPhoto"](bot, timeout=0.3)
    assert time.monotonic() - start < 1
    assert bot.get_me().is_bot  # while the stall holds its connection (and not the fake's lock)
    _assert_not_run_then_delivered(fake_api, bot, "sendPhoto", "stalled")  # logged as finished at once
    assert time.monotonic() - start < 1.5


def test_stall_ends_by_closing_the_connection_unanswered(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.stall_next("sendPhoto", 0.3)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError, match="Remote end closed connection without response"):
        UPLOADS["sendPhoto"](bot, timeout=5)
    assert 0.3 <= time.monotonic() - start < 1
    _assert_not_run_then_delivered(fake_api, bot, "sendPhoto", "stalled")


def test_close_returns_promptly_during_a_stall_and_ends_it() -> None:
    raised: list[BaseException] = []

    def send() -> None:
        try:
            bot.send_message(CHAT, "hello", timeout=10)
        except BaseException as e:
            raised.append(e)

    with FakeBotApi() as api:
        api.install()
        bot = telebot.TeleBot("123:ABC", threaded=False)
        api.stall_next("sendMessage", 30)
        client = threading.Thread(target=send, daemon=True)
        client.start()
        api.wait_for(lambda c: c.method == "sendMessage", timeout=2)
        start = time.monotonic()
    assert time.monotonic() - start < 1  # close() did not wait the stall out...
    client.join(timeout=2)
    assert not client.is_alive()  # ...and woke it: the client was hung up on at once, not after 30 s
    assert len(raised) == 1 and isinstance(raised[0], requests.exceptions.ConnectionError)


def test_faults_on_get_updates_are_in_faults_not_in_calls(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    fake_api.fail_next("getUpdates", 409, conflict)
    fake_api.reset_next("getUpdates")
    with pytest.raises(apihelper.ApiTelegramException) as err:
        bot.get_updates(long_polling_timeout=0)
    assert err.value.error_code == 409 and err.value.description == conflict
    with pytest.raises(requests.exceptions.ConnectionError):
        bot.get_updates(long_polling_timeout=0)
    fake_api.send_text(CHAT, "hi")
    assert [u.message.text for u in bot.get_updates(long_polling_timeout=0)] == ["hi"]  # not confirmed meanwhile
    assert fake_api.calls == [] and fake_api.poll_count == 1
    assert [(c.method, c.done, c.ok, c.error) for c in fake_api.faults] == [
        ("getUpdates", True, False, conflict), ("getUpdates", True, False, "connection reset")]
    assert "getUpdates calls: 1 (and 2 faulted)" in fake_api.dump()


def test_faults_queue_in_order_and_a_retry_loop_delivers_once(fake_api: FakeBotApi) -> None:
    """What a bot's delivery retry policy meets: each fault once, in the order queued, then success."""
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", times=2)
    fake_api.reset_next("sendPhoto")
    fake_api.fail_next("sendPhoto", 502, html=True)
    fake_api.stall_next("sendPhoto", 2)
    fake_api.fail_next("sendMessage", 500, "Internal Server Error")  # another method's queue: untouched
    raised = []
    for _ in range(10):
        try:
            UPLOADS["sendPhoto"](bot, timeout=0.3)
            break
        except (apihelper.ApiException, requests.exceptions.RequestException) as e:
            raised.append(type(e))
    assert raised == [apihelper.ApiTelegramException, apihelper.ApiTelegramException,
                      requests.exceptions.ConnectionError, apihelper.ApiHTTPException, requests.exceptions.ReadTimeout]
    attempts = [c for c in fake_api.calls if c.method == "sendPhoto"]
    assert [c.error for c in attempts] == ["Too Many Requests: retry after 1"] * 2 + [
        "connection reset", "Bad Gateway", "stalled", None]
    assert [c.ok for c in attempts].count(True) == 1 and fake_api.faults == attempts[:-1]
    assert len([m for m in fake_api.messages(CHAT) if "photo" in m]) == 1
    with pytest.raises(apihelper.ApiTelegramException, match="Internal Server Error"):
        bot.send_message(CHAT, "still queued")


def test_faults_leave_no_traceback(capfd) -> None:
    """Resets, stalls (cut short by the client, or by close()) and error pages are no server errors."""
    with FakeBotApi() as api:
        api.install()
        bot = telebot.TeleBot("123:ABC", threaded=False)
        api.reset_next("getMe", times=2)
        api.stall_next("getMe", 0.2)
        api.stall_next("getMe", 30)
        api.fail_next("getMe", 504, html=True)
        for timeout in (5, 5, 0.1, 0.1, 5):
            with pytest.raises((apihelper.ApiException, requests.exceptions.RequestException)):
                apihelper._make_request(bot.token, "getMe", params={"timeout": timeout})
        time.sleep(0.3)  # the first stall's end: the client that gave up on it has gone
        assert len(api.faults) == 5 and bot.get_me().is_bot
    time.sleep(0.2)  # the second stall, woken by close()
    assert "Traceback" not in capfd.readouterr().err


# ---- languages, groups, replies, albums, command menus ----------------------------------------------------
GROUP = -1001


def test_language_code_in_every_from(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.set_user_language(CHAT, "ru")
    fake_api.set_user_language(7, None)
    fake_api.send_text(CHAT, "привет")
    fake_api.send_text(7, "hi")
    fake_api.send_text(8, "hello")
    menu = bot.send_message(CHAT, "Pick", reply_markup=types.InlineKeyboardMarkup().add(
        types.InlineKeyboardButton("Go", callback_data="go")))
    fake_api.press_button(CHAT, menu.message_id, "go")
    updates = bot.get_updates(long_polling_timeout=0)
    assert [u.message.from_user.language_code for u in updates[:3]] == ["ru", None, "en"]
    assert updates[3].callback_query.from_user.language_code == "ru"
    assert "language_code" not in fake_api.messages(7, include_user=True)[0]["from"]  # absent, not null


def test_group_chat_messages_buttons_and_bot_commands(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    fake_api.add_group(GROUP, "Painters")
    fake_api.set_user_language(7, "de")
    sent = fake_api.send_text(GROUP, "/start@stylebot_test_bot now", user_id=7)
    assert sent["chat"] == {"id": GROUP, "type": "group", "title": "Painters"}
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": len("/start@stylebot_test_bot")}]
    with pytest.raises(AssertionError, match="is a group"):
        fake_api.send_text(GROUP, "who am I?")
    message = bot.get_updates(long_polling_timeout=0)[0].message
    assert (message.chat.type, message.chat.title, message.from_user.id) == ("group", "Painters", 7)
    assert message.from_user.language_code == "de" and telebot.util.extract_command(message.text) == "start"

    menu = bot.send_message(GROUP, "Pick", reply_markup=types.InlineKeyboardMarkup().add(
        types.InlineKeyboardButton("Go", callback_data="go")))
    bot.edit_message_text("Picked", GROUP, menu.message_id)
    bot.send_photo(GROUP, _jpeg((64, 64)))
    bot.send_document(GROUP, b"%PDF-1.4", visible_file_name="a.pdf")
    bot.send_media_group(GROUP, [types.InputMediaPhoto(_jpeg((64, 64))), types.InputMediaPhoto(_jpeg((48, 48)))])
    assert [m["message_id"] for m in fake_api.messages(GROUP)] == [2, 3, 4, 5, 6]
    assert fake_api.messages(GROUP)[0]["text"] == "Picked" and len(fake_api.wait_for_media_group(GROUP)) == 2
    assert all(m["chat"]["type"] == "group" and m["from"]["is_bot"] for m in fake_api.messages(GROUP))

    menu = bot.send_message(GROUP, "Again", reply_markup=types.InlineKeyboardMarkup().add(
        types.InlineKeyboardButton("Go", callback_data="go")))
    with pytest.raises(AssertionError, match="is a group"):
        fake_api.press_button(GROUP, menu.message_id, "go")
    fake_api.press_button(GROUP, menu.message_id, "go", user_id=8)
    query = bot.get_updates(long_polling_timeout=0)[-1].callback_query
    assert (query.from_user.id, query.message.chat.id) == (8, GROUP)


def test_replies_carry_the_replied_message(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    question = bot.send_message(CHAT, "Which style?")
    answer = fake_api.send_text(CHAT, "Monet", reply_to=question.message_id)
    stored = fake_api.messages(CHAT)[0]
    del stored["deleted"]
    assert answer["reply_to_message"] == stored
    answer["reply_to_message"]["text"] = "changed"  # a copy: the stored message is untouched
    assert fake_api.messages(CHAT)[0]["text"] == "Which style?"
    photo = fake_api.send_photo(CHAT, _jpeg((64, 64)), user_id=CHAT, reply_to=answer["message_id"])
    assert photo["reply_to_message"]["text"] == "Monet"
    assert "reply_to_message" not in photo["reply_to_message"]  # one level only, as in Telegram
    doc = fake_api.send_document(CHAT, b"%PDF-1.4", "a.pdf", reply_to=question.message_id)
    assert doc["reply_to_message"]["message_id"] == question.message_id
    with pytest.raises(AssertionError, match="no message 99 to reply to"):
        fake_api.send_text(CHAT, "lost", reply_to=99)

    user_msg = bot.get_updates(long_polling_timeout=0)[0].message
    assert user_msg.reply_to_message.text == "Which style?" and user_msg.reply_to_message.from_user.is_bot
    reply = bot.reply_to(user_msg, "Monet it is")  # telebot sends reply_parameters
    assert reply.reply_to_message.message_id == user_msg.message_id
    assert fake_api.calls[-1].json_param("reply_parameters")["message_id"] == user_msg.message_id
    bot.send_message(CHAT, "old style", reply_to_message_id=question.message_id)
    assert fake_api.messages(CHAT)[-1]["reply_to_message"]["text"] == "Which style?"


def test_album_shares_a_media_group_id_and_comes_in_one_batch(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    pictures = [_jpeg((400, 300), (i * 80, 0, 0)) for i in range(3)]
    fake_api.send_text(CHAT, "first")
    album = fake_api.send_album(CHAT, pictures, caption="paint these")
    group = album[0]["media_group_id"]
    assert isinstance(group, str) and all(m["media_group_id"] == group for m in album)
    assert [m["message_id"] for m in album] == [2, 3, 4]
    assert [m.get("caption") for m in album] == ["paint these", None, None]
    assert [fake_api.media_bytes(m) for m in album] == pictures  # the largest PhotoSize: the bytes sent
    assert [len(m["photo"]) for m in album] == [3, 3, 3]  # thumbnails as in send_photo
    batch = bot.get_updates(long_polling_timeout=0)
    assert [u.message.content_type for u in batch] == ["text", "photo", "photo", "photo"]

    docs = fake_api.send_album(CHAT, pictures[:2], user_id=CHAT, as_documents=True)
    assert docs[0]["media_group_id"] != group and [m["message_id"] for m in docs] == [5, 6]
    assert [(m["document"]["file_name"], m["document"]["mime_type"]) for m in docs] == [
        ("photo1.jpg", "image/jpeg"), ("photo2.jpg", "image/jpeg")]
    assert [fake_api.media_bytes(m) for m in docs] == pictures[:2] and "caption" not in docs[0]
    with pytest.raises(AssertionError, match="2-10 items"):
        fake_api.send_album(CHAT, pictures[:1])


def test_album_with_a_gap_comes_in_separate_batches(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    sender = threading.Thread(target=fake_api.send_album, args=(CHAT, [_jpeg((64, 64))] * 2), kwargs={"gap": 0.3})
    sender.start()
    first = bot.get_updates(timeout=5, long_polling_timeout=5)
    second = bot.get_updates(offset=first[-1].update_id + 1, timeout=5, long_polling_timeout=5)
    sender.join()
    assert len(first) == len(second) == 1
    assert first[0].message.media_group_id == second[0].message.media_group_id
    assert second[0].message.message_id == first[0].message.message_id + 1


def test_set_my_commands_per_language_and_scope(fake_api: FakeBotApi) -> None:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    english, russian = [types.BotCommand("start", "Start")], [types.BotCommand("start", "Начать")]
    bot.set_my_commands(english)
    bot.set_my_commands(russian, language_code="ru")
    bot.set_my_commands(english, scope=types.BotCommandScopeAllGroupChats(), language_code="de")
    assert fake_api.commands == [{"command": "start", "description": "Start"}]  # the last call's
    assert fake_api.commands_by_language == {None: [{"command": "start", "description": "Start"}],
                                             "ru": [{"command": "start", "description": "Начать"}],
                                             "de": [{"command": "start", "description": "Start"}]}
    assert set(fake_api.commands_by_scope) == {("default", None), ("default", "ru"), ("all_group_chats", "de")}
    assert [c.description for c in bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert [c.description for c in bot.get_my_commands()] == ["Start"]
    assert bot.get_my_commands(language_code="fr") == []
    assert len(bot.get_my_commands(types.BotCommandScopeAllGroupChats(), "de")) == 1
