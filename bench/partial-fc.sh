#!/usr/bin/env bash
# Partial FC against the full softmax, classifier only (frozen random features), one configuration per process so
# each peak RSS is its own. Results in docs/benchmarks.md. Usage: bench/partial-fc.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-3}
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
run() { $ff bench partial-fc --batch-size 128 --steps "$steps" --json "$@" | tr -d '\n '; echo; }
for c in 100000 1000000; do
  run --classes $c --method full
  for r in 1.0 0.3 0.1; do run --classes $c --rate $r; done
  run --classes $c --rate 0.1 --fc-dtype fp16
done
run --classes 4000000 --rate 0.1 --fc-dtype fp16
