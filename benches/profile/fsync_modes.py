#!/usr/bin/env python3
"""Latency of one small durable write, by write mode, on the disk under DIR.

    python3 benches/profile/fsync_modes.py [DIR] [N]

Each mode writes N records of 160 bytes one after another, each made durable
before the next (as a publisher awaiting each PubAck), and prints the median
and mean microseconds per durable write:

  append       pwrite past the end + fdatasync (the file grows: a journal
               commit per sync; nats-server's block files do this)
  falloc       file preallocated with fallocate, pwrite + fdatasync (Nile's
               active segment)
  zero         file filled with zeros first, pwrite + fdatasync
  rwf_dsync    preallocated, one pwritev2(RWF_DSYNC) per record
  direct_dsync zero-filled, O_DIRECT|O_DSYNC, the record's 4 KiB block rewritten
"""
import mmap
import os
import sys
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else "."
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
REC = b"x" * 160
FILE_BYTES = 64 << 20


def prepare(path, how):
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if how == "falloc":
        os.posix_fallocate(fd, 0, FILE_BYTES)
    elif how == "zero":
        chunk = b"\0" * (1 << 20)
        for _ in range(FILE_BYTES >> 20):
            os.write(fd, chunk)
    os.fsync(fd)
    os.close(fd)


def timed(one):
    t = []
    for i in range(N):
        s = time.perf_counter_ns()
        one(i)
        t.append(time.perf_counter_ns() - s)
    t.sort()
    return t[N // 2] / 1000, sum(t) / N / 1000


def buffered(path, how):
    prepare(path, how)
    fd = os.open(path, os.O_RDWR)

    def one(i):
        os.pwrite(fd, REC, i * len(REC))
        os.fdatasync(fd)

    r = timed(one)
    os.close(fd)
    return r


def rwf_dsync(path):
    prepare(path, "falloc")
    fd = os.open(path, os.O_RDWR)
    r = timed(lambda i: os.pwritev(fd, [REC], i * len(REC), os.RWF_DSYNC))
    os.close(fd)
    return r


def direct_dsync(path):
    prepare(path, "zero")
    fd = os.open(path, os.O_RDWR | os.O_DIRECT | os.O_DSYNC)
    block = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT needs

    def one(i):
        off = i * len(REC)
        at = off % 4096
        n = min(len(REC), 4096 - at)
        block[at:at + n] = REC[:n]
        os.pwritev(fd, [block], off - at)
        if at + len(REC) >= 4096:
            block[:] = b"\0" * 4096
            block[: len(REC) - n] = REC[n:]

    r = timed(one)
    os.close(fd)
    return r


def main():
    path = os.path.join(DIR, f"fsync-modes.{os.getpid()}")
    modes = [
        ("append", lambda: buffered(path, "append")),
        ("falloc", lambda: buffered(path, "falloc")),
        ("zero", lambda: buffered(path, "zero")),
        ("rwf_dsync", lambda: rwf_dsync(path)),
        ("direct_dsync", lambda: direct_dsync(path)),
    ]
    try:
        for _ in range(2):
            for name, run in modes:
                p50, mean = run()
                print(f"{name:13} p50 {p50:7.1f} us  mean {mean:7.1f} us")
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
