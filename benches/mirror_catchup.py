# Time for a new mirror and a new source to catch up on N stored messages
# (128-byte payloads on 100 subjects). Needs nats-py (the peer-suites venv has it):
#   python3 benches/mirror_catchup.py PORT N
import asyncio, json, sys, time, nats
PORT, N = int(sys.argv[1]), int(sys.argv[2])
async def req(nc, subj, body):
    r = await nc.request(subj, json.dumps(body).encode() if body is not None else b"", timeout=10)
    return json.loads(r.data)
async def wait(nc, name, n):
    while True:
        st = (await req(nc, f"$JS.API.STREAM.INFO.{name}", None))["state"]
        if st["messages"] >= n: return
        await asyncio.sleep(0.01)
async def main():
    nc = await nats.connect(f"nats://127.0.0.1:{PORT}")
    await req(nc, "$JS.API.STREAM.CREATE.O", {"name":"O","subjects":["o.>"]})
    payload = b"x" * 128
    for i in range(N):
        await nc.publish(f"o.{i % 100}", payload)
        if i % 5000 == 0: await nc.flush()
    await nc.flush()
    await wait(nc, "O", N)
    for name, cfg in [("M", {"name":"M","mirror":{"name":"O"}}), ("S", {"name":"S","sources":[{"name":"O"}]})]:
        t0 = time.monotonic()
        await req(nc, f"$JS.API.STREAM.CREATE.{name}", cfg)
        await wait(nc, name, N)
        dt = time.monotonic() - t0
        print(f"{name}: {N} msgs in {dt:.2f}s = {N/dt:,.0f} msg/s")
    await nc.close()
asyncio.run(main())
