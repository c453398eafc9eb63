#!/usr/bin/env bash
# Instruction counts per message for one nile-bench load, under callgrind.
#
#   benches/profile/callgrind.sh <label> <nile-bench scenario> [flags...]
#   e.g. benches/profile/callgrind.sh pubsub pubsub --msgs 20000 --subs 2
#
# Starts the release `nile` under valgrind's callgrind, waits until it
# listens, runs the scenario once untimed to warm it (streams, route caches),
# zeroes the counters, runs the measured load, dumps, and prints Ir per
# message (the measured run's --msgs). Instruction counts do not depend on
# how busy the machine's cores are, so before/after numbers compare across
# runs where wall-clock ones would not. Output: $OUT/<label>.callgrind
# (read with callgrind_annotate).
#
# Environment: TARGET (default target), OUT (default /tmp/nile-profile),
# STRACE=1 to count syscalls per message with `strace -c -f` instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
label=$1
shift
TARGET=${TARGET:-target}
OUT=${OUT:-/tmp/nile-profile}
NILE=$TARGET/release/nile
BENCH=$TARGET/release/nile-bench
mkdir -p "$OUT"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
store=$(mktemp -d /tmp/nile-profile-store.XXXXXX)
msgs=$(printf '%s\n' "$@" | awk 'p{print; exit} $0=="--msgs"{p=1}')
if [[ "${STRACE:-}" == 1 ]]; then
    strace -c -f -o "$OUT/$label.strace" "$NILE" -a 127.0.0.1 -p "$port" -js -sd "$store" >"$OUT/$label.log" 2>&1 &
else
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$label.callgrind" \
        "$NILE" -a 127.0.0.1 -p "$port" -js -sd "$store" >"$OUT/$label.log" 2>&1 &
fi
pid=$!
# `|| true`: under set -e a failed kill (nile already gone) would end the
# trap before the rm and leave the store behind.
trap 'kill $pid 2>/dev/null || true; rm -rf "$store"' EXIT
for _ in $(seq 1 600); do
    (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
done
url=nats://127.0.0.1:$port
# Warm-up: the same load once, untimed and uncounted.
"$BENCH" "$@" --url "$url" --no-progress --timeout 600 >/dev/null
if [[ "${STRACE:-}" != 1 ]]; then
    callgrind_control -z "$pid" >/dev/null
fi
"$BENCH" "$@" --url "$url" --no-progress --timeout 600 --json >"$OUT/$label.json"
if [[ "${STRACE:-}" == 1 ]]; then
    # strace does not pass TERM on to its tracee: stop nile itself.
    kill -TERM $(pgrep -P $pid) 2>/dev/null || kill -TERM $pid
    wait $pid || true
    echo "$label: syscalls of warm-up + measured run ($((msgs * 2)) msgs):"
    head -n 25 "$OUT/$label.strace"
    exit 0
fi
callgrind_control -d "$pid" >/dev/null
kill -TERM $pid
wait $pid || true
# The -d dump is <file>.<n>; the exit dump (shutdown) is the bare file.
dump=$(ls -t "$OUT/$label.callgrind".* | head -n1)
ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')
echo "$label: $ir Ir for $msgs msgs = $((ir / msgs)) Ir/msg ($dump)"
