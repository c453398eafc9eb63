# Time to create N empty file streams one after another, then to list them
# (nats.py's test_jsm_stream_management_with_offset creates 300, lists 2 pages). Needs nats-py (the
# peer-suites venv has it):
#   python3 benches/many_streams.py PORT N
import asyncio, sys, time, nats
PORT, N = int(sys.argv[1]), int(sys.argv[2])
async def main():
    nc = await nats.connect(f"nats://127.0.0.1:{PORT}")
    jsm = nc.jsm()
    t0 = time.monotonic()
    for i in range(N):
        await jsm.add_stream(name=f"stream_{i}")
    dt = time.monotonic() - t0
    print(f"created {N} streams in {dt:.2f}s ({dt / N * 1000:.1f} ms each)")
    # Then page through them as the test does (STREAM.LIST, 256 a page).
    offset = 0
    while offset < N:
        t0 = time.monotonic()
        page = await jsm.streams_info(offset=offset)
        dt = time.monotonic() - t0
        print(f"listed offset {offset}: {len(page)} streams in {dt * 1000:.1f} ms")
        offset += max(len(page), 1)
    await nc.close()
asyncio.run(main())
