#!/usr/bin/env bash
# Every benchmark of issue 8 at its full size, each appending its figures to bench/RESULTS.md.
# Needs PostgreSQL (postgresql://postgres@127.0.0.1:5432) and Redis (redis://127.0.0.1:6379) on loopback.
# Profilers for the scripts' profiling options: .venv/bin/pip install -e '.[bench]'
# Run from anywhere: bench/run_all.sh   (about 10 minutes on 2 cores; best when the machine is otherwise idle)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
uptime
$PY bench/render_bench.py --repeats 3 --record
# 150 ms per call: 1,000/s needs >= 150 sends in flight. send_batch (the default) keeps up to 100 per worker
# thread in flight on the event loop, so 8 threads per process are enough (hub worker --help says why).
$PY bench/e2e_send.py --recipients 20000 --latency-ms 150 --processes 2 --threads 8
$PY bench/e2e_send.py --recipients 20000 --latency-ms 0 --processes 2 --threads 8
$PY bench/fan_out_bench.py --recipients 1000000
$PY bench/webhooks_bench.py --messages 10000 --concurrency 64
$PY bench/pace_bench.py --seconds 60
# The same pace through a 10 s database stall and a 10 s Redis stall (issue 14).
$PY bench/pace_stall_bench.py
uptime
