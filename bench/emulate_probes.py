#!/usr/bin/env python3
"""Hostile-client probes against `maskflow emulate`: memory and threads under a huge
request header and under slowloris (many connections sending their headers slowly).

    bench/emulate_probes.py [BINARY] [--header-mb 400] [--slow 1000] [--slow-seconds 15]

BINARY defaults to target/debug/maskflow. Linux only (reads /proc). Prints one JSON line
per probe: RSS before/peak/after (KiB), thread counts, and what the clients got back.
"""

import argparse
import json
import selectors
import socket
import subprocess
import threading
import time


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


class Sampler:
    """Samples the emulator's RSS and thread count every 20 ms while a probe runs."""

    def __init__(self, pid):
        self.pid, self.peak_rss, self.peak_threads = pid, 0, 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            rss, threads = proc_status(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_threads = max(self.peak_threads, threads)
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()


def start(binary, extra):
    child = subprocess.Popen(
        [binary, "emulate", "--format", "json", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready = json.loads(child.stdout.readline())
    host, port = ready["base_url"].removeprefix("http://").rsplit(":", 1)
    # Let start-up allocations (model workers) settle, so "before" is the idle server.
    time.sleep(3)
    return child, (host, int(port))


def status_line(sock, timeout=30):
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return f"error: {e.__class__.__name__}"
    return data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


def legit_request(address):
    try:
        with socket.create_connection(address, timeout=5) as s:
            s.sendall(b"GET /_emulator/stats HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
            return status_line(s, 5)
    except OSError as e:
        return f"error: {e.__class__.__name__}"


def large_header(binary, megabytes):
    child, address = start(binary, [])
    before = proc_status(child.pid)
    sampler = Sampler(child.pid)
    started = time.time()
    sock = socket.create_connection(address)
    answer = {}

    def read_answer():
        answer["status"] = status_line(sock, 120)

    reader = threading.Thread(target=read_answer)
    reader.start()
    sock.sendall(b"GET /_emulator/stats HTTP/1.1\r\nHost: e\r\nX-Big: ")
    chunk = b"a" * (1024 * 1024)
    sent = 0
    try:
        for _ in range(megabytes):
            sock.sendall(chunk)
            sent += 1
        sock.sendall(b"\r\n\r\n")
    except OSError as e:
        answer["send_error"] = e.__class__.__name__
    reader.join()
    seconds = time.time() - started
    time.sleep(0.5)
    sampler.stop()
    after = proc_status(child.pid)
    result = {
        "probe": "large_header",
        "header_mb": megabytes,
        "mb_accepted_by_socket": sent,
        "answer": answer.get("status"),
        "send_error": answer.get("send_error"),
        "seconds": round(seconds, 2),
        "rss_kib": {"before": before[0], "peak": sampler.peak_rss, "after": after[0]},
        "threads": {"before": before[1], "peak": sampler.peak_threads, "after": after[1]},
        "then_legit_request": legit_request(address),
    }
    sock.close()
    child.kill()
    child.wait()
    return result


def slowloris(binary, connections, seconds):
    child, address = start(binary, [])
    before = proc_status(child.pid)
    sampler = Sampler(child.pid)
    socks, refused, failed = [], 0, 0
    for _ in range(connections):
        try:
            s = socket.create_connection(address, timeout=5)
            s.sendall(b"GET /_emulator/stats HTTP/1.1\r\nHost: e\r\n")
            socks.append(s)
        except OSError:
            failed += 1
    during = legit_request(address)
    # One header byte per second per connection, as slowloris does; record what each
    # connection gets back when the server answers or closes it.
    answers = {}
    selector = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)

    def settle(s, line):
        answers[line] = answers.get(line, 0) + 1
        selector.unregister(s)
        socks.remove(s)

    deadline = time.time() + seconds
    while time.time() < deadline:
        for key, _ in selector.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(4096)
                line = data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
            except OSError as e:
                line = f"error: {e.__class__.__name__}"
            settle(s, line)
        for s in list(socks):
            try:
                s.send(b"X")
            except BlockingIOError:
                pass
            except OSError as e:
                settle(s, f"error: {e.__class__.__name__}")
        time.sleep(1)
    answers["still open"] = len(socks)
    mid = proc_status(child.pid)
    for s in socks:
        s.close()
    time.sleep(1)
    sampler.stop()
    after = proc_status(child.pid)
    result = {
        "probe": "slowloris",
        "connections": connections,
        "seconds": seconds,
        "connect_failures": failed,
        "answers": answers,
        "legit_request_during": during,
        "legit_request_after": legit_request(address),
        "rss_kib": {"before": before[0], "peak": sampler.peak_rss, "at_end": mid[0], "after": after[0]},
        "threads": {"before": before[1], "peak": sampler.peak_threads, "after": after[1]},
    }
    child.kill()
    child.wait()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default="target/debug/maskflow")
    parser.add_argument("--header-mb", type=int, default=400)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--slow-seconds", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(large_header(args.binary, args.header_mb)), flush=True)
    print(json.dumps(slowloris(args.binary, args.slow, args.slow_seconds)), flush=True)


if __name__ == "__main__":
    main()
