#!/usr/bin/env python3
"""Three `maskflow apply --shard K/3` runs at once, each in its own checkout, against one
`maskflow emulate` at Adobe's limit (3 submissions per 3 s) with 1 s of job latency: do the
shards together keep to the organization's limit (no 429), and how close to the floor do
they finish? Standard library only; inputs are served by bench/storage_server.py.

Usage: bench/sharded_emulated.py [--per-shard N] [--share fair|whole] [--bin PATH] [-v]

The image names are chosen so that each shard gets N images (3 × N in all). The emulator
first masks each distinct photograph once, so that the model's cost (it caches masks by
input bytes) stays out of the figure. The floor: the last of 3 × N submissions cannot go
before N - 1 full windows, and its job then takes the latency: (N - 1) × 3 s + 1 s.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = ["camera.png", "coffee.png", "horse.png"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shard", type=int, default=20)
    parser.add_argument("--share", choices=["fair", "whole"], default="fair")
    parser.add_argument("--bin", default=os.path.join(REPO, "target/debug/maskflow"))
    parser.add_argument("-v", action="store_true", help="print every submission and result")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="maskflow-shards-")
    children = []
    try:
        run(binary, args, work, children)
    finally:
        for child in children:
            child.kill()
            child.wait()
        shutil.rmtree(work, ignore_errors=True)


def run(binary, args, work, children):
    store = os.path.join(work, "store")
    os.makedirs(os.path.join(store, "in"))
    emulator = subprocess.Popen(
        [binary, "emulate", "--format", "json", "--port", "0", "--latency", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children.append(emulator)
    ready = json.loads(emulator.stdout.readline())
    server = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bench/storage_server.py"), store],
        stdout=subprocess.PIPE, text=True)
    children.append(server)
    store_url = json.loads(server.stdout.readline())["base_url"]
    env = dict(os.environ, PHOTOSHOP_CLIENT_ID=ready["client_id"],
               PHOTOSHOP_CLIENT_SECRET=ready["client_secret"])
    for name in ("GITHUB_ACTIONS", "PHOTOSHOP_ACCESS_TOKEN", "MASKFLOW_MANIFEST", "MASKFLOW_FORMAT"):
        env.pop(name, None)
    stats_url = ready["base_url"] + "/_emulator/stats"

    def manifest(stems, limits):
        head = (f'version: 1\ndefaults:\n  engine: photoshop\n'
                f'  mask_url: "{store_url}/out/{{{{ stem }}}}.png"\n'
                f'photoshop:\n  endpoint: "{ready["base_url"]}"\n  ims: "{ready["base_url"]}"\n'
                f'  limits: {{{limits}}}\nimages:\n')
        return head + "".join(f'  - input: "{store_url}/in/{s}.png"\n' for s in stems)

    def checkout(name, text):
        path = os.path.join(work, name)
        os.makedirs(path)
        with open(os.path.join(path, "maskflow.yaml"), "w") as f:
            f.write(text)
        return path

    def copy(photo, stem):
        shutil.copy(os.path.join(REPO, "examples/photos", photo), os.path.join(store, "in", stem + ".png"))

    # Ask maskflow which shard owns each candidate name; keep N per shard.
    candidates = [f"photo-{i}" for i in range(args.per_shard * 6)]
    for i, stem in enumerate(candidates):
        copy(PHOTOS[i % len(PHOTOS)], stem)
    probe = checkout("probe", manifest(candidates, ""))
    chosen = []
    for k in (1, 2, 3):
        out = subprocess.run([binary, "plan", "--format", "json", "--shard", f"{k}/3"], cwd=probe,
                             env=env, capture_output=True, text=True, check=True).stdout
        keys = [c["key"] for c in json.loads(out)["changes"]][:args.per_shard]
        if len(keys) < args.per_shard:
            sys.exit(f"shard {k} got only {len(keys)} of the candidates")
        chosen += [key[len("masks/"):-len(".png")] for key in keys]

    # Warm up under names of its own (so that nothing measured repeats its work).
    for i, photo in enumerate(PHOTOS):
        copy(photo, f"warm-{i}")
    warm = checkout("warm", manifest([f"warm-{i}" for i in range(len(PHOTOS))], ""))
    subprocess.run([binary, "apply", "--format", "json"], cwd=warm, env=env, capture_output=True, check=True)
    before = json.load(urllib.request.urlopen(stats_url))

    text = manifest(chosen, f"shard_share: {args.share}")
    shards = [checkout(f"shard-{k}", text) for k in (1, 2, 3)]
    log, codes = [], {}
    started = time.monotonic()

    def apply(k, path):
        child = subprocess.Popen([binary, "apply", "--format", "json", "--shard", f"{k}/3"], cwd=path,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        children.append(child)
        for line in child.stdout:
            event = json.loads(line)
            log.append((time.monotonic() - started, k, event["event"], event.get("key", "")))
        codes[k] = child.wait()

    threads = [threading.Thread(target=apply, args=(k, path)) for k, path in zip((1, 2, 3), shards)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    after = json.load(urllib.request.urlopen(stats_url))
    if args.v:
        for at, k, event, key in sorted(log):
            if event in ("submitted", "finished", "failed"):
                print(f"{at:7.2f} s  shard {k}  {event:9} {key}")
    if any(codes.values()):
        sys.exit(f"a shard failed: exit codes {codes}")
    delta = {k: after[k] - before[k] for k in ("submissions", "rate_limited", "duplicate_submissions")}
    images = 3 * args.per_shard
    floor = (args.per_shard - 1) * 3.0 + 1.0
    print(f"{images} images in 3 shards (limits.shard_share: {args.share}): {wall:.2f} s, "
          f"floor {floor:.1f} s ({wall / floor:.3f}x; {wall / images:.3f}x of images × 1 s); "
          f"429s {delta['rate_limited']}, submissions {delta['submissions']}, "
          f"duplicates {delta['duplicate_submissions']}")


if __name__ == "__main__":
    main()
