#!/usr/bin/env bash
# Gallery search and enrolment, as recorded in docs/benchmarks.md ("Gallery"): a synthetic gallery of random unit
# vectors, exact search vs a streaming read of the same bytes (same run), HNSW recall@1 and speed-up, SQLite
# enrolment rate. The HNSW build is single-threaded and slow on random 512-d vectors (~600 faces/s on the shared
# 2 cores), so the HNSW rows use 100,000 faces; the exact rows use 1,000,000.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
$ff bench gallery --faces 1000000 --dim 512 --queries 100 --precision float32 --hnsw false --enroll-faces 0 --json
$ff bench gallery --faces 1000000 --dim 512 --queries 100 --precision float16 --hnsw false --enroll-faces 100000 --json
$ff bench gallery --faces 10 --dim 512 --queries 1 --precision float32 --hnsw false --enroll-faces 100000 --json
for ef in 64 256; do
  $ff bench gallery --faces 100000 --dim 512 --queries 100 --ef-search "$ef" --enroll-faces 0 --json
done
