#!/usr/bin/env bash
# The end-to-end benchmark, in one command: the simulator, the gateway on a fresh store, and
# `gannet loadgen http`, all on 127.0.0.1, through the scenarios of docs/performance.md. Writes
# a table to target/e2e/report.md (and each run's JSON next to it).
#
#   benches/e2e.sh                 # release build, full scenarios (a few minutes)
#   benches/e2e.sh --smoke         # debug build, tiny runs: CI keeps the harness working
#   E2E_DURATION=20s benches/e2e.sh
#
# Counts are taken where they happen: submit_sm and receipts at the simulator, callbacks at
# the load tool's receiver, CPU and peak RSS of the gateway from /proc. Nothing is asserted:
# the figures are reported, compared with the targets by a reader.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
[[ "${1:-}" == "--smoke" ]] && SMOKE=1

if [[ $SMOKE == 1 ]]; then
  PROFILE=debug; DURATION=${E2E_DURATION:-2s}; CONNS=${E2E_CONNECTIONS:-16}; AWAIT=2000
  cargo build --quiet --locked
else
  PROFILE=release; DURATION=${E2E_DURATION:-15s}; CONNS=${E2E_CONNECTIONS:-256}; AWAIT=${E2E_AWAIT:-1000000}
  cargo build --quiet --locked --release
fi
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/$PROFILE/gannet
OUT=$TARGET/e2e
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gannet-e2e.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEY=bench-key-0000000001
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
SECRET=bench-webhook-secret-01

# $1: receipt delay of the simulator (e.g. 50ms; 10m keeps messages waiting)
start_world() {
  local delay=$1
  SIM_CTL=$(port); P_MNO=$(port); P_AGG=$(port); API=$(port)
  cat > "$WORK/sim.yaml" <<EOF
seed: 1
control: 127.0.0.1:$SIM_CTL
personas:
  - name: bench-mno
    listen: 127.0.0.1:$P_MNO
    accounts: [{ system_id: gw, password: pw }]
    max_binds: 8
    window: 2048
    outcomes: [{ prefix: "", delivered: 1, delay: $delay }]
  - name: bench-agg
    listen: 127.0.0.1:$P_AGG
    accounts: [{ system_id: gw, password: pw }]
    max_binds: 8
    window: 2048
    outcomes: [{ prefix: "", delivered: 1, delay: $delay }]
EOF
  cat > "$WORK/routes.yaml" <<EOF
policy: { exploration: 0 }
defaults:
  receipt_deadline: { otp: 10m, transactional: 10m, marketing: 10m }
  validity: { otp: 1h, transactional: 1h, marketing: 1h }
carriers:
  bench-mno:
    kind: direct
    reaches: ["1", "44", "52", "91", "504"]
    cost: { "1": 0.004, "44": 0.03, "52": 0.009, "91": 0.002, "504": 0.05 }
  bench-agg:
    kind: intermediary
    reaches: ["1", "44", "52", "91", "504"]
    cost: { "1": 0.006, "44": 0.035, "52": 0.012, "91": 0.003, "504": 0.055 }
routes:
  - { prefix: "1", candidates: { default: [bench-mno, bench-agg] } }
  - { prefix: "44", candidates: { default: [bench-mno, bench-agg] } }
  - { prefix: "52", candidates: { default: [bench-mno, bench-agg] } }
  - { prefix: "91", candidates: { default: [bench-mno, bench-agg] } }
  - { prefix: "504", candidates: { default: [bench-mno, bench-agg] } }
EOF
  cat > "$WORK/gateway.yaml" <<EOF
api:
  listen: 127.0.0.1:$API
  max_batch: 1000
clients:
  - { name: bench, key_sha256: $KEY_SHA, rate: { per_second: 10000000, burst: 10000000 } }
store:
  path: store
${E2E_STORE_DELAY:+  max_delay: $E2E_STORE_DELAY}
routes: routes.yaml
webhooks:
  secret: $SECRET
  batch: { max: 100, linger: 5ms }
  queue_capacity: 2000000
engine:
  notify_submitted: false
carriers:
  - { name: bench-mno, host: 127.0.0.1, port: $P_MNO, system_id: gw, password: pw, binds: 2, window: 1024, queue_capacity: 2000000 }
  - { name: bench-agg, host: 127.0.0.1, port: $P_AGG, system_id: gw, password: pw, binds: 2, window: 1024, queue_capacity: 2000000 }
EOF
  rm -rf "$WORK/store"
  PREV_METRICS=/dev/null
  "$BIN" sim --config "$WORK/sim.yaml" --log warn > "$WORK/sim.log" 2>&1 &
  SIM_PID=$!; PIDS+=("$SIM_PID")
  for _ in $(seq 100); do curl -sf "127.0.0.1:$SIM_CTL/personas" >/dev/null && break; sleep 0.1; done
  "$BIN" serve --config "$WORK/gateway.yaml" --log warn > "$WORK/gateway.log" 2>&1 &
  GW_PID=$!; PIDS+=("$GW_PID")
  for _ in $(seq 200); do curl -sf "127.0.0.1:$API/readyz" >/dev/null && break; sleep 0.1; done
}

stop_world() {
  kill -TERM "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true
  kill -TERM "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true
}

# The gateway's own latency during one scenario: the difference of one histogram ($3, a
# regex for its bucket lines; summed over label sets) in two /metrics snapshots; prints
# "p50≤X p99≤Y" in ms as the upper bounds of the buckets that hold them.
ANSWER_HIST='gannet_api_request_duration_seconds_bucket\{route="/v1/messages(/batch)?",method="POST",status="202"'
SUBMIT_HIST='gannet_submit_delay_seconds_bucket\{'
gateway_percentiles() {
  local prev=$1 cur=$2 pattern=$3
  hist() { grep -E "^$pattern" "$1" 2>/dev/null |
           sed -E 's/.*le="([^"]+)"\} ([0-9.e+]+)/\1 \2/' | awk '{c[$1]+=$2} END {for (k in c) print k, c[k]}'; }
  join -a 2 -e 0 -o 0,1.2,2.2 <(hist "$prev" | sort) <(hist "$cur" | sort) 2>/dev/null |
    awk '$1 != "+Inf" {print $1, $3 - $2}' | sort -g |
    awk '{le[NR]=$1; n[NR]=$2} END {
      if (NR == 0 || n[NR] == 0) { print "-"; exit }
      tot = n[NR]; p50 = ""; p99 = ""
      for (i = 1; i <= NR; i++) {
        if (p50 == "" && n[i] >= 0.5 * tot) p50 = le[i] * 1000
        if (p99 == "" && n[i] >= 0.99 * tot) p99 = le[i] * 1000
      }
      printf "p50≤%sms p99≤%sms", p50, p99 }'
}

# $1: name; rest: loadgen options. E2E_PERF=name records the gateway with perf during that
# scenario (target/e2e/<name>.perf.data; `perf report -i ...`). WARMUP=<seconds> (set for
# one call): latency from both sides leaves out the first seconds of load: the load tool's by
# --warmup, the gateway's by taking the "before" /metrics snapshot about half a second after
# the warm-up ends (the load tool needs a moment to build its numbers and connect).
run() {
  local name=$1; shift
  echo "== $name" >&2
  local perf_pid= snap_pid= warm=()
  if [[ -n "${WARMUP:-}" ]]; then
    warm=(--warmup "${WARMUP}s")
    ( sleep "$(awk -v w="$WARMUP" 'BEGIN {print w + 0.5}')"; curl -sf "127.0.0.1:$API/metrics" > "$OUT/$name.warm.metrics" ) &
    snap_pid=$!
  fi
  if [[ "${E2E_PERF:-}" == "$name" ]]; then
    perf record -F 199 --call-graph dwarf,16384 -p "$GW_PID" -o "$OUT/$name.perf.data" > "$OUT/$name.perf.log" 2>&1 &
    perf_pid=$!
  fi
  "$BIN" loadgen http --url "http://127.0.0.1:$API" --api-key "$KEY" \
    --sim-control "http://127.0.0.1:$SIM_CTL" --gateway-pid "$GW_PID" --json "${warm[@]}" "$@" \
    > "$OUT/$name.json" 2> "$OUT/$name.log" || {
      echo "   failed: see $OUT/$name.log; the gateway's log ends:" >&2
      tail -5 "$WORK/gateway.log" >&2
      [[ -n $perf_pid ]] && kill -INT "$perf_pid" && wait "$perf_pid"
      [[ $SMOKE == 1 ]] && exit 1
      return 0
    }
  # The smoke run checks that the harness works end to end, not how fast.
  if [[ $SMOKE == 1 ]] && [[ $(jq '.accepted' "$OUT/$name.json") == 0 ]]; then
    echo "   smoke: nothing accepted in $name" >&2
    exit 1
  fi
  if [[ -n $perf_pid ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  if [[ -n $snap_pid ]]; then
    wait "$snap_pid" || true
    [[ -s "$OUT/$name.warm.metrics" ]] && PREV_METRICS="$OUT/$name.warm.metrics"
  fi
  curl -sf "127.0.0.1:$API/metrics" > "$OUT/$name.metrics" || true
  GW_P=$(gateway_percentiles "$PREV_METRICS" "$OUT/$name.metrics" "$ANSWER_HIST")
  GW_S=$(gateway_percentiles "$PREV_METRICS" "$OUT/$name.metrics" "$SUBMIT_HIST")
  PREV_METRICS="$OUT/$name.metrics"
  jq -r --arg n "$name" '[$n,
      (.accepted_per_s | floor),
      (.carriers.submit_sm_per_s // 0 | floor),
      (.carriers.receipts_per_s // 0 | floor),
      (.callbacks.per_s // 0 | floor),
      ((.latency.p50_us // 0) / 1000 * 10 | floor / 10),
      ((.latency.p99_us // 0) / 1000 * 10 | floor / 10),
      ((.gateway.cpu_us_per_msg // 0) * 10 | floor / 10),
      ((.gateway.peak_rss_kib // 0) / 1024 | floor),
      (.carriers.backlog // "-"), $gw, $gs] | @tsv' --arg gw "$GW_P" --arg gs "$GW_S" \
    "$OUT/$name.json" >> "$WORK/rows.tsv" 2>/dev/null || true
}

: > "$WORK/rows.tsv"
ONLY=${E2E_ONLY:-all}
want() { [[ $ONLY == all || ,$ONLY, == *,$1,* ]]; }
start_world 50ms
want receipts-webhooks && run receipts-webhooks --connections "$CONNS" --duration "$DURATION" --callbacks --webhook-secret "$SECRET" --drain-wait 10s
want no-receipts && run no-receipts --connections "$CONNS" --duration "$DURATION" --no-receipt --drain-wait 10s
want batch-100 && run batch-100 --connections 32 --batch 100 --duration "$DURATION" --drain-wait 10s
MAX=$(jq -r '.accepted_per_s | floor' "$OUT/receipts-webhooks.json" 2>/dev/null || echo 0)
HALF=$(( MAX / 2 )); [[ $HALF -lt 10 ]] && HALF=10
# E2E_OPEN_RATES="5000 8000": open-loop runs at these rates too (the tail at lower loads).
# Open-loop latency leaves out the first E2E_OPEN_WARMUP seconds (default 2; 0 keeps all).
OPEN_WARMUP=${E2E_OPEN_WARMUP:-2}; [[ $SMOKE == 1 ]] && OPEN_WARMUP=0.5
[[ $OPEN_WARMUP == 0 ]] && OPEN_WARMUP=
for rate in $HALF ${E2E_OPEN_RATES:-}; do
  want open-loop && WARMUP=$OPEN_WARMUP run "open-loop-$rate" --connections "$CONNS" --rate "$rate" --duration "$DURATION" --callbacks --webhook-secret "$SECRET" --drain-wait 10s
done
stop_world

# The direct route's carrier, slowed so a queue builds, drops every bind 3 s into the load
# and refuses new ones: what waited for it is rerouted to the aggregator. The delay from
# giving up an attempt to the next carrier's acceptance is the gateway's own histogram.
if want failover; then
  start_world 50ms
  fault() { curl -sf -XPOST "127.0.0.1:$SIM_CTL/personas/bench-mno/faults" -d "$1" > /dev/null; }
  fault '{"fault":"slow_down","extra":"300ms"}'
  ( sleep 3; fault '{"fault":"refuse_binds","for":"10m"}'; fault '{"fault":"reset"}' ) &
  PIDS+=("$!")
  RATE=${E2E_FAILOVER_RATE:-2000}; [[ $SMOKE == 1 ]] && RATE=200
  run failover --connections 64 --rate "$RATE" --duration "$DURATION" --drain-wait 15s
  curl -sf "127.0.0.1:$API/metrics" | grep '^gannet_failover_delay_seconds' > "$OUT/failover.metrics" || true
  stop_world
fi

# Messages waiting for receipts: the simulator holds every receipt for 10 minutes.
if want await; then
  start_world 10m
  run "await-$AWAIT" --connections 32 --batch 100 --count "$AWAIT" --drain-wait 30s
  stop_world
fi

{
  echo "# Gannet end-to-end benchmark"
  echo
  echo "$STARTED, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $PROFILE build, load average at start $LOAD0, at the end $(cut -d' ' -f1 /proc/loadavg)"
  echo
  echo "| scenario | accepted/s | submit_sm/s at the SMSC | receipts/s | callbacks/s | client p50 ms | client p99 ms | gateway: request → answer | gateway: request → submit_sm | gateway CPU µs/msg | gateway peak RSS MiB | not at a carrier after drain |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1,$2,$3,$4,$5,$6,$7,$11,$12,$8,$9,$10}' "$WORK/rows.tsv"
  if [[ -s "$OUT/failover.metrics" ]]; then
    echo
    echo "Failover (give up an attempt → next carrier accepts), from the gateway's /metrics:"
    echo
    sed 's/^/    /' "$OUT/failover.metrics"
  fi
} > "$OUT/report.md"
cat "$OUT/report.md"
