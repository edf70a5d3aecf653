"""The networks a bot can paint with, as users and buttons name them (no torch here: the chat process
imports this, and only the worker processes load networks, through `bots.jobs.engines`)."""
from __future__ import annotations

import enum

__all__ = ["Backbone"]


class Backbone(enum.Enum):
    """The value is the short key used in buttons, settings and the job journal."""

    VGG19 = "vgg19"
    RESNET50 = "resnet50"

    @property
    def label(self) -> str:
        return {"vgg19": "VGG19", "resnet50": "ResNet50"}[self.value]
