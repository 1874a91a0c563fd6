#!/usr/bin/env bash
# Recognising occluded faces (docs/occlusion.md, "Recognising occluded faces"): the MagFace fine-tuning of
# bench/quality-lfw.sh (degraded crops too) with and without `--occlusion-probability 0.3`, one seed, trained on LFW's
# training split (people outside folds 6-10) with two of the four shared mask pictures (default, blue), tested on
# folds 6-10 with the other two (black, red) painted by `eval degradation`, plus the error-versus-reject check.
# Writes under $1 (default /tmp/faceforge-occluded); SEED=S (default 3); reruns skip finished trainings.
# About 30 minutes of training on 2 cores, then 5 minutes of evaluation per model.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-occluded}
seed=${SEED:-3}
shared=../shared
lfw=$shared/data/lfw
mkdir -p "$out/masks-train" "$out/masks-test"
out=$(cd "$out" && pwd)
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
cp $shared/data/mask-overlays/default-mask.png $shared/data/mask-overlays/blue-mask.png "$out/masks-train/"
cp $shared/data/mask-overlays/black-mask.png $shared/data/mask-overlays/red-mask.png "$out/masks-test/"
[ -f "$out/mfn.ffm" ] || $ff model import --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$out/mfn.ffm" >&2
[ -d "$out/train-96" ] || $ff data split-lfw --images $lfw/images --pairs $lfw/pairs.txt --test-folds 6-10 --out "$out/train-96" \
  --landmarks $lfw/landmarks.txt --template sphereface-112x96 >&2

magface=(--data "$out/train-96" --arch mobilefacenet-casia --head mag-face --scale 64 --init "$out/mfn.ffm" --epochs 6 --lr 0.005
  --warmup-epochs 0.5 --batch-size 64 --checkpoint-every 100 --mag-face-lower-magnitude 1 --mag-face-upper-magnitude 51
  --mag-face-lower-margin 0.45 --mag-face-upper-margin 1 --mag-face-lambda 5 --degrade-probability 0.5 --seed $seed --json)
occluders=(--occlusion-probability 0.3 --occluders mask,sunglasses,hand,scarf --mask-overlays "$out/masks-train")
train() { # NAME extra-arguments…
  local name=$1; shift
  [ -f "$out/$name/finished.json" ] && return
  if [ -d "$out/$name/checkpoints" ]; then $ff train --resume "$out/$name" --json >&2; else $ff train "${magface[@]}" "$@" --out "$out/$name" --force >&2; fi
}
train plain$seed
train occluded$seed "${occluders[@]}"

common=(--images $lfw/images --pairs $lfw/pairs.txt --landmarks $lfw/landmarks.txt --folds 6-10 --json)
for name in plain$seed occluded$seed; do
  $ff eval degradation --model "$out/$name/model.ffm" "${common[@]}" --masks "$out/masks-test" --degradation mask > "$out/$name-masks.json"
  $ff eval quality --model "$out/$name/model.ffm" "${common[@]}" --quality magnitude --quality random > "$out/$name-erc.json"
  python3 - "$out" "$name" <<'PY'
import json, sys
out, name = sys.argv[1:3]
d = json.load(open(f"{out}/{name}-masks.json"))
rows = ", ".join(f"{r['degradation']}{'' if r.get('level') is None else ' ' + str(r['level'])} {100 * r['accuracy_cosine']:.2f} %" for r in d["results"])
e = json.load(open(f"{out}/{name}-erc.json"))
f = e["curves"]["magnitude"]["fnmr"]
print(f"{name}: {rows}; FNMR at FMR 1e-3 {100 * f[0]:.2f} -> {100 * f[2]:.2f} % at 10 % rejected, ERC area {e['auc']['magnitude']:.5f} (random {e['auc']['random']:.5f})")
PY
done
