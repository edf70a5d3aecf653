"""THE BASELINE: the classic algorithm of PyTorch's "Neural Transfer Using PyTorch" tutorial, kept faithful.

This is what our engine must beat, so nothing here is tuned: both images squashed to size x size,
VGG19 conv1_1..conv3_1 with ContentLoss/StyleLoss modules inserted after the convolutions (style on
conv_1..conv_5, content on conv_4 = conv2_2), non-inplace ReLUs, the model cut after the last loss,
the input initialised as a clone of the content image, ``optim.LBFGS([input])`` with its defaults,
style weight 1e6, content weight 1, and the tutorial's ``while run[0] <= num_steps`` loop, where a
"step" is one closure evaluation (so the real count ends a little above `num_steps`).

The only departures, none of which touches the transfer itself: the weights come from our trimmed file
(the same numbers as torchvision's ``VGG19_Weights.IMAGENET1K_V1``) into a network built without its
unused 550 MB classifier, the final image is rounded to 8 bits (the tutorial's ``ToPILImage``
truncates, which would only make the baseline slightly worse), and an optional observer sees the image
after each evaluation (the benchmark's score-against-time trace; it changes nothing).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import Tensor, nn, optim
from torchvision import transforms

from weights import Weights, load_into

__all__ = ["load_vgg19_features", "classic_tutorial_transfer", "TutorialResult"]

CNN_NORMALIZATION_MEAN = torch.tensor([0.485, 0.456, 0.406])
CNN_NORMALIZATION_STD = torch.tensor([0.229, 0.224, 0.225])
CONTENT_LAYERS = ["conv_4"]
STYLE_LAYERS = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
StepObserver = Callable[[int, Tensor], None]  # (evaluations so far, the image just evaluated)


def load_vgg19_features(directory: Path | None = None) -> nn.Sequential:
    """VGG19 ``features[:11]`` (conv1_1..conv3_1) with the real ImageNet weights, in eval mode.

    Built on the meta device: a real ``vgg19()`` would first allocate its 550 MB classifier, which would
    count in every job's peak memory without being part of the transfer.
    """
    with torch.device("meta"):
        features = torchvision.models.vgg19(weights=None).features[:11]
    features = features.to_empty(device="cpu")
    load_into(features, Weights.VGG19, directory)
    return features.eval()


def image_loader(image: Image.Image, size: int) -> Tensor:
    """The tutorial's loader, with the square resize the tutorial's same-size images imply."""
    loader = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    return loader(image.convert("RGB")).unsqueeze(0).to(torch.float)


class ContentLoss(nn.Module):
    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.target = target.detach()

    def forward(self, input: Tensor) -> Tensor:
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input: Tensor) -> Tensor:
    a, b, c, d = input.size()  # a=batch size(=1), b=number of feature maps, (c,d)=dimensions of a f. map
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature: Tensor) -> None:
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input: Tensor) -> Tensor:
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.mean = mean.clone().view(-1, 1, 1)
        self.std = std.clone().view(-1, 1, 1)

    def forward(self, img: Tensor) -> Tensor:
        return (img - self.mean) / self.std


def get_style_model_and_losses(cnn: nn.Module, normalization_mean: Tensor, normalization_std: Tensor,
                               style_img: Tensor, content_img: Tensor,
                               content_layers: list[str] = CONTENT_LAYERS,
                               style_layers: list[str] = STYLE_LAYERS,
                               ) -> tuple[nn.Sequential, list[StyleLoss], list[ContentLoss]]:
    normalization = Normalization(normalization_mean, normalization_std)
    content_losses = []
    style_losses = []
    model = nn.Sequential(normalization)

    i = 0  # increment every time we see a conv
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        elif isinstance(layer, nn.BatchNorm2d):
            name = f"bn_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)

        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)

        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)

    # now we trim off the layers after the last content and style losses
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[:(i + 1)]
    return model, style_losses, content_losses


def get_input_optimizer(input_img: Tensor) -> optim.LBFGS:
    return optim.LBFGS([input_img])


def run_style_transfer(cnn: nn.Module, normalization_mean: Tensor, normalization_std: Tensor,
                       content_img: Tensor, style_img: Tensor, input_img: Tensor, num_steps: int = 300,
                       style_weight: float = 1000000, content_weight: float = 1,
                       on_step: StepObserver | None = None) -> tuple[Tensor, int]:
    """The tutorial's loop; also returns the number of closure evaluations it made."""
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn, normalization_mean, normalization_std, style_img, content_img)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = get_input_optimizer(input_img)

    run = [0]
    while run[0] <= num_steps:

        def closure() -> Tensor:
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            if on_step is not None:
                on_step(run[0], input_img)
            return style_score + content_score

        optimizer.step(closure)

    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img, run[0]


@dataclass(frozen=True)
class TutorialResult:
    image: Image.Image  # size x size, 8-bit RGB
    steps: int  # closure evaluations, counted as the tutorial counts them


def classic_tutorial_transfer(cnn: nn.Module, content: Image.Image, style: Image.Image, size: int = 256,
                              num_steps: int = 300, on_step: StepObserver | None = None) -> TutorialResult:
    """The whole tutorial pipeline on PIL images: load (squash), optimise from the content, unload."""
    style_img = image_loader(style, size)
    content_img = image_loader(content, size)
    input_img = content_img.clone()
    output, steps = run_style_transfer(cnn, CNN_NORMALIZATION_MEAN, CNN_NORMALIZATION_STD,
                                       content_img, style_img, input_img, num_steps=num_steps, on_step=on_step)
    array = output.detach().squeeze(0).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return TutorialResult(Image.fromarray(array, "RGB"), steps)
