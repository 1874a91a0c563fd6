#!/usr/bin/env bash
# The service under load (issue 18), loopback only, bounded in time: the shared CASIA MobileFaceNet and RetinaFace
# mobilenet0.25 imported and exported to ONNX, a gallery of FACES synthetic vectors plus the first photo of 50 LFW
# people, `faceforge serve`'s application started in-process on 127.0.0.1, CLIENTS clients for LOAD_SECONDS s (after 30 s of the same load, uncounted) sending
# 70 % identify, 20 % verify, 10 % enrol; the offline batched pipeline's images/s on the same photos first.
# Results: DIR/serve-load.json (p50/p99 per kind, throughput, errors, lost enrolments, memory start/end).
# Usage: [FACES=100000] [CLIENTS=16] [LOAD_SECONDS=60] [IDENTIFY_ONLY=1] bench/serve-load.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-serve-load}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
models=$(cd ../shared/models && pwd)
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
[ -x "$ff" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
[ -f "$out/mfn.onnx" ] || {
  $ff model import --force --from "$models/mobilefacenet-casia/068.ckpt" --arch mobilefacenet-casia --out "$out/mfn.ffm" >/dev/null
  $ff export onnx --force --model "$out/mfn.ffm" --out "$out/mfn.onnx" --no-verify >/dev/null
}
[ -f "$out/retinaface.onnx" ] || {
  $ff model import --force --from "$models/retinaface-mnet025/mobilenet0.25_Final.pth" --arch retinaface-mnet025 --out "$out/retinaface.ffm" >/dev/null
  $ff export onnx --force --model "$out/retinaface.ffm" --out "$out/retinaface.onnx" --no-verify >/dev/null
}
$ff bench serve --model "$out/mfn.onnx" --detector "$out/retinaface.onnx" --images "$lfw/images" \
  --faces "${FACES:-100000}" --clients "${CLIENTS:-16}" --seconds "${LOAD_SECONDS:-60}" ${IDENTIFY_ONLY:+--identify-only} --json | tee "$out/serve-load.json"
