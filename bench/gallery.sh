#!/usr/bin/env bash
# Gallery search and enrolment, as recorded in docs/benchmarks.md ("Gallery"): a 1M x 512 synthetic gallery,
# exact search vs a streaming read of the same bytes (same run), HNSW recall@1 and speed-up, SQLite enrolment rate.
# float32 with HNSW, then float16 exact only. Needs about 7 GB of RAM and ~15-30 minutes on 2 cores (the HNSW build).
set -euo pipefail
cd "$(dirname "$0")/.."
faces=${1:-1000000}
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
$ff bench gallery --faces "$faces" --dim 512 --queries 100 --precision float32 --enroll-faces 100000 --json
$ff bench gallery --faces "$faces" --dim 512 --queries 100 --precision float16 --hnsw false --enroll-faces 100000 --json
