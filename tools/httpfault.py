#!/usr/bin/env python3
"""A small HTTP/1.1 test server that misbehaves on request, for ddbload's network tests.

Listens on 127.0.0.1 (ephemeral port unless --port), prints the port on stdout (one line),
and exits when its stdin closes or after --lifetime seconds (default 120), whichever is first.
Connections are kept alive (HTTP/1.1) and each one is served by its own thread.

Paths (query parameters in brackets):
  /ok                       200, body "METHOD BODYLEN" (the request body is read and counted)
  /status/NNN               status NNN with a small text body (HEAD: no body)
  /flaky?fail=N&key=K[&code=C]
                            the first N requests with key K get status C (default 500), then 200 "ok"
  /reset[?fail=N&key=K]     send headers and part of the body, then reset the connection;
                            with fail/key only the first N requests per key do so (then 200 "ok")
  /slow?ms=N                wait N ms, then 200 "slow"
  /big?bytes=N[&chunked=1]  200 with N bytes ('a'..'z' repeating), Content-Length or chunked
  /headers                  200, the request headers as a JSON object (names as sent)
  /count                    number of distinct TCP connections that carried a request since the
                            last /stats/reset (text)
  /stats                    JSON {"connections": C, "requests": R, "max_concurrent": M, "in_flight": F}
  /stats/reset              zero the counters above (this request is not counted)
Concurrency (in_flight, max_concurrent) counts requests other than /count and /stats*; a request
leaves in_flight before its response is written, so a client never sees more than it caused.
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

lock = threading.Lock()
state = {
    "seen": set(),         # connection ids that carried a counted request
    "requests": 0,
    "in_flight": 0,
    "max_concurrent": 0,
    "fails": {},           # (path, key) -> failures already served
    "next_conn": 0,
}


def new_conn_id():
    with lock:
        state["next_conn"] += 1
        return state["next_conn"]


def should_fail(path, key, n):
    """True for the first n requests of (path, key)."""
    with lock:
        done = state["fails"].get((path, key), 0)
        if done < n:
            state["fails"][(path, key)] = done + 1
            return True
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpfault/1"

    def setup(self):
        super().setup()
        self.conn_id = new_conn_id()
        self.counted = False

    def log_message(self, fmt, *args):  # quiet: the C tests read stdout
        pass

    # -- helpers -------------------------------------------------------------------------
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(n) if n else b""

    def send(self, status, body, ctype="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"etag-%d"' % len(body))
        self.send_header("x-amzn-RequestId", "req-%d-%d" % (self.conn_id, state["requests"]))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def enter(self):
        with lock:
            state["seen"].add(self.conn_id)
            state["requests"] += 1
            state["in_flight"] += 1
            state["max_concurrent"] = max(state["max_concurrent"], state["in_flight"])
        self.counted = True

    def leave(self):
        if self.counted:
            with lock:
                state["in_flight"] -= 1
            self.counted = False

    # -- dispatch ------------------------------------------------------------------------
    def handle_any(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        path = u.path
        body = self.read_body()
        if path == "/stats/reset":
            with lock:
                state["seen"] = set()
                state["requests"] = 0
                state["max_concurrent"] = 0
            return self.send(200, "reset")
        if path == "/stats":
            with lock:
                s = {"connections": len(state["seen"]), "requests": state["requests"],
                     "max_concurrent": state["max_concurrent"], "in_flight": state["in_flight"]}
            return self.send(200, json.dumps(s), "application/json")
        if path == "/count":
            with lock:
                state["seen"].add(self.conn_id)
                n = len(state["seen"])
            return self.send(200, str(n))

        self.enter()
        try:
            if path == "/ok":
                self.leave()
                return self.send(200, "%s %d" % (self.command, len(body)))
            if path.startswith("/status/"):
                self.leave()
                code = int(path[len("/status/"):])
                return self.send(code, "status %d" % code)
            if path == "/flaky":
                fail = should_fail(path, q.get("key", ""), int(q.get("fail", "1")))
                self.leave()
                if fail:
                    code = int(q.get("code", "500"))
                    return self.send(code, "flaky %d" % code)
                return self.send(200, "ok")
            if path == "/reset":
                if "fail" in q and not should_fail(path, q.get("key", ""), int(q["fail"])):
                    self.leave()
                    return self.send(200, "ok")
                self.leave()
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                # SO_LINGER 0: close() sends an RST instead of a FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return None
            if path == "/slow":
                time.sleep(int(q.get("ms", "1000")) / 1000.0)
                self.leave()
                return self.send(200, "slow")
            if path == "/big":
                n = int(q.get("bytes", "0"))
                self.leave()
                pattern = bytes(range(ord("a"), ord("z") + 1))
                data = (pattern * (n // 26 + 1))[:n]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if q.get("chunked") == "1":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, n, 65536):
                        part = data[i:i + 65536]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(n))
                    self.end_headers()
                    self.wfile.write(data)
                return None
            if path == "/headers":
                self.leave()
                h = {}
                for k, v in self.headers.items():
                    h[k] = v if k not in h else h[k] + "," + v
                return self.send(200, json.dumps(h), "application/json")
            self.leave()
            return self.send(404, "no such path")
        finally:
            self.leave()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # resets and timeouts are what this server is for; keep stderr quiet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=120.0)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    print(srv.server_address[1], flush=True)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        srv.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    timer = threading.Timer(a.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


if __name__ == "__main__":
    main()
