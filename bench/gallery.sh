#!/usr/bin/env bash
# Gallery search and enrolment, as recorded in docs/benchmarks.md ("Gallery"): a synthetic gallery of random unit
# vectors, exact search vs a streaming read of the same bytes (same run), HNSW recall@1 and speed-up for several
# search beams on one built graph, SQLite enrolment rate. Each 1M HNSW build takes 13-30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
$ff bench gallery --faces 1000000 --dim 512 --queries 100 --precision float32 --hnsw false --enroll-faces 0 --json
$ff bench gallery --faces 1000000 --dim 512 --queries 100 --precision float16 --hnsw false --enroll-faces 100000 --json
$ff bench gallery --faces 10 --dim 512 --queries 1 --precision float32 --hnsw false --enroll-faces 100000 --json
$ff bench gallery --faces 1000000 --dim 512 --queries 200 --precision float32 --connectivity 32 --ef-add 256 --ef-search 16,32,64,128,256 --enroll-faces 0 --json
# The graph on sign bits, degree 256: recall@1 0.986-0.996 at about 30x over two builds (docs/benchmarks.md).
$ff bench gallery --faces 1000000 --dim 512 --queries 500 --precision float32 --graph-vectors binary --connectivity 256 --ef-add 128 \
  --ef-search 128,192,256,320,384 --enroll-faces 0 --json
