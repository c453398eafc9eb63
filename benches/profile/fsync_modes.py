#!/usr/bin/env python3
"""Latency of one small durable write, by write mode, on the disk under DIR.

    python3 benches/profile/fsync_modes.py [DIR] [N] [BYTES]

Each mode writes N records of BYTES (default 160) one after another, each
made durable before the next (as a publisher awaiting each PubAck; with
BYTES=16000 or so, as a group commit of ~100 small publishes), and prints
the median and mean microseconds per durable write, and the device write
requests per durable write from /sys/block/<disk>/stat (a cache flush
counts as one write request there, and once more as a flush):

  append       pwrite past the end + fdatasync (the file grows: a journal
               commit per sync; nats-server's block files do this)
  falloc       file preallocated with fallocate, pwrite + fdatasync (Nile's
               active segment)
  zero         file filled with zeros first, pwrite + fdatasync
  rwf_dsync    preallocated, one pwritev2(RWF_DSYNC) per record
  direct_dsync zero-filled, O_DIRECT|O_DSYNC, the record's 4 KiB block rewritten
  steps_falloc the file extended ahead of the records in steps (64 KiB, then
               as large as the file, at most 4 MiB) with fallocate
  steps_zero   the same steps written as zeros (Nile's active segment since
               the seventh round in docs/profiles.md)
"""
import mmap
import os
import sys
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else "."
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
REC = b"x" * (int(sys.argv[3]) if len(sys.argv) > 3 else 160)
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


def disk_stat_path():
    """/sys/block/<disk>/stat of the whole disk under DIR, or None."""
    try:
        dev = os.stat(DIR).st_dev
        link = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
        if os.path.exists(os.path.join(link, "partition")):
            link = os.path.dirname(link)
        path = os.path.join(link, "stat")
        return path if os.path.exists(path) else None
    except OSError:
        return None


STAT = disk_stat_path()


def write_requests():
    if STAT is None:
        return 0
    with open(STAT) as f:
        return int(f.read().split()[4])


def timed(one):
    t = []
    w0 = write_requests()
    for i in range(N):
        s = time.perf_counter_ns()
        one(i)
        t.append(time.perf_counter_ns() - s)
    writes = (write_requests() - w0) / N
    t.sort()
    return t[N // 2] / 1000, sum(t) / N / 1000, writes


def buffered(path, how):
    prepare(path, how)
    fd = os.open(path, os.O_RDWR)

    def one(i):
        os.pwrite(fd, REC, i * len(REC))
        os.fdatasync(fd)

    r = timed(one)
    os.close(fd)
    return r


def stepped(path, zeros):
    prepare(path, "append")
    fd = os.open(path, os.O_RDWR)
    state = {"allocated": 0}
    zero_chunk = b"\0" * (4 << 20)

    def one(i):
        end = (i + 1) * len(REC)
        if end > state["allocated"]:
            length = i * len(REC)
            target = end + min(max(length, 64 << 10), 4 << 20)
            if zeros:
                now = os.fstat(fd).st_size
                os.pwrite(fd, zero_chunk[: target - now], now)
            else:
                os.posix_fallocate(fd, 0, target)
            state["allocated"] = target
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
        ("steps_falloc", lambda: stepped(path, False)),
        ("steps_zero", lambda: stepped(path, True)),
    ]
    if len(REC) > 4096:
        # It rewrites the record's one 4 KiB block.
        modes = [m for m in modes if m[0] != "direct_dsync"]
    try:
        for _ in range(2):
            for name, run in modes:
                p50, mean, writes = run()
                print(f"{name:13} p50 {p50:7.1f} us  mean {mean:7.1f} us  "
                      f"device writes {writes:4.2f}")
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
