#!/usr/bin/env bash
# Open-set identification on LFW through the gallery (issue 17): `faceforge eval identify --protocol lfw-open-set`
# with the shared CASIA MobileFaceNet as .ffm and as its ONNX export, each with exact and HNSW search: the 1,680
# people with two or more images enrolled with their first image, their other 7,484 images as probes, the 4,069
# one-image people as unknown probes (landmarks.txt alignment, flip Add).
# Results: DIR/{ffm,onnx}-{exact,hnsw}.json and DIR/summary.md.
# Usage: bench/lfw-open-set.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-lfw-open-set}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
models=$(cd ../shared/models && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
cd "$out"
$ff model import --force --from "$models/mobilefacenet-casia/068.ckpt" --arch mobilefacenet-casia --out mfn.ffm >/dev/null
$ff export onnx --force --model mfn.ffm --out mfn.onnx >/dev/null
for m in ffm onnx; do
  for index in exact hnsw; do
    # HNSW with search beam 256: identical figures to exact search here; beam 64 and 128 each miss one probe (docs/benchmarks.md).
    beam=(); [ $index = hnsw ] && beam=(--ef-search 256)
    $ff eval identify --model mfn.$m --images "$lfw/images" --landmarks "$lfw/landmarks.txt" --protocol lfw-open-set --index $index "${beam[@]}" --json > $m-$index.json
  done
done
python3 - <<'PY' > summary.md
import json
print("| model | index | enrolled | mated probes | unknown probes | rank-1 | rank-5 | DIR at FPIR 1 % | DIR at FPIR 10 % |\n|---|---|---|---|---|---|---|---|---|")
for m in ("ffm", "onnx"):
    for i in ("exact", "hnsw"):
        r = json.load(open(f"{m}-{i}.json")); d = r["dir_at_fpir"]
        print(f"| .{m} | {i} | {r['enrolled']} | {r['probes']} | {r['unknown_probes']} | {100*r['rank1']:.2f} % | {100*r['rank5']:.2f} % | {100*d['0.01']:.2f} % | {100*d['0.1']:.2f} % |")
PY
cat summary.md
