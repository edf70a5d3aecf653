"""Paint the bots' built-in style images (bots/styles/*.jpg) from scratch, deterministically.

The images are original, procedurally generated "paintings", so the repository holds no copyrighted
art: a stained-glass mosaic, swirling brush strokes, waves with foam, and cubist planes. Each is small
(320 px, under 40 KB) because style transfer only needs its textures and colours.

    python docs/make_gallery.py            # rewrites bots/styles/*.jpg (same bytes every time)
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIDE = 320
SEED = 2024
OUT = Path(__file__).resolve().parents[1] / "bots" / "styles"
QUALITY = 82


def mosaic(rng: np.random.Generator) -> Image.Image:
    """Voronoi cells in saturated colours, separated by dark grout, like stained glass."""
    points = rng.uniform(0, SIDE, size=(90, 2))
    palette = np.array([[214, 40, 40], [247, 127, 0], [252, 191, 73], [42, 157, 143], [38, 70, 83],
                        [131, 56, 236], [58, 134, 255], [255, 0, 110], [6, 214, 160]], dtype=np.float32)
    colors = palette[rng.integers(0, len(palette), len(points))] * rng.uniform(0.75, 1.1, (len(points), 1))
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    dist = np.hypot(xx[..., None] - points[:, 0], yy[..., None] - points[:, 1])
    order = np.sort(dist, axis=-1)
    nearest = np.argmin(dist, axis=-1)
    image = colors[nearest]
    shade = 0.85 + 0.15 * np.clip(1 - order[..., 0] / 30, 0, 1)  # lighter cell centres
    image = image * shade[..., None]
    grout = (order[..., 1] - order[..., 0]) < 3.2
    image[grout] = (25, 20, 18)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def swirls(rng: np.random.Generator) -> Image.Image:
    """Short brush strokes following a swirling flow field over a night-blue sky, with bright whorls."""
    image = Image.new("RGB", (SIDE, SIDE), (22, 38, 92))
    draw = ImageDraw.Draw(image)
    centres = rng.uniform(0, SIDE, size=(5, 2))
    spins = rng.choice([-1.0, 1.0], size=5)
    palette = [(38, 64, 139), (64, 104, 180), (120, 160, 220), (240, 220, 120), (250, 240, 190), (30, 50, 110)]

    def direction(x: float, y: float) -> tuple[float, float]:
        vx, vy = 0.6, 0.15 * np.sin(y / 25)
        for (cx, cy), spin in zip(centres, spins):
            dx, dy = x - cx, y - cy
            weight = np.exp(-(dx * dx + dy * dy) / (2 * 55**2))
            vx, vy = vx - spin * dy / 40 * weight * 3, vy + spin * dx / 40 * weight * 3
        norm = np.hypot(vx, vy) + 1e-6
        return vx / norm, vy / norm

    for _ in range(2600):
        x, y = rng.uniform(0, SIDE, 2)
        near = min(np.hypot(x - cx, y - cy) for cx, cy in centres)
        color = palette[rng.integers(3, 5)] if near < 22 else palette[rng.integers(0, 3)]
        if rng.random() < 0.06:
            color = palette[5]
        points = [(x, y)]
        for _ in range(7):
            dx, dy = direction(x, y)
            x, y = x + dx * 3, y + dy * 3
            points.append((x, y))
        draw.line(points, fill=color, width=int(rng.integers(2, 5)), joint="curve")
    return image.filter(ImageFilter.SMOOTH)


def waves(rng: np.random.Generator) -> Image.Image:
    """Bands of deep to pale blue, rolling in layered sine waves, crested with white foam."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    blues = np.array([[8, 36, 82], [20, 70, 130], [40, 110, 170], [90, 160, 200], [170, 210, 230]],
                     dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, 4)
    height = (18 * np.sin(xx / 31 + phase[0]) + 9 * np.sin(xx / 13 + yy / 40 + phase[1])
              + 5 * np.sin(xx / 7 - yy / 19 + phase[2]))
    band = ((yy + height) / 26) % len(blues)
    index = band.astype(int)
    frac = band - index
    image = blues[index] * (1 - frac[..., None]) + blues[(index + 1) % len(blues)] * frac[..., None]
    foam = (frac > 0.86) & (np.sin(xx / 4 + yy / 6 + phase[3]) > -0.3)
    image[foam] = (238, 244, 246)
    image += rng.normal(0, 6, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH_MORE)


def cubist(rng: np.random.Generator) -> Image.Image:
    """Overlapping semi-transparent polygons in ochre, umber and slate, like analytic cubism."""
    image = Image.new("RGBA", (SIDE, SIDE), (196, 170, 120, 255))
    palette = [(120, 84, 48), (170, 120, 60), (214, 180, 110), (70, 80, 90), (140, 150, 150), (40, 36, 32),
               (190, 90, 50)]
    for _ in range(70):
        layer = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
        cx, cy = rng.uniform(-20, SIDE + 20, 2)
        radius = rng.uniform(25, 110)
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 6))))
        polygon = [(cx + radius * np.cos(a), cy + radius * np.sin(a)) for a in angles]
        color = palette[rng.integers(0, len(palette))]
        ImageDraw.Draw(layer).polygon(polygon, fill=(*color, int(rng.integers(70, 150))),
                                      outline=(30, 26, 22, 200), width=2)
        image = Image.alpha_composite(image, layer)
    return image.convert("RGB")


PAINTINGS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "mosaic": mosaic, "swirls": swirls, "waves": waves, "cubist": cubist}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for n, (name, paint) in enumerate(PAINTINGS.items()):
        path = OUT / f"{name}.jpg"
        paint(np.random.default_rng(SEED + n)).save(path, "JPEG", quality=QUALITY, optimize=True)
        print(f"{path.relative_to(OUT.parents[1])}: {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
