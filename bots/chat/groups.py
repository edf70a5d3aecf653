"""Group chats: the bot answers only what is addressed to it there, as Telegram's privacy mode has it.

With the privacy mode on (the default), Telegram sends a bot in a group only commands and replies to the
bot's own messages; the bot keeps to that even where the mode is off, so that it never answers the
group's own conversation. Everything else (results, a member's draft, settings and language) works in a
group as in a private chat: states are kept per (user, chat), results go to the chat.
"""
from __future__ import annotations

from telebot.types import Message, User

__all__ = ["GROUP_CHATS", "in_group", "not_for", "ignore"]

GROUP_CHATS = ("group", "supergroup")


def in_group(message: Message) -> bool:
    return message.chat.type in GROUP_CHATS


def not_for(bot: User, message: Message) -> bool:
    """Whether a message in a group is for someone else than `bot` (the bot's own user): neither a command to
    it (``/start@its_name``, or ``/start`` to no bot in particular) nor a reply to one of its messages."""
    if not in_group(message):
        return False
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return False
    words = (message.text or message.caption or "").split()
    if not words or not words[0].startswith("/"):
        return True
    addressee = words[0].partition("@")[2]
    return addressee.lower() not in ("", (bot.username or "").lower())


def ignore(message: Message) -> None:
    """The handler of a group's messages for someone else: no answer."""
