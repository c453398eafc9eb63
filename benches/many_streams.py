# Time to create N empty file streams one after another (nats.py's
# test_jsm_stream_management_with_offset creates 300). Needs nats-py (the
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
    await nc.close()
asyncio.run(main())
