#!/usr/bin/env bash
# Input-pipeline throughput, as recorded in docs/benchmarks.md. Worker counts are compared side by side in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-bench}
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
$ff data synth --out "$out" --identities 200 --images 8 --seed 0 --force >/dev/null
$ff data pack --images "$out/faces" --out "$out/faces" >/dev/null
for data in "$out/faces" "$out/faces.rec"; do
  $ff bench pipeline --data "$data" --batch-size 64 --batches 40 --workers 1,2 --json
  $ff bench pipeline --data "$data" --batch-size 64 --batches 40 --workers 1,2 --augment --json
done
