"""Gatys et al. style transfer: optimise the pixels of an image so that its deep features keep the content
photo's layout and take on the style images' textures.

`StyleTransfer` holds one frozen backbone and its preset; `run()` is called once per request and is safe to
call from several threads. Work is done coarse-to-fine: each level starts from its own sharp content
image plus what the previous level changed, upsampled, so the full-resolution level only has to refine
texture; within a level the image is optimised as a `PixelPyramid`, which moves large areas in few steps.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from transfer.backbones import FeatureExtractor, resnet50_features, vgg19_features
from transfer.device import compute_device
from transfer.images import ImageSource, fit_size, image_to_tensor, keep_colors, load_image, tensor_to_image
from transfer.levels import Level, LevelProgress
from transfer.losses import StyleLoss, total_variation
from transfer.pyramid import PixelPyramid, pyramid_depth
from transfer.strips import GatysTerms, device_strip_pixels, strip_features, strip_grams
from transfer.precision import network_dtype
from transfer.presets import LEARNING_RATES, RESNET50_PRESET, VGG19_PRESET, Preset, Scale
from transfer.progress import CancelCheck, ProgressCallback
from transfer.resolution import REFINE_STEPS, WORKING_SHARE, Enlarger, back_project
from transfer.universal import UniversalStylizer

__all__ = ["StyleTransfer", "TransferSettings", "Carry"]

SPIKE_FACTOR = 2.0  # a loss this many times the best so far is a divergence, not noise
MIN_HISTORY = 5  # fewer L-BFGS pairs than this and its curvature model is no better than gradient descent
# how content and style are sized for each level: Pillow's antialiased bilinear, as in the classic
# tutorial (torchvision's Resize). Its softer targets are met in fewer steps than Lanczos' sharper ones
# (at 256 px, 120 steps: 54 against 66 on the classic objective, each against its own targets).
RESAMPLE = Image.Resampling.BILINEAR
# carries a working painting to a size, given the photo: `transfer.resolution.Enlarger.carry` is one
Carry = Callable[..., Image.Image]


@dataclass(frozen=True)
class TransferSettings:
    """What a user may change per request; everything else comes from the backbone's preset."""

    size: int = 512  # long side of the result in px; smaller photos are not enlarged unless `upscale`
    steps: int | None = None  # total optimisation steps over all levels; None: the preset's
    style_strength: float = 1.0  # multiplies the preset's style weight
    style_blend: Sequence[float] | None = None  # relative weight of each style image; None: equal
    keep_colors: bool = False  # keep the content photo's colours, take only the style's texture
    optimizer: str | None = None  # "lbfgs" or "adam"; None: the preset's
    levels: int | None = None  # coarse-to-fine levels; 1: full resolution only; None: the preset's
    fast: bool = False  # the preset's fast schedule: a first useful result in seconds, less refined
    preview_every: int = 0  # also send a preview every N steps (0: only when a level ends)
    upscale: bool = False
    warm_start: bool = True  # where the preset says so, start from the quick universal result
    # paint at this long side (the preset's levels), then refine at `size` for `refine_steps` evaluations:
    # strokes sized for the working picture, made crisp at the result's (`transfer.resolution`); None: at `size`
    working: int | None = None
    refine_steps: int = REFINE_STEPS

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError("size must be at least 32 px")
        if self.steps is not None and self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.style_strength < 0:
            raise ValueError("style strength must not be negative")
        if self.optimizer not in (None, "lbfgs", "adam"):
            raise ValueError("optimizer must be lbfgs or adam")
        if self.levels is not None and self.levels < 1:
            raise ValueError("levels must be at least 1")
        if self.working is not None and self.working < 32:
            raise ValueError("the working size must be at least 32 px")
        if self.refine_steps < 1:
            raise ValueError("refine_steps must be at least 1")


class _Diverged(Exception):
    """The loss jumped or became NaN: restore the best image and continue with a smaller step."""


class _StepsSpent(Exception):
    """The level's evaluations are used up (a line search may be cut short in the middle)."""


class StyleTransfer:
    """A backbone with its preset; `run()` turns a content photo and style images into a new image.

    `strip_pixels` trades memory for time (`transfer.strips`). Measured for a 512 px job (peak above the
    import baseline, time): 65,536 (the default) 719 MB, 201 s; 16,384 464 MB, 303 s; 8,192 395 MB, 443 s.

    The network computes in bfloat16 where the CPU has it natively (`transfer.precision`): on 2 cores of an
    AVX512-BF16 EPYC a 512 px evaluation took 0.72 s against 1.35 s in float32, and the preset's mean score
    over three square pairs was within 1% (256 px) and 3% (512 px) of float32's (README, "Precision").
    """

    def __init__(self, extractor: FeatureExtractor, preset: Preset, strip_pixels: int | None = None,
                 quick: UniversalStylizer | None = None) -> None:
        """`quick`: the universal stylizer that gives the warm start of a preset with `warm_start`.

        The engine computes on the extractor's device; `strip_pixels` None: `device_strip_pixels` (65,536
        on the CPU, what a GPU's free memory holds on CUDA).
        """
        self.device = extractor.mean.device
        if strip_pixels is None:
            strip_pixels = device_strip_pixels(self.device)
        if strip_pixels < 1:
            raise ValueError("strip_pixels must be at least 1")
        self.extractor = extractor
        self.preset = preset
        self.strip_pixels = strip_pixels
        self.quick = quick

    @classmethod
    def vgg19(cls, weights_dir: Path | None = None, download: bool | None = None,
              strip_pixels: int | None = None, device: str | torch.device | None = None,
              precision: str | None = None) -> StyleTransfer:
        """VGG19 with its preset on `device` (default: ``STYLEBOT_DEVICE``, `transfer.device`), its network
        in `precision` (default: ``STYLEBOT_PRECISION``, `transfer.precision`)."""
        return cls._load(vgg19_features, VGG19_PRESET, weights_dir, download, strip_pixels, device, precision)

    @classmethod
    def resnet50(cls, weights_dir: Path | None = None, download: bool | None = None,
                 strip_pixels: int | None = None, device: str | torch.device | None = None,
                 precision: str | None = None) -> StyleTransfer:
        """ResNet50 with its preset on `device` (default: ``STYLEBOT_DEVICE``, `transfer.device`), its
        network in `precision` (default: ``STYLEBOT_PRECISION``, `transfer.precision`)."""
        return cls._load(resnet50_features, RESNET50_PRESET, weights_dir, download, strip_pixels, device, precision)

    @classmethod
    def _load(cls, features: Callable[[Path | None, bool | None], FeatureExtractor], preset: Preset,
              weights_dir: Path | None, download: bool | None, strip_pixels: int | None,
              device: str | torch.device | None, precision: str | None) -> StyleTransfer:
        target = compute_device(device)
        quick = UniversalStylizer(weights_dir, download, device=target, precision=precision) \
            if preset.warm_start else None
        if quick is not None:
            quick.networks()  # load now: a missing file stops the start, not a job
        extractor = features(weights_dir, download).to(target)
        dtype = network_dtype(target, precision, f"Gatys {extractor.name}")
        return cls(extractor.compute_in(dtype), preset, strip_pixels, quick)

    @property
    def name(self) -> str:
        return self.extractor.name

    def default_steps(self, fast: bool = False) -> int:
        return sum(scale.steps for scale in (self.preset.fast_scales if fast else self.preset.scales))

    def run(self, content: ImageSource, style: ImageSource | Sequence[ImageSource],
            settings: TransferSettings | None = None, progress: ProgressCallback | None = None,
            cancel: CancelCheck | None = None, start: ImageSource | None = None,
            carry: Carry | None = None) -> Image.Image:
        """The content repainted in the style; raises `ImageError` for bad images, `Cancelled` if cancelled.

        `start`: the image the first level starts from instead of the photo (resized to it). Without one,
        a preset with `warm_start` starts from the quick universal result (`transfer.universal`) unless
        `settings.warm_start` is off or the fast schedule runs: the optimisation then only refines a
        picture that already has the painting's colours and textures.

        `carry(painting, photo, size, cancel=...)` brings a working painting (`TransferSettings.working`) to
        the result's size for its refining level (None: Lanczos plus the photo's detail, `Enlarger`); the
        refining level starts from that, back-projected onto the working painting (`back_project`).
        """
        settings = settings or TransferSettings()
        content_img = load_image(content)
        styles = [load_image(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
        blend = list(settings.style_blend) if settings.style_blend is not None else [1.0] * len(styles)
        if len(blend) != len(styles) or min(blend) < 0 or sum(blend) <= 0:
            raise ValueError("style_blend needs one non-negative weight per style image, not all zero")
        final = fit_size(content_img.size, settings.size, upscale=settings.upscale)
        if start is not None:
            start_img = load_image(start)
        elif self.quick is not None and self.preset.warm_start and settings.warm_start and not settings.fast:
            side = min(max(final), settings.working or max(final))  # the first level is smaller still
            start_img = self.quick.stylize(content_img, styles, max_side=side, weights=blend, cancel=cancel)
        else:
            start_img = None
        levels = self._plan(final, settings)
        tracker = LevelProgress(levels, progress, cancel, settings.preview_every)
        image: Tensor | None = None
        previous = None  # the previous level's content target
        for level in levels:
            target = image_to_tensor(content_img.resize(level.size, RESAMPLE), self.device)
            if level.refining and image is not None:
                painting = tensor_to_image(image)
                carried = (carry or Enlarger(None).carry)(painting, content_img, level.size, cancel=cancel)
                image = image_to_tensor(back_project(carried, painting), self.device)
            elif image is None and start_img is not None:
                image = image_to_tensor(start_img.resize(level.size, RESAMPLE), self.device)
            elif image is None or previous is None:
                # the photo itself, as in the classic algorithm: seeded noise here measurably worsened the
                # result (47.4 -> 48.3 at 256 px with +-0.005), and the pyramid gives flat areas texture anyway
                image = target.clone()
            else:
                # the sharp content plus what the previous level changed, upsampled: upsampling the previous
                # result itself would start from a blur, which the first VGG layers' Gram matrices punish
                change = F.interpolate(image - previous, size=target.shape[-2:], mode="bicubic",
                                       align_corners=False)
                image = (target + change).clamp_(0, 1)
            previous = target
            objective = self._objective(target, styles, blend, max(level.size), settings, cancel)
            image = self._optimise(image, objective, level.steps, settings, tracker)
            tracker.level_done(image)
        result = tensor_to_image(image)
        return keep_colors(result, content_img) if settings.keep_colors else result

    def _plan(self, final: tuple[int, int], settings: TransferSettings) -> list[Level]:
        """The levels: the preset's scales of the result's size, or of the working size and then a refining
        level at the result's size (`TransferSettings.working`)."""
        if settings.working is not None and settings.working < max(final):
            working = fit_size(final, settings.working)
            # the working painting gets WORKING_SHARE of the preset's evaluations (`transfer.resolution`)
            painting_steps = round(WORKING_SHARE * self.default_steps(settings.fast))
            refine = settings.refine_steps
            if settings.steps is not None:  # shared out in the same proportion
                refine = max(1, round(settings.steps * refine / (painting_steps + refine)))
                painting_steps = max(1, settings.steps - refine)
            painting = replace(settings, working=None, steps=painting_steps)
            return [*self._plan(working, painting), Level(final, refine, refining=True)]
        scales = self.preset.fast_scales if settings.fast else self.preset.scales
        if settings.levels is not None:
            total = sum(s.steps for s in scales)
            n = settings.levels
            scales = tuple(Scale(0.5 ** (n - 1 - i), max(1, total // n)) for i in range(n))
        if settings.steps is not None:
            total = sum(s.steps for s in scales)
            scales = tuple(replace(s, steps=max(1, round(settings.steps * s.steps / total))) for s in scales)
        levels: list[Level] = []
        carried = 0  # steps of levels too small to be useful move to the next level
        for scale in scales:
            size = (max(1, round(final[0] * scale.fraction)), max(1, round(final[1] * scale.fraction)))
            if scale.fraction < 1 and max(size) < self.preset.min_side:
                carried += scale.steps
                continue
            levels.append(Level(final if scale.fraction >= 1 else size, scale.steps + carried))
            carried = 0
        return levels

    def _objective(self, content: Tensor, styles: list[Image.Image], blend: list[float], long_side: int,
                   settings: TransferSettings, cancel: CancelCheck | None = None) -> Callable[[Tensor], Tensor]:
        """The loss of an image at this level; `cancel` is also called at every strip (a caller's heartbeat:
        at 1024 px one evaluation takes seconds), its answer left to the next evaluation's check."""
        preset = self.preset
        style_layers = list(preset.style_layers)
        content_targets = strip_features(self.extractor, content, list(preset.content_layers), self.strip_pixels)
        sized = [s.resize(fit_size(s.size, long_side, upscale=True), RESAMPLE) for s in styles]
        style_grams = [strip_grams(self.extractor, image_to_tensor(s, self.device), style_layers, self.strip_pixels)
                       for s in sized]
        style_loss = StyleLoss.blended(style_grams, blend, preset.style_layers)
        terms = GatysTerms(self.extractor, content_targets, preset.content_layers, style_layers, self.strip_pixels,
                           pulse=cancel)
        style_weight = preset.style_weight * settings.style_strength

        def objective(image: Tensor) -> Tensor:
            content_error, grams = terms(image)
            loss = preset.content_weight * content_error + style_weight * style_loss(grams)
            if preset.tv_weight:
                loss = loss + preset.tv_weight * total_variation(image)
            return loss

        return objective

    def _optimise(self, start: Tensor, objective: Callable[[Tensor], Tensor], steps: int,
                  settings: TransferSettings, tracker: LevelProgress) -> Tensor:
        """Minimise `objective` over the image for `steps` evaluations; return the best image seen.

        The image is optimised as a `PixelPyramid` if the preset says so (one layer: the raw pixels). On a
        NaN, or a loss spike where no line search guards the step, the best image is restored and the
        step size halved (L-BFGS and Adam); Adam also halves its step when the loss plateaus.
        """
        kind = settings.optimizer or self.preset.optimizer
        line_search = kind == "lbfgs" and self.preset.line_search
        depth = pyramid_depth(*start.shape[-2:]) if self.preset.pyramid else 1
        pyramid = PixelPyramid(start, depth)
        best = start.clone()
        best_loss = math.inf
        lr = LEARNING_RATES[kind]
        done = 0

        def evaluate() -> Tensor:
            nonlocal best_loss, done
            if done >= steps:
                raise _StepsSpent
            pyramid.clamp_()
            image = pyramid.image()
            loss = objective(image)
            value = loss.item()
            # a line search probes points that may be much worse than the best: that is not a divergence
            if not math.isfinite(value) or (not line_search and value > SPIKE_FACTOR * best_loss):
                raise _Diverged
            if value < best_loss:
                best_loss = value
                best.copy_(image.detach())
            loss.backward()
            done += 1
            tracker.step(value, image)
            return loss

        while done < steps:
            try:
                if kind == "lbfgs":
                    optimizer = torch.optim.LBFGS(pyramid.layers, lr=lr, max_iter=steps - done,
                                                  max_eval=steps - done, history_size=self._history(pyramid),
                                                  tolerance_grad=0.0, tolerance_change=0.0,
                                                  line_search_fn="strong_wolfe" if line_search else None)

                    def closure() -> Tensor:
                        optimizer.zero_grad()
                        return evaluate()

                    optimizer.step(closure)
                else:
                    optimizer = torch.optim.Adam(pyramid.layers, lr=lr)
                    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=10)
                    while done < steps:
                        optimizer.zero_grad()
                        plateau.step(evaluate().item())
                        optimizer.step()
            except _StepsSpent:
                break
            except _Diverged:
                lr *= 0.5
                pyramid = PixelPyramid(best, depth)
                tracker.skip()
        return best.clamp_(0, 1)

    def _history(self, pyramid: PixelPyramid) -> int:
        """L-BFGS pairs within the preset's memory budget: two float32 vectors of all variables each."""
        variables = sum(layer.numel() for layer in pyramid.layers)
        affordable = int(self.preset.lbfgs_memory_mb * 2**20 // (2 * 4 * variables))
        return max(MIN_HISTORY, min(self.preset.lbfgs_history, affordable))
