#!/usr/bin/env python3
"""Writes the two workloads of bench/apply_vs_peer.sh, deterministically, from examples/photos.

  make_workloads.py OUT_DIR

OUT_DIR/small/: 24 photo-like JPEGs of 0.1-0.3 MP (each of the 6 photographs at 4 sizes,
every other one mirrored). OUT_DIR/large/: 8 JPEGs of 4-12 MP (the photographs scaled up
with Lanczos to 4, 5, ... 12 MP, then a little noise so they compress like photographs).
Same input, same bytes: fixed sizes, a seeded noise generator, quality 90, no EXIF.
"""

import os
import sys

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = sorted(
    os.path.join(ROOT, "examples", "photos", name)
    for name in os.listdir(os.path.join(ROOT, "examples", "photos"))
    if name.endswith((".png", ".jpg"))
)


def scaled(img: Image.Image, megapixels: float) -> Image.Image:
    w, h = img.size
    factor = (megapixels * 1e6 / (w * h)) ** 0.5
    return img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.LANCZOS)


def noisy(img: Image.Image, seed: int) -> Image.Image:
    # Upscaled pictures are smooth; grain makes them cost what a camera's JPEG costs.
    rng = np.random.default_rng(seed)
    grain = rng.integers(112, 144, size=(img.size[1], img.size[0]), dtype=np.uint8)
    grain = Image.fromarray(grain, "L")
    return Image.blend(img, Image.merge("RGB", (grain, grain, grain)), 0.08)


def main(out: str) -> int:
    sources = [Image.open(p).convert("RGB") for p in PHOTOS]
    os.makedirs(os.path.join(out, "small"), exist_ok=True)
    os.makedirs(os.path.join(out, "large"), exist_ok=True)
    n = 0
    for i, img in enumerate(sources):
        for j, mp in enumerate((0.1, 0.15, 0.22, 0.3)):
            small = scaled(img, mp)
            if (i + j) % 2:
                small = ImageOps.mirror(small)
            small.save(os.path.join(out, "small", f"s{n:02d}.jpg"), quality=90)
            n += 1
    for k in range(8):
        mp = 4 + k * 8 / 7  # 4.0 ... 12.0 MP
        big = noisy(scaled(sources[k % len(sources)], mp), seed=k)
        big.save(os.path.join(out, "large", f"l{k}.jpg"), quality=90)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
