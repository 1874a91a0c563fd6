#!/usr/bin/env bash
# Occlusion-aware detection on real faces (issue 16). Builds real-face sets from LFW with `data occlude` (pseudo-labels
# from the imported RetinaFace on the clean images), fine-tunes the imported RetinaFace mobilenet0.25 with and without
# the adversarial mask generator for several seeds, and scores the imported, plain and adversarial detectors on:
#   clean      LFW folds 6-10 images as they are: detection rate (face nearest the centre at score >= 0.5), NME
#              against landmarks.txt;
#   mask       the same images with the held-out mask overlays (black-mask, red-mask) painted: detection rate, NME,
#              AP at IoU 0.5 against the clean-image boxes;
#   half       the same images with a flat half cover painted on every face: the same figures;
#   photos     ../shared/data/photos: the imported detector's faces (score >= 0.5) still found at score >= 0.5, and
#              the faces found;
#   synthetic  the heavy-occlusion synthetic scenes of bench/aofd.sh: AP at IoU 0.5.
# Each trained detector is left at DIR/plain-SEED/model.ffm and DIR/adversarial-SEED/model.ffm; the per-detector
# figures are DIR/results.jsonl and the mean and spread over seeds DIR/summary.md.
# Training: TRAIN_ARGS (default --trainable score-box-heads --teacher-weight 4: landmarks stay as imported, boxes learn
# whole faces under occluders, and the scores and boxes of unoccluded faces are held to the imported model's;
# docs/occlusion.md).
# Usage: [SEEDS="1 2 3"] [COMPOSITES=3000] [EPOCHS=3] [TRAIN_ARGS="--trainable score-box-heads --teacher-weight 4"] bench/aofd-real.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-aofd-real}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
overlays=$(cd ../shared/data/mask-overlays && pwd)
photos=$(cd ../shared/data/photos && pwd)
# A private copy of the build, so that rebuilding the repository meanwhile cannot disturb the run (kept when the
# script is run again to finish or extend a run: delete DIR/bin to rebuild).
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
cd "$out"
[ -f retinaface.ffm ] || $ff model import --from "$lfw/../../models/retinaface-mnet025/mobilenet0.25_Final.pth" --arch retinaface-mnet025 --out retinaface.ffm >&2
test=(--images "$lfw/images" --pairs "$lfw/pairs.txt" --split test --detector retinaface.ffm --landmarks "$lfw/landmarks.txt" --occlusion-rate 1)
[ -f train/label.txt ] || $ff data occlude --images "$lfw/images" --pairs "$lfw/pairs.txt" --split train --detector retinaface.ffm --out train \
  --overlays "$overlays" --hold-out black-mask,red-mask --composites ${COMPOSITES:-3000} --occlusion-rate 0.5 --seed 11 --force --json
[ -f test-mask/label.txt ] || $ff data occlude "${test[@]}" --out test-mask --occluders mask --overlays "$overlays/black-mask.png" "$overlays/red-mask.png" --seed 21 --force --json
[ -f test-half/label.txt ] || $ff data occlude "${test[@]}" --out test-half --occluders half-cover --seed 22 --force --json
[ -f photos/label.txt ] || $ff data occlude --images "$photos" --detector retinaface.ffm --out photos --occluders none --force --json
[ -f synthetic/scenes/label.txt ] || $ff data synth --out synthetic --identities 2 --images 1 --scenes 300 --scene-occlusion 1.0 --heavy-occlusion --seed 202 --force >&2

# A detector already in DIR is kept whatever TRAIN_ARGS say now: use a new DIR (or delete DIR/MODE-SEED) for another recipe.
detectors="imported"
for seed in ${SEEDS:-1 2 3}; do
  for mode in plain adversarial; do
    flag=""; [ $mode = plain ] && flag="--plain"
    [ -f $mode-$seed/model.ffm ] || $ff train-detector --data train --out $mode-$seed --init retinaface.ffm --epochs ${EPOCHS:-3} --seed $seed --force $flag ${TRAIN_ARGS---trainable score-box-heads --teacher-weight 4} --json >&2
    detectors="$detectors $mode-$seed"
  done
done

: > results.jsonl
: > eval.log
for d in $detectors; do
  model=$d/model.ffm; [ $d = imported ] && model=retinaface.ffm
  row() { jq -c --arg d "$d" --arg s "$1" '. + {detector: $d, set: $s}' >> results.jsonl; }
  $ff eval landmarks --model $model --images "$lfw/images" --landmarks test-mask/landmarks.txt --json 2>>eval.log | row clean
  for set in mask half; do
    lm=$($ff eval landmarks --model $model --images test-$set --landmarks test-$set/landmarks.txt --json 2>>eval.log)
    ap=$($ff eval detect --model $model --images test-$set --annotations test-$set/label.txt --json 2>>eval.log)
    jq -c -n --argjson a "$lm" --argjson b "$ap" '$a + {ap: $b.ap, recall: $b.recall, faces: $b.faces}' | row $set
  done
  $ff eval detect --model $model --images "$photos" --annotations photos/label.txt --confidence 0.5 --json 2>>eval.log | row photos
  $ff eval detect --model $model --images synthetic/scenes --annotations synthetic/scenes/label.txt --json 2>>eval.log | row synthetic
done

# Mean and sample standard deviation over seeds, per detector kind and set.
jq -s -r '
  def kind: .detector | sub("-[0-9]+$"; "");
  def stat(f): [.[] | f | select(. != null)] as $v | ($v | length) as $n
    | if $n == 0 then "-" else ($v | add / $n) as $m
      | (if $n > 1 then ([$v[] | (. - $m) * (. - $m)] | add / ($n - 1) | sqrt) else 0 end) as $s
      | "\($m * 10000 | round / 100)" + (if $n > 1 then " ± \($s * 10000 | round / 100)" else "" end) end;
  "| detector | runs | clean rate | clean NME | mask rate | mask AP | mask NME | half rate | half AP | half NME | photos found | photo faces | synthetic AP |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  (group_by(kind)[] | . as $g | ($g | map(select(.set == "clean"))) as $c | ($g | map(select(.set == "mask"))) as $m
    | ($g | map(select(.set == "half"))) as $h | ($g | map(select(.set == "photos"))) as $p | ($g | map(select(.set == "synthetic"))) as $y
    | "| \($g[0] | kind) | \($c | length) | \($c | stat(.detection_rate)) | \($c | stat(.nme)) | \($m | stat(.detection_rate)) | \($m | stat(.ap)) | \($m | stat(.nme)) | \($h | stat(.detection_rate)) | \($h | stat(.ap)) | \($h | stat(.nme)) | \($p | stat(.recall)) | \($p | map(.detections) | add / length) | \($y | stat(.ap)) |")
' results.jsonl | tee summary.md
