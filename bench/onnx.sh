#!/usr/bin/env bash
# ONNX export against libtorch on real faces (issue 17), side by side in one run: the shared CASIA MobileFaceNet and
# the RetinaFace mobilenet0.25 imported, exported with `faceforge export onnx`, then
#   `bench onnx`     the cosine between the two runtimes' embeddings of every LFW image (landmark-aligned, no flip),
#                    images/s of each (batches alternate), and the detector's boxes, landmarks and scores on the
#                    first DETECTOR_IMAGES LFW photos and the shared photos' folder;
#   `eval verify`    LFW's 10-fold accuracy with the .ffm and with the .onnx (flip Add).
# Results: DIR/bench-onnx.json, DIR/verify-ffm.json, DIR/verify-onnx.json, DIR/summary.md.
# Usage: [DETECTOR_IMAGES=1000] bench/onnx.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-onnx}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
models=$(cd ../shared/models && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
cd "$out"
$ff model import --force --from "$models/mobilefacenet-casia/068.ckpt" --arch mobilefacenet-casia --out mfn.ffm >/dev/null
$ff model import --force --from "$models/retinaface-mnet025/mobilenet0.25_Final.pth" --arch retinaface-mnet025 --out retinaface.ffm >/dev/null
$ff export onnx --force --model mfn.ffm --out mfn.onnx --json > export-mfn.json
$ff export onnx --force --model retinaface.ffm --out retinaface.onnx --json > export-retinaface.json
$ff bench onnx --model mfn.ffm --onnx mfn.onnx --images "$lfw/images" --landmarks "$lfw/landmarks.txt" \
  --detector retinaface.ffm --detector-images "${DETECTOR_IMAGES:-1000}" --json > bench-onnx.json
for m in ffm onnx; do
  $ff eval verify --model mfn.$m --images "$lfw/images" --pairs "$lfw/pairs.txt" --landmarks "$lfw/landmarks.txt" --flip Add --json > verify-$m.json
done
python3 - <<'PY' > summary.md
import json
b = json.load(open("bench-onnx.json")); d = b["detector"]
v = {m: json.load(open(f"verify-{m}.json")) for m in ("ffm", "onnx")}
def acc(r): return f"{100*r['accuracy_mean']:.3f} ± {100*r['accuracy_std']:.3f} %"
print(f"| figure | libtorch (.ffm) | ONNX Runtime (.onnx) |\n|---|---|---|")
print(f"| LFW 10-fold accuracy, flip Add | {acc(v['ffm'])} | {acc(v['onnx'])} |")
print(f"| embedding images/s (batch {b['batch_size']}, {b['images']} images) | {b['torch_images_per_second']} | {b['onnx_images_per_second']} |")
print(f"| detector images/s ({d['images']} LFW photos) | {d['torch_images_per_second']} | {d['onnx_images_per_second']} |")
print()
same = v["ffm"]["fold_accuracies"] == v["onnx"]["fold_accuracies"]
print(f"Fold accuracies {'identical' if same else 'DIFFERENT'}: .ffm {v['ffm']['fold_accuracies']}, .onnx {v['onnx']['fold_accuracies']}.")
print(f"Embedding cosine between the runtimes over {b['images']} LFW images: lowest {b['min_cosine']:.7f} ({b['worst_image']}), "
      f"mean {b['mean_cosine']:.7f}, {b['below0_99999']} below 0.99999.")
print(f"Detector over {d['images']} photos, {d['faces']} faces: {d['images_with_different_counts']} photos with different face counts, "
      f"largest box difference {d['max_box_difference_px']:.2g} px, landmark {d['max_landmark_difference_px']:.2g} px, score {d['max_score_difference']:.2g}.")
PY
cat summary.md
