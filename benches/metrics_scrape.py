#!/usr/bin/env python3
"""Time /metrics scrapes of a server holding N streams, each with a durable
consumer (docs/monitoring.md records the result).

Starts the given server binary on free ports with JetStream in a temporary
store, creates the streams and consumers over the plain NATS protocol (no
client library needed), publishes one message into each, then scrapes
/metrics --scrapes times and prints the median, p90 and max wall time per
scrape and the body size. Works with nats-server too (its /metrics is 404,
so use --path /jsz?consumers=true to compare an endpoint both have).

    cargo build --release -p nile-server
    python3 benches/metrics_scrape.py target/release/nile --streams 1000
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nats:
    """Just enough NATS: CONNECT, SUB to an inbox, request/reply in order."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _R.> 1\r\n')
        self.n = 0

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def payload(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:n], self.buf[n + 2:]
        return body

    def request(self, subject, body):
        self.n += 1
        data = body.encode()
        self.sock.sendall(b"PUB %s _R.%d %d\r\n%s\r\n" % (subject.encode(), self.n, len(data), data))
        while True:
            line = self.line()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG") or line.startswith(b"HMSG"):
                parts = line.split()
                body = self.payload(int(parts[-1]))
                reply = json.loads(body[body.find(b"{"):])
                if "error" in reply:
                    raise RuntimeError(f"{subject}: {reply['error']}")
                return reply


def wait_http(port, deadline_s=10):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/varz").read()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("monitoring port never answered")


def populate(nc, streams):
    for i in range(streams):
        name = f"S{i}"
        nc.request(f"$JS.API.STREAM.CREATE.{name}",
                   json.dumps({"name": name, "subjects": [f"s.{i}.>"]}))
        nc.request(f"$JS.API.CONSUMER.DURABLE.CREATE.{name}.C",
                   json.dumps({"stream_name": name,
                               "config": {"durable_name": "C", "ack_policy": "explicit"}}))
        nc.request(f"s.{i}.x", "hello")


def scrape(port, path, scrapes):
    url = f"http://127.0.0.1:{port}{path}"
    times, size = [], 0
    for _ in range(scrapes):
        t = time.perf_counter()
        body = urllib.request.urlopen(url).read()
        times.append(time.perf_counter() - t)
        size = len(body)
    return times, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("server", help="path to nile (or nats-server)")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--path", default="/metrics")
    args = ap.parse_args()
    store = tempfile.mkdtemp(prefix="metrics-scrape-")
    port, http = free_port(), free_port()
    proc = subprocess.Popen(
        [args.server, "-a", "127.0.0.1", "-p", str(port), "-m", str(http), "-js", "-sd", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(http)
        t = time.time()
        populate(Nats(port), args.streams)
        setup_s = time.time() - t
        scrape(http, args.path, 3)  # warm up
        times, size = scrape(http, args.path, args.scrapes)
        ms = sorted(x * 1000 for x in times)
        p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
        print(f"{args.streams} streams + consumers (setup {setup_s:.1f} s), "
              f"{args.scrapes} scrapes of {args.path} ({size} bytes): "
              f"median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, max {ms[-1]:.1f} ms")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
