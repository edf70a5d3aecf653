"""Registry of the pretrained networks stylebot uses, and the one way to load them.

Every network is a `Weights` member: where the official file comes from, which part of it we keep,
and the file name of the trimmed copy cached in the weights directory. Loading order:

1. the trimmed file in the weights directory (``STYLEBOT_WEIGHTS_DIR``, default: this folder);
2. the official download (hash checked), trimmed and saved there for next time;
3. otherwise a `WeightsError` that says which file is missing, where to put it and how to fetch it.

Official files come from torchvision (`TorchvisionSource`), from a pinned raw URL converted to our
layout (`RawBlobSource`, the fast-style networks of `weights.fast_style`), or by hand (`ManualSource`).

Files are plain state dicts read with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn

from weights import fast_style

__all__ = [
    "Weights",
    "WeightsError",
    "WeightsSpec",
    "Source",
    "TorchvisionSource",
    "ManualSource",
    "RawBlobSource",
    "weights_dir",
    "load_state_dict",
    "load_into",
    "fetch",
    "downloads_allowed",
]

StateDict = dict[str, Tensor]
PACKAGE_DIR = Path(__file__).resolve().parent


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable or does not fit its network. The message says what to do."""


def weights_dir() -> Path:
    """The folder holding trimmed weight files: ``STYLEBOT_WEIGHTS_DIR`` or the ``weights/`` package."""
    configured = os.environ.get("STYLEBOT_WEIGHTS_DIR")
    return Path(configured).expanduser().resolve() if configured else PACKAGE_DIR


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_hint(origin: str, filename: str) -> str:
    return f"it is {origin}; on a machine with internet run `python -m weights fetch`, then copy {filename} here"


class Source(Protocol):
    """Where a network's official file comes from, and how to turn it into our trimmed state dict."""

    def fetch(self) -> StateDict: ...

    def how_to_get(self, filename: str) -> str: ...


@dataclass(frozen=True)
class TorchvisionSource:
    """Official torchvision weights: downloaded with torch.hub (sha256 prefix checked), then trimmed."""

    torchvision_weights: str  # e.g. "VGG19_Weights.IMAGENET1K_V1"
    keep: Callable[[str], str | None]  # official key -> our key, or None to drop it

    @property
    def url(self) -> str:
        import torchvision.models as models

        enum_name, member = self.torchvision_weights.split(".")
        return getattr(getattr(models, enum_name), member).url

    def fetch(self) -> StateDict:
        url = self.url
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(url).name
            # torchvision file names end in the first hex digits of their sha256: the download checks them
            hash_prefix = re.search(r"-([a-f0-9]+)\.pth$", target.name)
            torch.hub.download_url_to_file(url, str(target), hash_prefix and hash_prefix.group(1),
                                           progress=False)
            official = torch.load(target, map_location="cpu", weights_only=True)
        trimmed = {}
        for key, value in official.items():
            ours = self.keep(key)
            if ours is not None:
                trimmed[ours] = value.clone()
        return trimmed

    def how_to_get(self, filename: str) -> str:
        return _fetch_hint(f"made from torchvision's {self.torchvision_weights} ({self.url})", filename)


@dataclass(frozen=True)
class ManualSource:
    """A file with no official download we can reach: the user puts it in place by hand."""

    instructions: str

    def fetch(self) -> StateDict:
        raise WeightsError("this file has no automatic download")

    def how_to_get(self, filename: str) -> str:
        return self.instructions


@dataclass(frozen=True)
class RawBlobSource:
    """A raw file at a pinned URL: downloaded, its sha256 checked, then converted to our state dict."""

    url: str
    sha256: str  # of the raw file, so a changed or damaged download is refused before conversion
    convert: Callable[[bytes], StateDict]
    timeout_s: float = 60.0

    def fetch(self) -> StateDict:
        with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:
            data = response.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.sha256:
            raise WeightsError(f"{self.url} has sha256 {digest}, expected {self.sha256}")
        return self.convert(data)

    def how_to_get(self, filename: str) -> str:
        return _fetch_hint(f"converted from {self.url}", filename)


@dataclass(frozen=True)
class WeightsSpec:
    """One network's weights: its cached file, its source, and an optional sha256 of the cached file."""

    filename: str
    description: str
    source: Source
    sha256: str | None = None
    meta: Mapping[str, object] = field(default_factory=dict)
    # the state dict sits under this key of a published file (BasicSR's "params"); cached copies are plain
    wrapped_in: str | None = None


def _vgg19_features_0_10(key: str) -> str | None:
    """Keep conv1_1..conv3_1, i.e. ``features.0`` to ``features.10``, renamed to their index."""
    if not key.startswith("features."):
        return None
    index = int(key.split(".")[1])
    return key.removeprefix("features.") if index <= 10 else None


RESNET50_KEPT_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.0.")


def _resnet50_stem_to_layer2_0(key: str) -> str | None:
    """Keep the stem, layer1 and the first block of layer2: the 13 convolutions our taps read."""
    return key if key.startswith(RESNET50_KEPT_PREFIXES) else None


def _fast_style(style: str, painting: str) -> WeightsSpec:
    """A Johnson et al. feed-forward network (trained by L. Engstrom) for one painting, from its raw blob."""
    return WeightsSpec(
        filename=f"fast_style/{style}.pth",
        description=f"fast style network '{style}' ({painting})",
        source=RawBlobSource(fast_style.raw_url(style), fast_style.RAW_SHA256[style],
                             fast_style.convert_fast_style_blob),
        sha256=fast_style.FILE_SHA256[style],
        meta={"style": style, "license": "research use with attribution; commercial use needs permission"},
    )


WCT_REPOSITORY = "jkbehne/GOTStyleTranfer"
WCT_COMMIT = "9268fb868e4bb65311ef3ddc1989ae980d22f8bb"
WCT_LICENSE = "no licence stated: research use; credit Li et al. 2017"


def _load_published_state_dict(data: bytes) -> StateDict:
    """A published file that already is a plain state dict in our layout (read without unpickling code)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _wct(name: str, description: str, sha256: str, level: str) -> WeightsSpec:
    """An encoder or decoder of universal style transfer (Li et al. 2017), from the pinned published file.

    The published file is already a plain state dict in our layout: the converter only reads it. Its
    sha256 is checked on download, not on load (the entry's `sha256` is None): `fetch` re-saves what the
    converter returns with `torch.save` (zip format), while the published files are legacy-format
    pickles, so a downloaded-then-cached copy can never have the published hash (measured: the re-saved
    encoder hashes differently), and checking it on load would refuse every download. The offline copies
    in ../shared/weights/wct are byte-identical to the published files (`meta["published_sha256"]`).
    """
    return WeightsSpec(
        filename=f"wct/{name}.pth",
        description=description,
        source=RawBlobSource(f"https://raw.githubusercontent.com/{WCT_REPOSITORY}/{WCT_COMMIT}/models/{name}.pth",
                             sha256, _load_published_state_dict),
        meta={"level": level, "license": WCT_LICENSE, "published_sha256": sha256},
    )


def _basicsr_params(data: bytes) -> StateDict:
    """A published BasicSR file: the state dict is its "params" entry."""
    return dict(_load_published_state_dict(data)["params"])


REALESRGAN_RELEASE = "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0"


class Weights(Enum):
    """Every pretrained network stylebot loads."""

    VGG19 = WeightsSpec(
        filename="vgg19_features_0_10.pth",
        description="VGG19 ImageNet, features[:11] (conv1_1..conv3_1)",
        source=TorchvisionSource("VGG19_Weights.IMAGENET1K_V1", _vgg19_features_0_10),
        meta={"layers": "conv1_1..conv3_1"},
    )
    RESNET50 = WeightsSpec(
        filename="resnet50_stem_layer2_0.pth",
        description="ResNet50 ImageNet (V2), stem + layer1 + layer2[0]",
        source=TorchvisionSource("ResNet50_Weights.IMAGENET1K_V2", _resnet50_stem_to_layer2_0),
        meta={"layers": "conv1, layer1, layer2.0"},
    )
    SRGAN_X4 = WeightsSpec(
        filename="srgan_netG_x4.pth",
        description="SRGAN x4 generator (leftthomas/SRGAN, trained on VOC2012)",
        source=ManualSource(
            "there is no official download: take `epochs/netG_epoch_4_100.pth` from the history of the "
            "leftthomas/SRGAN repository and save it here as srgan_netG_x4.pth"
        ),
        sha256="f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c",
    )
    SR_LSDIR_COMPACT_C3_X4 = WeightsSpec(
        filename="sr/lsdir_compact_c3_x4.pth",
        description="4xLSDIRCompactC3 x4 upscaler (Philip Hofmann, CC BY 4.0)",
        source=ManualSource(
            "there is no download we can pin: take 4xLSDIRCompactC3.pth from Philip Hofmann's release "
            "(github.com/Phhofm/models, also on openmodeldb.info) and save it here as sr/lsdir_compact_c3_x4.pth"
        ),
        meta={"license": "CC BY 4.0: credit Philip Hofmann"},
        wrapped_in="params",
    )
    # the published file's sha256 is checked on download; the cached copy is re-saved (as WCT's, `_wct`)
    SR_REALESR_GENERAL_X4V3 = WeightsSpec(
        filename="sr/realesr_general_x4v3.pth",
        description="Real-ESRGAN realesr-general-x4v3 x4 upscaler (xinntao/Real-ESRGAN, BSD-3)",
        source=RawBlobSource(f"{REALESRGAN_RELEASE}/realesr-general-x4v3.pth",
                             "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292", _basicsr_params),
        meta={"license": "BSD-3-Clause (Real-ESRGAN)"},
        wrapped_in="params",
    )
    FAST_STYLE_LA_MUSE = _fast_style("la_muse", "Picasso, La Muse")
    FAST_STYLE_RAIN_PRINCESS = _fast_style("rain_princess", "Afremov, Rain Princess")
    FAST_STYLE_SCREAM = _fast_style("scream", "Munch, The Scream")
    FAST_STYLE_UDNIE = _fast_style("udnie", "Picabia, Udnie")
    FAST_STYLE_WAVE = _fast_style("wave", "Hokusai, The Great Wave off Kanagawa")
    FAST_STYLE_WRECK = _fast_style("wreck", "Turner, The Shipwreck")
    WCT_ENCODER = _wct("vgg_normalised_conv3_1", "universal style encoder (normalised VGG19 to relu3_1)",
                       "4ffff49ad5cdc3337374b947918f35f903fcb0898b0b5eebfcbd601b99fc3929", "relu1_1..relu3_1")
    WCT_DECODER_1 = _wct("feature_invertor_conv1_1", "universal style decoder from relu1_1",
                         "fb48663414644122e4311305907d3fbfa3d51cba1a8609b0179e3a38ba4fa025", "relu1_1")
    WCT_DECODER_2 = _wct("feature_invertor_conv2_1", "universal style decoder from relu2_1",
                         "146e53c444bab64cbc118e6c733409dbedfee202e0f0cb9095f4284d4deeef8c", "relu2_1")
    WCT_DECODER_3 = _wct("feature_invertor_conv3_1", "universal style decoder from relu3_1",
                         "899eb82c2ee7b4214c57ca3655c50fbed652c63ef695f36ed035368c03bdf7d7", "relu3_1")

    @property
    def spec(self) -> WeightsSpec:
        return self.value


def _spec(weights: Weights | WeightsSpec) -> WeightsSpec:
    return weights.spec if isinstance(weights, Weights) else weights


def _missing_message(weights: Weights | WeightsSpec, path: Path, reason: str) -> str:
    spec = _spec(weights)
    return (f"Missing weights file {path} ({spec.description}). Put the file there "
            f"(or point STYLEBOT_WEIGHTS_DIR at the folder holding it): "
            f"{spec.source.how_to_get(spec.filename)}. Not downloaded: {reason}")


def _read(path: Path, weights: Weights | WeightsSpec) -> StateDict:
    spec = _spec(weights)
    if spec.sha256 is not None and sha256_of(path) != spec.sha256:
        raise WeightsError(f"{path} is not the expected {spec.description} file (sha256 differs); "
                           "delete it and fetch it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise WeightsError(f"{path} is damaged or not a weights file ({type(exc).__name__}); "
                           "delete it and fetch it again") from None
    if spec.wrapped_in is not None and isinstance(state, Mapping) and spec.wrapped_in in state:
        state = state[spec.wrapped_in]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a plain state dict of tensors; delete it and fetch it again")
    return dict(state)


def fetch(weights: Weights | WeightsSpec, directory: Path | None = None) -> Path:
    """Download the official file, trim it and save it in the weights directory; return its path."""
    path = (directory or weights_dir()) / _spec(weights).filename
    try:
        state = _spec(weights).source.fetch()
    except WeightsError as exc:
        raise WeightsError(_missing_message(weights, path, str(exc))) from None
    except Exception as exc:  # network errors, hash mismatch (RuntimeError), HTTP errors
        raise WeightsError(_missing_message(weights, path, f"{type(exc).__name__}: {exc}")) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)
    return path


def downloads_allowed() -> bool:
    """False when ``STYLEBOT_OFFLINE`` is set (to 1/true/yes): missing files then fail at once."""
    return os.environ.get("STYLEBOT_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def load_state_dict(weights: Weights | WeightsSpec, directory: Path | None = None,
                    download: bool | None = None) -> StateDict:
    """The trimmed state dict of `weights`, from the cache or (if allowed) downloaded and cached first.

    `download` None means: allowed unless ``STYLEBOT_OFFLINE`` is set.
    """
    directory = directory or weights_dir()
    path = directory / _spec(weights).filename
    if not path.exists():
        if not (downloads_allowed() if download is None else download):
            raise WeightsError(_missing_message(weights, path, "downloads are switched off"))
        fetch(weights, directory)
    return _read(path, weights)


def load_into(module: nn.Module, weights: Weights | WeightsSpec, directory: Path | None = None,
              download: bool | None = None) -> nn.Module:
    """Load `weights` into `module` with every key and shape matching, or raise a clear `WeightsError`."""
    state = load_state_dict(weights, directory, download)
    path = (directory or weights_dir()) / _spec(weights).filename
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        details = "; ".join(f"{label}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
                            for label, keys in (("missing", missing), ("unexpected", unexpected),
                                                ("wrong shape", wrong_shape)) if keys)
        raise WeightsError(f"{path} does not fit the {_spec(weights).description} network ({details}); "
                           "delete it and fetch it again")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return module
