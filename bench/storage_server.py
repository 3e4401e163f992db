#!/usr/bin/env python3
"""A folder served over HTTP on 127.0.0.1 with GET, HEAD and PUT: the stand-in for a
bucket of pre-signed URLs in the photoshop benchmark. Standard library only.

Usage: storage_server.py ROOT [--port 0]
Prints one line, `{"base_url": "http://127.0.0.1:PORT"}`, then serves until killed.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def make_handler(root):
    root = os.path.realpath(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _path(self):
            path = unquote(urlsplit(self.path).path).lstrip("/")
            full = os.path.realpath(os.path.join(root, path))
            if not full.startswith(root + os.sep):
                return None
            return full

        def _reply(self, status, body=b"", content_type="application/octet-stream"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            path = self._path()
            if path is None or not os.path.isfile(path):
                return self._reply(404, b"not found", "text/plain")
            with open(path, "rb") as f:
                self._reply(200, f.read())

        do_HEAD = do_GET

        def do_PUT(self):
            path = self._path()
            if path is None:
                return self._reply(403, b"outside the root", "text/plain")
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".part"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
            self._reply(200)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.root))
    print(json.dumps({"base_url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
