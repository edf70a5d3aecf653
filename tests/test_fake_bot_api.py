"""The fake Bot API server against the real telebot client: if these pass, bot tests built on it mean something."""
from __future__ import annotations

import io
import socket
import struct
import threading
import time
from typing import Iterator

import pytest
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
    fake_api.send_video(CHAT)
    kinds = [u.message.content_type for u in bot.get_updates(offset=updates[-1].update_id + 1)]
    assert kinds == ["sticker", "video"]


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
