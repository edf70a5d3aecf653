"""The three bots: each only declares the networks it offers and whether it can upscale."""
from __future__ import annotations

from bots.base import StyleBot
from bots.backbone import Backbone

__all__ = ["VggBot", "ResNetBot", "FullBot"]


class VggBot(StyleBot):
    """Style transfer with VGG19, the classic Gatys network."""

    backbones = (Backbone.VGG19,)


class ResNetBot(StyleBot):
    """Style transfer with ResNet50."""

    backbones = (Backbone.RESNET50,)


class FullBot(StyleBot):
    """Both networks, side-by-side comparison, and SRGAN x4 upscaling of results."""

    backbones = (Backbone.VGG19, Backbone.RESNET50)
    upscaling = True
