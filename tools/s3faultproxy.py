#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of a local S3 (s3rver), for ddbload's tests.

usage: s3faultproxy.py --upstream http://127.0.0.1:PORT [--reset-mid-body] [--slowdown N]
                       [--missing KEY_SUBSTRING] [--etag-change KEY_SUBSTRING] [--lifetime S]
Prints "s3faultproxy listening on 127.0.0.1:PORT", then forwards every request to the upstream,
except that, for GETs of objects (paths /bucket/key without a query):
  --reset-mid-body      the first GET of each key sends the headers and half the body, then
                        resets the connection (later GETs, e.g. with Range, pass through)
  --slowdown N          the first N GETs of each key get 503 SlowDown
  --missing SUB         GETs of keys containing SUB get 404 NoSuchKey (deleted after listing)
  --etag-change SUB     GETs of keys containing SUB answer with a different ETag
GET /_proxy/log returns one JSON line per proxied request: method, path, range, status.
Loopback only; exits when --lifetime runs out (default 300 s) or on SIGTERM.
"""
import argparse
import http.client
import http.server
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse

ARGS = None
SEEN = {}
LOG = []
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _upstream(self, method, body):
        u = urllib.parse.urlparse(ARGS.upstream)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        c.request(method, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheaders(), data

    def _send(self, status, headers, data, cut=False, etag=None):
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("transfer-encoding", "connection", "content-length", "date", "server"):
                continue
            if etag and k.lower() == "etag":
                v = etag
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            # an abrupt close (RST), as a broken connection would
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.wfile.write(data)

    def _error(self, status, code, msg):
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{msg}</Message>'
                f"<RequestId>proxy</RequestId></Error>").encode()
        self._send(status, [("Content-Type", "application/xml")], body)

    def _handle(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.path == "/_proxy/log":
            with LOCK:
                data = "".join(json.dumps(e) + "\n" for e in LOG).encode()
            return self._send(200, [("Content-Type", "application/x-ndjson")], data)
        parsed = urllib.parse.urlparse(self.path)
        parts = parsed.path.lstrip("/").split("/", 1)
        is_object_get = method == "GET" and len(parts) == 2 and parts[1] and not parsed.query
        key = urllib.parse.unquote(parts[1]) if len(parts) == 2 else ""
        status = None
        with LOCK:
            count = SEEN.get(key, 0) + 1 if is_object_get else 0
            if is_object_get:
                SEEN[key] = count
        entry = {"method": method, "path": self.path, "range": self.headers.get("Range"),
                 "if_match": self.headers.get("If-Match")}
        try:
            if is_object_get and ARGS.missing and ARGS.missing in key:
                status = 404
                return self._error(404, "NoSuchKey", "The specified key does not exist.")
            if is_object_get and count <= ARGS.slowdown:
                status = 503
                return self._error(503, "SlowDown", "Please reduce your request rate.")
            st, headers, data = self._upstream(method, body)
            status = st
            cut = is_object_get and ARGS.reset_mid_body and count == 1 and st == 200 and len(data) > 2
            etag = '"0123456789abcdef0123456789abcdef"' if is_object_get and ARGS.etag_change and ARGS.etag_change in key else None
            if cut:
                status = "reset"
            self._send(st, headers, data, cut=cut, etag=etag)
        finally:
            entry["status"] = status
            with LOCK:
                LOG.append(entry)

    def do_GET(self):
        self._handle("GET")

    def do_PUT(self):
        self._handle("PUT")

    def do_POST(self):
        self._handle("POST")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_DELETE(self):
        self._handle("DELETE")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--reset-mid-body", action="store_true")
    ap.add_argument("--slowdown", type=int, default=0)
    ap.add_argument("--missing")
    ap.add_argument("--etag-change")
    ap.add_argument("--lifetime", type=float, default=300)
    ARGS = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(f"s3faultproxy listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
    threading.Timer(ARGS.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
