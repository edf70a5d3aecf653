"""The pixel pyramid: the same image as its start, kept in [0, 1], every layer reached by the gradient."""
from __future__ import annotations

import torch

from transfer.pyramid import PixelPyramid, pyramid_depth


def test_depth_halves_the_long_side_down_to_32_px():
    assert pyramid_depth(256, 256) == 4  # 256, 128, 64, 32
    assert pyramid_depth(300, 512) == 5
    assert pyramid_depth(40, 63) == 1  # too small to halve: raw pixels


def test_starts_as_the_image_and_every_layer_gets_a_gradient():
    start = torch.rand(1, 3, 37, 50)  # odd sizes: coarse layers round up
    pyramid = PixelPyramid(start, 3)
    assert [tuple(layer.shape[-2:]) for layer in pyramid.layers] == [(10, 13), (19, 25), (37, 50)]
    assert torch.equal(pyramid.image(), start)
    (pyramid.image() * torch.randn_like(start)).sum().backward()
    assert all(layer.grad is not None and layer.grad.abs().sum() > 0 for layer in pyramid.layers)
    # a coarse variable moves a whole area: its gradient gathers many pixels' gradients
    assert pyramid.layers[0].grad.abs().mean() > pyramid.layers[-1].grad.abs().mean()


def test_clamp_brings_the_image_back_into_range():
    pyramid = PixelPyramid(torch.full((1, 3, 32, 32), 0.5), 2)
    with torch.no_grad():
        pyramid.layers[0].add_(0.8)  # pushes the whole image above 1
    assert pyramid.image().max() > 1
    pyramid.clamp_()
    image = pyramid.image()
    assert image.min() >= 0 and image.max() <= 1 + 1e-6
    assert torch.allclose(image, torch.ones_like(image))
