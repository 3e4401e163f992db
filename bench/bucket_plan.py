#!/usr/bin/env python3
"""No-op `maskflow plan` over 10,000 objects in a bucket, against a bare listing.

    bench/bucket_plan.py [--objects N] [--runs R] [--binary target/release/maskflow]
                         [--masks-in-bucket]

Starts s3s-fs (0.14.1, as scripts/test installs it) on 127.0.0.1 with N small PNGs under
s3://bench/photos/, locks a manifest `glob: s3://bench/photos/*.png` (one image is masked
by the local engine; its lock entry, whose input bytes every object shares, is copied to
the others, with the mask file), then times, best of R:

- `maskflow plan` of that manifest, which must find all N unchanged;
- a bare listing of the same prefix: ListObjectsV2 pages of 1,000 keys, SigV4-signed here
  with the standard library, the least any tool must do to learn the objects' sizes.

and prints both, their ratio, and how many object bodies the plan downloaded (GETs of a key
in s3s-fs's request log; a listing is a GET of the bucket with a query). Needs a release
build (`cargo build --release --locked`).

With --masks-in-bucket the masks live in the bucket too (`output: s3://bench/masks/...`),
so the plan also asks about each of the N masks with a HEAD: N more requests, which plan
sends 16 at a time.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS, SECRET, BUCKET = "bench-access", "bench-secret-k3y", "bench"
# Every object shares this modification time (the listing of s3s-fs has no ETag, so the
# plan's validator is size + Last-Modified, as for any store whose listing lacks one).
MTIME = 1_750_000_000


def png(width=32, height=32):
    """A small grey-gradient RGB PNG, written by hand (no imaging library needed)."""
    rows = b"".join(
        b"\0" + bytes((x * 7 + y * 3) % 256 for x in range(width) for _ in range(3))
        for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(method, url, region="us-east-1"):
    """SigV4 headers for a body-less request (AWS's documented algorithm)."""
    parts = urllib.parse.urlsplit(url)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    )
    headers = {"host": parts.netloc, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, parts.path or "/", query, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, "UNSIGNED-PAYLOAD"]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, SignedHeaders={signed}, Signature={signature}"
    return headers


def bare_listing(endpoint, prefix):
    """Every key under `prefix`, page by page; returns how many."""
    count, token = 0, None
    while True:
        params = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
        if token:
            params["continuation-token"] = token
        url = f"{endpoint}/{BUCKET}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=sign("GET", url))) as response:
            body = response.read().decode()
        count += body.count("<Key>")
        if "<IsTruncated>true</IsTruncated>" not in body:
            return count
        token = body.split("<NextContinuationToken>")[1].split("</NextContinuationToken>")[0]
        token = token.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def requests(log):
    with open(log, errors="replace") as f:
        return sum(line.count("req: Request {") for line in f)


def object_gets(log):
    with open(log, errors="replace") as f:
        return sum(
            1
            for line in f
            if "method: GET, uri: /" + BUCKET + "/" in line and "?" not in line.split("uri: ")[1].split(",")[0]
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/maskflow"))
    parser.add_argument("--masks-in-bucket", action="store_true")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    tmp = tempfile.mkdtemp(prefix="bucket-plan-")
    server = None
    try:
        data = os.path.join(tmp, "data")
        photos = os.path.join(data, BUCKET, "photos")
        os.makedirs(photos)
        body = png()
        names = [f"img-{i:05}.png" for i in range(args.objects)]
        for name in names:
            path = os.path.join(photos, name)
            with open(path, "wb") as f:
                f.write(body)
            os.utime(path, (MTIME, MTIME))
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log = os.path.join(tmp, "requests.log")

        def start():
            # A fresh server for every measurement: s3s-fs answers each listing of the same
            # prefix more slowly than the one before (2.4 s, then 4.8 s, then 7.1 s for
            # 10,000 keys here), which would favour whatever is timed first.
            server = subprocess.Popen(
                ["s3s-fs", "--host", "127.0.0.1", "--port", str(port), "--access-key", ACCESS, "--secret-key", SECRET, data],
                stdout=open(log, "a"),
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": "s3s::service=debug", "NO_COLOR": "1"},
            )
            deadline = time.time() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return server
                except OSError:
                    if time.time() > deadline:
                        sys.exit("s3s-fs did not start")
                    time.sleep(0.05)

        def stop(server):
            server.terminate()
            server.wait()

        server = start()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            "AWS_ACCESS_KEY_ID": ACCESS,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
        }
        storage = f'storage:\n  s3: {{endpoint: "{endpoint}"}}\n'
        if args.masks_in_bucket:
            output = f"s3://{BUCKET}/masks/{{{{ stem }}}}.png"
            key_of = lambda name: f"s3://{BUCKET}/masks/{name}"
        else:
            output = "masks/{{ stem }}.png"
            key_of = lambda name: f"masks/{name}"
        # One image masked for real: its lock entry holds the digests every object shares.
        one = os.path.join(tmp, "one")
        os.makedirs(one)
        with open(os.path.join(one, "maskflow.yaml"), "w") as f:
            f.write(f"version: 1\n{storage}images:\n  - input: s3://{BUCKET}/photos/{names[0]}\n    output: \"{output}\"\n")
        subprocess.run([args.binary, "apply"], cwd=one, env=env, check=True, capture_output=True)
        with open(os.path.join(one, "maskflow.lock")) as f:
            template = json.load(f)["images"][key_of(names[0])]
        if args.masks_in_bucket:
            mask = os.path.join(data, BUCKET, "masks", names[0])
            mask_copy = lambda name: os.path.join(data, BUCKET, "masks", name)
        else:
            mask = os.path.join(one, "masks", names[0])
            mask_copy = lambda name: os.path.join(work, "masks", name)
        work = os.path.join(tmp, "work")
        os.makedirs(os.path.join(work, "masks"))
        with open(os.path.join(work, "maskflow.yaml"), "w") as f:
            f.write(f"version: 1\n{storage}images:\n  - glob: \"s3://{BUCKET}/photos/*.png\"\n    output: \"{output}\"\n")
        images = {}
        for name in names:
            key = key_of(name)
            entry = json.loads(json.dumps(template))
            entry["input"]["source"] = f"s3://{BUCKET}/photos/{name}"
            entry["output"]["target"] = key
            images[key] = entry
            if mask_copy(name) != mask:
                shutil.copyfile(mask, mask_copy(name))
        with open(os.path.join(work, "maskflow.lock"), "w") as f:
            json.dump({"version": 1, "images": images}, f, indent=2, sort_keys=True)

        plan_times, list_times, plan_requests = [], [], []
        stop(server)
        gets_before = object_gets(log)
        for _ in range(args.runs):
            server = start()
            before = requests(log)
            start_time = time.perf_counter()
            result = subprocess.run(
                [args.binary, "plan", "--format", "json"], cwd=work, env=env, capture_output=True, check=True
            )
            plan_times.append(time.perf_counter() - start_time)
            stop(server)
            plan_requests.append(requests(log) - before)
            counts = json.loads(result.stdout)["counts"]
            assert counts["unchanged"] == args.objects and not any(
                v for k, v in counts.items() if k != "unchanged"
            ), counts
            server = start()
            start_time = time.perf_counter()
            listed = bare_listing(endpoint, "photos/")
            list_times.append(time.perf_counter() - start_time)
            stop(server)
            server = None
            assert listed == args.objects, listed
        downloads = object_gets(log) - gets_before
        plan_best, list_best = min(plan_times), min(list_times)
        print(
            json.dumps(
                {
                    "objects": args.objects,
                    "masks_in_bucket": args.masks_in_bucket,
                    "runs": args.runs,
                    "plan_seconds": round(plan_best, 3),
                    "listing_seconds": round(list_best, 3),
                    "ratio": round(plan_best / list_best, 2),
                    "plan_runs": [round(t, 3) for t in plan_times],
                    "listing_runs": [round(t, 3) for t in list_times],
                    "object_bodies_downloaded_by_plans": downloads,
                    "requests_per_plan": max(plan_requests),
                }
            )
        )
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
