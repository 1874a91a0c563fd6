#!/usr/bin/env bash
# Occlusion-aware detection (AOFD) on synthetic scenes: fine-tune the imported RetinaFace mobilenet0.25 with and
# without the adversarial mask generator (same data, steps and seed), then score both, and the imported detector
# untouched, on held-out scenes where every face has an occluder and, in addition, a random half of it covered
# (AP at IoU 0.5, occlusion-segmentation IoU).
# Usage: [TRAIN=1500] [TEST=300] [EPOCHS=3] [SEED=1] bench/aofd.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-aofd}
# A private copy of the build, so that rebuilding the repository meanwhile cannot disturb the run.
dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
$ff model import --force --from ../shared/models/retinaface-mnet025/mobilenet0.25_Final.pth --arch retinaface-mnet025 --out "$out/retinaface.ffm" >&2
$ff data synth --out "$out/train" --identities 2 --images 1 --scenes ${TRAIN:-1500} --scene-occlusion 0.5 --seed 101 --force >&2
$ff data synth --out "$out/test" --identities 2 --images 1 --scenes ${TEST:-300} --scene-occlusion 1.0 --heavy-occlusion --seed 202 --force >&2
test="--images $out/test/scenes --annotations $out/test/scenes/label.txt --json"
echo '{"detector": "imported"}'; $ff eval detect --model "$out/retinaface.ffm" $test
for mode in plain adversarial; do
  flag=""; [ $mode = plain ] && flag="--plain"
  $ff train-detector --data "$out/train/scenes" --out "$out/$mode" --init "$out/retinaface.ffm" --epochs ${EPOCHS:-3} --seed ${SEED:-1} --force $flag --json >&2
  echo "{\"detector\": \"$mode\"}"; $ff eval detect --model "$out/$mode/model.ffm" $test --masks "$out/test/scenes/masks"
done
