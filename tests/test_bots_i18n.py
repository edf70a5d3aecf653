"""The bots in two languages, albums and group chats, in whole conversations: real telebot client, fake Bot API
server, the real engines at a tiny size (see conftest).

A Russian user hears only Russian, from the first answer to the last progress bar, buttons and command menu
included; /language switches and is kept; two pictures in one album are taken as photo and painting; a
caption can name a style; in a group the bot answers its commands and replies to it, and nothing else.
"""
from __future__ import annotations

import re
import time

import pytest

from bot_harness import BotUnderTest, User, photo_bytes
from bots import FullBot, VggBot
from bots.common import texts
from bots.common.requests import PaintRequest
from bots.store.codec import decode_request

pytestmark = pytest.mark.usefixtures("one_compute_thread")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
RESULT_WAIT = 60.0
NO_WORDS = re.compile(r"(✓ )?(\d+ px|VGG19|ResNet50)")  # buttons the same in every language
QUIET = 1.5  # seconds without an answer taken as "no answer" (an answer takes milliseconds)


def _buttons(user: User, message: dict) -> list[str]:
    return [text for text, _ in user.api.inline_buttons(message)]


def _bot_texts(user: User) -> list[str]:
    """Every text the user saw from the bot in their chat: messages, captions, every status edit, buttons."""
    seen = []
    for message in user.api.messages(user.chat_id):
        seen.append(message.get("text") or message.get("caption") or "")
        seen += _buttons(user, message)
        seen += [text for _, text in user.status_edits(message["message_id"])]
    return [text for text in seen if text]


def _jobs(bot: BotUnderTest, chat_id: int) -> list:
    """The chat's journalled jobs, oldest first."""
    journal = bot.bot.store.journal
    records = [journal.get(job_id) for job_id in range(1, 50)]
    return [record for record in records if record is not None and record.chat_id == chat_id]


def _album_file_ids(user: User) -> list[str]:
    """The file ids of the pictures the user sent in albums, in order."""
    return [(m["photo"][-1] if "photo" in m else m["document"])["file_id"]
            for m in user.api.messages(user.chat_id, include_user=True) if m.get("media_group_id")]


def _chat_menu_set(bot: BotUnderTest, since: int) -> None:
    bot.api.wait_for(lambda c: c.method == "setMyCommands" and "scope" in c.params, since=since)


def _no_answer_since(user: User, since: int) -> None:
    time.sleep(QUIET)
    answered = [c for c in user.api.calls[since:] if c.chat_id == user.chat_id and c.method.startswith("send")]
    assert answered == [], f"the bot answered: {[c.params.get('text') for c in answered]}"


def test_a_russian_user_hears_russian_from_start_to_finish(start_bot) -> None:
    bot = start_bot(FullBot)
    user = bot.user(2001, language_code="ru")
    assert user.gets("Я перерисовываю фото", user.says("/start"))["text"].endswith(
        "/settings: сила, размер, кисть, цвета · /language: язык · /cancel: остановить в любой момент")
    refused = user.gets("Эта картинка не подойдёт", user.sends_photo(photo_bytes((20, 20))))["text"]
    assert "слишком маленькая (20×20)" in refused

    prompt = user.gets("Фото есть 👍", user.sends_photo())
    assert _buttons(user, prompt) == ["⚡ Волна", "⚡ Крик", "⚡ Удни", "⚡ Муза", "⚡ Принцесса дождя",
                                      "⚡ Кораблекрушение", "🖼 Показать все", "🪟 Мозаика", "🌌 Завитки",
                                      "🌊 Волны", "🔶 Кубизм"]
    quick = user.api.wait_for_message(user.chat_id, "⚡ Быстрая версия — ", since=user.taps(prompt, "🪟 Мозаика"),
                                      timeout=RESULT_WAIT)
    assert _buttons(user, quick) == ["🎨 Нарисовать на VGG19", "🎨 Нарисовать на ResNet50", "⚖️ Сравнить обе",
                                     "🔍 Увеличить ×4", "📄 В полном качестве", "🎨 Новый стиль"]
    result = user.gets_photo(user.taps(quick, "🎨 Нарисовать на VGG19"))
    assert re.fullmatch(r"VGG19 — \d+\.\d с", result["caption"])
    assert _buttons(user, result) == ["🎨 Новый стиль", "🔁 Попробовать ResNet50", "⚖️ Сравнить обе",
                                      "🔍 Увеличить ×4", "📄 В полном качестве"]
    user.waits_for_job_end()
    upscaled = user.api.wait_for_document(user.chat_id, since=user.taps(result, "🔍 Увеличить ×4"),
                                          timeout=RESULT_WAIT)
    assert upscaled["caption"].startswith("Увеличено в 4 раза:")
    user.waits_for_job_end()
    settings = user.gets("⚙️ Твои настройки", user.says("/settings"))
    assert "• Сила стиля: обычная" in settings["text"] and "Мягко" in _buttons(user, settings)

    seen = _bot_texts(user)
    assert any(text.startswith("🎨 Рисую на VGG19…\n") for text in seen)  # the progress bar's title
    assert any(text.startswith("✅ Готово за") for text in seen)
    english = [text for text in seen if not CYRILLIC.search(text) and not NO_WORDS.fullmatch(text)]
    assert english == []

    menus = bot.api.commands_by_language
    for code in ("ru", "uk", "be", "kk"):
        assert [c["description"] for c in menus[code]] == [
            "что я умею", "как мной пользоваться", "сила, размер, кисть, цвета", "русский или английский",
            "остановить текущий запрос"]
    assert [c["command"] for c in menus[None]] == ["start", "help", "settings", "language", "cancel"]
    assert menus[None][0]["description"] == "what I do"


def test_language_switches_with_a_button_and_is_kept_across_a_restart(start_bot) -> None:
    bot = start_bot(VggBot)
    user = bot.user(2002)  # an English Telegram
    assert "repaint" in user.gets("I repaint", user.says("/help"))["text"]
    choice = user.gets(texts.ASK_LANGUAGE, user.says("/language"))
    assert _buttons(user, choice) == ["✓ English", "Русский"]
    since = user.taps(choice, "Русский")
    assert user.gets("Хорошо, теперь говорю по-русски.", since)["message_id"] == choice["message_id"]
    _chat_menu_set(bot, since)
    assert bot.api.commands_by_scope[("chat", None)][0]["description"] == "что я умею"

    bot = start_bot.restart(bot)
    user = bot.user(2002)
    user.gets("Я перерисовываю фото", user.says("/help"))
    choice = user.gets("На каком языке", user.says("/language"))
    assert _buttons(user, choice) == ["English", "✓ Русский"]
    since = user.taps(choice, "English")
    user.gets("Okay, I'll speak English from now on.", since)
    assert "I repaint" in user.gets("I repaint", user.says("/start"))["text"]
    _chat_menu_set(bot, since)
    assert bot.api.commands_by_scope[("chat", None)][0]["description"] == "what I do"


def test_the_language_comes_from_telegram_for_readers_of_russian_and_english_for_the_rest(start_bot) -> None:
    bot = start_bot(VggBot)
    for user_id, code, answer in [(2003, "uk", "Я перерисовываю фото"), (2004, "kk", "Я перерисовываю фото"),
                                  (2005, "de", "I repaint your photo"), (2006, None, "I repaint your photo")]:
        user = bot.user(user_id, language_code=code)
        user.gets(answer, user.says("/start"))


@pytest.mark.parametrize("gap", [0.0, 0.3], ids=["one-batch", "two-batches"])
def test_an_album_of_two_is_the_photo_then_the_painting(start_bot, gap: float) -> None:
    bot = start_bot(VggBot)
    user = bot.user(2010)
    since = user.sends_album([photo_bytes(seed=1), photo_bytes((100, 100), seed=2)], gap=gap)
    user.gets(texts.ALBUM_TAKEN, since)
    user.gets_quick(since)
    user.waits_for_job_end()
    assert texts.ASK_STYLE not in user.texts() and user.texts().count(texts.ALBUM_TAKEN) == 1
    (quick,) = _jobs(bot, user.chat_id)
    request = decode_request(quick.payload["request"])
    assert isinstance(request, PaintRequest)
    assert [request.content, request.style.file_id] == _album_file_ids(user)


def test_an_album_of_more_asks_which_picture_is_the_painting(start_bot) -> None:
    bot = start_bot(VggBot)
    user = bot.user(2011, language_code="ru")
    since = user.sends_album([photo_bytes(seed=n) for n in range(3)], as_documents=True)
    ask = user.gets("Первую картинку беру как фото", since)
    buttons = _buttons(user, ask)
    assert buttons[:2] == ["🖼 Картинка 2", "🖼 Картинка 3"] and "⚡ Удни" in buttons and "🪟 Мозаика" in buttons
    user.gets("⚡ Быстрая версия — ", user.taps(ask, "🖼 Картинка 3"), timeout=RESULT_WAIT)
    assert user.gets("Стиль: 🖼 Картинка 3")["message_id"] == ask["message_id"]
    user.waits_for_job_end()
    request = decode_request(_jobs(bot, user.chat_id)[0].payload["request"])
    pictures = _album_file_ids(user)
    assert [request.content, request.style.file_id] == [pictures[0], pictures[2]]


@pytest.mark.parametrize(("code", "caption", "chosen", "result"), [
    ("en", "wave", "Style: ⚡ Wave", "⚡ Wave — "),
    ("ru", "в стиле Удни", "Стиль: ⚡ Удни", "⚡ Удни — "),
    ("ru", "мозаикой", "Стиль: 🪟 Мозаика", "⚡ Быстрая версия — ")])
def test_a_caption_naming_a_style_goes_straight_to_it(start_bot, code: str, caption: str, chosen: str,
                                                      result: str) -> None:
    bot = start_bot(VggBot)
    user = bot.user(2020, language_code=code)
    since = user.sends_photo(caption=caption)
    user.gets(chosen, since)
    assert user.gets(result, since, timeout=RESULT_WAIT)["photo"]
    user.waits_for_job_end()
    assert not any(text.startswith(("Got your photo", "Фото есть")) for text in user.texts())


def test_in_a_group_the_bot_answers_its_commands_and_replies_to_it_only(start_bot) -> None:
    bot = start_bot(VggBot)
    anna, boris = bot.group_member(-3001, 31, language_code="ru"), bot.group_member(-3001, 32)
    since = anna.says("всем привет!")
    boris.sends_photo()
    boris.says("/start@some_other_bot")
    boris.says("nice", reply_to=anna.api.messages(anna.chat_id, include_user=True)[0]["message_id"])
    _no_answer_since(anna, since)

    help_ru = anna.gets("Я перерисовываю фото", anna.says("/start"))
    assert "В группе присылай картинки ответом на моё сообщение." in help_ru["text"]
    help_en = boris.gets("I repaint your photo", boris.says("/help@stylebot_test_bot"))
    assert "In a group, reply to one of my messages" in help_en["text"]

    prompt = boris.gets(texts.ASK_STYLE, boris.sends_photo(reply_to=help_en["message_id"]))
    since = boris.taps(prompt, "⚡ Udnie")
    result = boris.gets("⚡ Udnie — ", since, timeout=RESULT_WAIT)
    assert result["chat"]["id"] == -3001
    boris.waits_for_job_end()

    since = anna.says("а можно так же?")  # in the group, to no one
    anna.sends_photo(caption="wave")  # a style named, but not to the bot
    _no_answer_since(anna, since)
    anna.gets("Стиль: ⚡ Волна", anna.sends_photo(caption="волна", reply_to=result["message_id"]))
    assert anna.gets("⚡ Волна — ", timeout=RESULT_WAIT)["chat"]["id"] == -3001
    anna.waits_for_job_end()


def test_a_job_speaks_its_users_language_to_the_end_through_the_queue_and_a_restart(start_bot, fake_api) -> None:
    """The language travels with the job: the full painting that follows a quick version, its place in the
    queue, the restart notice and the cancellation all speak the Russian of the user who asked."""
    bot = start_bot(VggBot, steps=100_000)  # a painting that runs until it is cancelled
    anna, ivan = bot.user(2030, language_code="ru"), bot.user(2031, language_code="ru")
    settings = anna.gets("⚙️ Твои настройки", anna.says("/settings"))
    anna.gets("• После быстрой версии: рисовать полностью", anna.taps(settings, "🎨 Нарисовать полностью"))
    since = anna.sends_photo(caption="мозаикой")
    assert "Полная картина уже в пути" in anna.gets("⚡ Быстрая версия — ", since, timeout=RESULT_WAIT)["caption"]
    anna.gets("🎨 Рисую на VGG19…", since, timeout=RESULT_WAIT)

    quick = ivan.gets("⚡ Быстрая версия — ", ivan.sends_photo(caption="кубизм"), timeout=RESULT_WAIT)
    ivan.gets("⏳ Ты №1 в очереди, ждать около ", ivan.taps(quick, "🎨 Нарисовать полностью"))

    since = fake_api.mark()
    bot = start_bot.restart(bot)
    anna, ivan = bot.user(2030), bot.user(2031)
    anna.gets("🔧 Я перезапустился, пока рисовал твою картинку.", since, timeout=10)
    anna.gets("Останавливаю…", anna.says("/cancel"))
    anna.gets("🛑 Отменено.", since, timeout=30)
    ivan.gets("🛑 Отменено.", ivan.says("/cancel"), timeout=30)
    assert not any(CYRILLIC.search(text) is None and not NO_WORDS.fullmatch(text) for text in _bot_texts(anna))
