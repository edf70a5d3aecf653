"""Strip-wise losses must equal whole-image losses, value and gradient, on both backbones."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.random_weights import write_random_resnet50
from transfer.backbones import resnet50_features, vgg19_features
from transfer.losses import gram_matrix, gram_sum, gram_sum_backward
from transfer.strips import GatysTerms, strip_features, strip_grams, strips


@pytest.fixture(scope="module")
def extractors(real_weights_dir, tmp_path_factory):
    random_dir = tmp_path_factory.mktemp("random_resnet50")
    write_random_resnet50(random_dir)
    return {"vgg19": vgg19_features(real_weights_dir, download=False),
            "resnet50_random_weights": resnet50_features(random_dir, download=False)}


def reference_gram(features):
    """Plain autograd, as the tutorial writes it: the yardstick for our own Gram function."""
    flat = features.reshape(features.shape[1], -1)
    return flat @ flat.t() / flat.numel()


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_has_the_plain_value_and_gradient(layout):
    features = torch.randn(1, 5, 7, 6, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
    assert torch.autograd.gradcheck(gram_sum, (features,))
    assert torch.allclose(gram_matrix(features), reference_gram(features))
    weights = torch.randn(5, 5, dtype=torch.float64)  # not symmetric: the backward must handle that
    (ours,) = torch.autograd.grad((gram_matrix(features) * weights).sum(), features)
    (plain,) = torch.autograd.grad((reference_gram(features) * weights).sum(), features)
    assert torch.allclose(ours, plain)
    assert torch.allclose(gram_sum_backward(features.detach(), weights), plain * features[0].numel())


@pytest.mark.parametrize("backbone", ["vgg19", "resnet50_random_weights"])
def test_strips_give_the_whole_image_value_and_gradient(extractors, backbone):
    extractor = extractors[backbone]
    torch.manual_seed(0)
    height, width = 203, 88  # not a multiple of any stride
    image = torch.rand(1, 3, height, width)
    content = torch.rand(1, 3, height, width)
    layers = list(extractor.layer_names)
    style_layers, content_layer = layers[::2], layers[-1]
    small = 1500  # a few hundred pixels a strip: many strips, each with its halo
    assert len(strips(height, width, extractor, small)) >= 3

    targets = {content_layer: extractor(content, [content_layer])[content_layer]}
    assert torch.allclose(strip_features(extractor, content, [content_layer], small)[content_layer],
                          targets[content_layer], atol=1e-4)
    weights = {g: torch.rand(c.shape[1], c.shape[1])
               for g, c in extractor(image, style_layers).items()}

    def whole(x):
        features = extractor(x, layers)
        error = 0.7 * F.mse_loss(features[content_layer], targets[content_layer])
        return error + sum((reference_gram(features[n]) * weights[n]).sum() for n in style_layers)

    def by_strips(x):
        error, grams = GatysTerms(extractor, targets, {content_layer: 0.7}, style_layers, small)(x)
        return error + sum((grams[n] * weights[n]).sum() for n in style_layers)

    x1 = image.clone().requires_grad_(True)
    x2 = image.clone().requires_grad_(True)
    expected, got = whole(x1), by_strips(x2)
    expected.backward()
    got.backward()
    assert torch.allclose(got, expected, rtol=1e-4)
    assert torch.allclose(x2.grad, x1.grad, rtol=1e-3, atol=1e-6 * x1.grad.abs().max())
    no_grad_grams = strip_grams(extractor, image, style_layers, small)
    for name in style_layers:
        assert torch.allclose(no_grad_grams[name], reference_gram(extractor(image, [name])[name]), rtol=1e-4, atol=1e-6)


def test_content_targets_are_kept_in_float16_only_where_they_fit(extractors):
    extractor = extractors["vgg19"]
    torch.manual_seed(1)
    image = torch.rand(1, 3, 40, 40)
    features = extractor(image, ["conv2_2"])["conv2_2"]
    for scale in (1.0, 1e4):  # real features, and features beyond float16's range (65504)
        target = features * scale + 1.0
        terms = GatysTerms(extractor, {"conv2_2": target}, {"conv2_2": 1.0}, ["conv1_1"])
        kept = terms.content_targets["conv2_2"]
        assert kept.dtype == (torch.float16 if scale == 1.0 else torch.float32)
        error, _ = terms(image)
        assert torch.isfinite(error)
        assert error.item() == pytest.approx(F.mse_loss(features, target).item(), rel=1e-3)
