"""ResNetBot in whole conversations: real telebot client, fake Bot API server, ResNet50 with RANDOM weights.

No ImageNet ResNet50 file exists offline, so the engine runs with random weights (fixture
random_resnet_weights_dir): every step of the conversation is real, the pictures are not paintings.
"""
from __future__ import annotations

import pytest

import bot_scenarios as scenario
from bots import Backbone, Engines, ResNetBot
from bots.common import texts
from transfer import StyleTransfer
from transfer.presets import VGG19_PRESET

pytestmark = pytest.mark.usefixtures("one_compute_thread")
LONG_JOB = 400  # steps: a job of many seconds, whose bar moves by 1% every few steps


def test_main_flow_with_builtin_style_random_weights(start_bot) -> None:
    bot = start_bot(ResNetBot)
    result = scenario.main_flow_with_builtin_style(bot, "resnet50")
    assert [text for text, _ in bot.api.inline_buttons(result)] == [texts.NEW_STYLE, texts.FULL_QUALITY]


def test_own_style_and_content_sent_as_file_random_weights(start_bot) -> None:
    scenario.own_style_sent_as_files(start_bot(ResNetBot), "resnet50")


def test_cancel_queued_and_running_jobs_while_help_is_answered_random_weights(start_bot) -> None:
    scenario.cancel_queued_and_running_while_help_answers(
        start_bot(ResNetBot, steps=LONG_JOB, progress_interval=0.3), "resnet50")


def test_two_users_at_once_random_weights(start_bot) -> None:
    scenario.two_users_at_once(start_bot(ResNetBot, steps=30), "resnet50")


def test_wrong_input_at_every_step(start_bot) -> None:
    scenario.wrong_input_at_every_step(start_bot(ResNetBot))


def test_failing_job_is_reported_and_the_bot_goes_on_random_weights(start_bot, bot_engines, caplog) -> None:
    """The ResNet50 network paired with the VGG19 preset: its layer names do not exist, so every run
    raises inside the engine (a genuine failure, no mock)."""
    resnet = bot_engines.styles[Backbone.RESNET50]
    broken = StyleTransfer(resnet.extractor, VGG19_PRESET)
    engines = Engines({Backbone.RESNET50: broken}, bot_engines.instant, universal=bot_engines.universal)
    scenario.failing_job(start_bot(ResNetBot, engines=engines), caplog)
