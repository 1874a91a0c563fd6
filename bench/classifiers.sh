#!/usr/bin/env bash
# The classifiers side by side in one run (faceforge bench classifier: one step of a small fixed network plus the
# classifier; B 128, d 512), one configuration per process so each peak RSS is its own. Results in docs/benchmarks.md.
# Usage: bench/classifiers.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-3}
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
run() { $ff bench classifier --batch 128 --steps "$steps" --json "$@" | tr -d '\n '; echo; }
for c in 10000 100000 1000000; do
  run --method full --classes $c
  run --method pfc --classes $c --rate 0.1
  run --method ffc --classes $c --pool-size 0.1
  run --method ffc --classes $c --pool-size 0.01
done
run --method full-autograd --classes 1000000
run --method pfc --classes 1000000 --rate 0.1 --fc-dtype fp16
run --method pfc --classes 4000000 --rate 0.1 --fc-dtype fp16
# FFC's class side does not grow with the identities: a fixed pool from 100k to 10M identities, and 1 % of 10M.
for c in 100000 1000000 10000000; do run --method ffc --classes $c --pool-size 10000; done
run --method ffc --classes 10000000 --pool-size 0.01
