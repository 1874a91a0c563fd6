#!/usr/bin/env bash
# Quality and uncertainty on real faces (docs/benchmarks.md, "Face quality and uncertainty"): LFW training split
# (people outside folds 6-10), evaluation on folds 6-10 only. Needs ../shared. Writes under $1 (default
# /tmp/faceforge-quality); rerunning skips what is already there, and interrupted trainings resume from their checkpoints.
# DEGRADE=0.5 trains both on degraded images too (--degrade-probability; use another folder than the clean run's).
# SEED=S (default 0) seeds both trainings; give each seed its own folder.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-quality}
shared=../shared
lfw=$shared/data/lfw
mkdir -p "$out"
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
common=(--images $lfw/images --pairs $lfw/pairs.txt --landmarks $lfw/landmarks.txt --folds 6-10)

[ -f "$out/mfn.ffm" ] || $ff model import --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$out/mfn.ffm" >&2
[ -d "$out/train-96" ] || $ff data split-lfw --images $lfw/images --pairs $lfw/pairs.txt --test-folds 6-10 --out "$out/train-96" \
  --landmarks $lfw/landmarks.txt --template sphereface-112x96 >&2

# MagFace fine-tuning with the authors' fine-tuning bounds [l_a, u_a, l_m, u_m, lambda_g] = [1, 51, 0.45, 1, 5].
magface=(--data "$out/train-96" --arch mobilefacenet-casia --head mag-face --scale 64 --init "$out/mfn.ffm" --epochs ${MAG_EPOCHS:-6} --lr 0.005
  --warmup-epochs 0.5 --batch-size 64 --checkpoint-every 100 --mag-face-lower-magnitude 1 --mag-face-upper-magnitude 51
  --mag-face-lower-margin 0.45 --mag-face-upper-margin 1 --mag-face-lambda 5 --degrade-probability ${DEGRADE:-0} --seed ${SEED:-0} --json)
if [ ! -f "$out/magface/finished.json" ]; then
  if [ -d "$out/magface/checkpoints" ]; then $ff train --resume "$out/magface" --json >&2; else $ff train "${magface[@]}" --out "$out/magface" --force >&2; fi
fi

# PFE: uncertainty head on the frozen imported model (128 identities x 2 images per batch, the defaults).
if [ ! -f "$out/pfe.ffm" ]; then
  if [ -d "$out/pfe.ffm.run/checkpoints" ]; then $ff train-uncertainty --resume "$out/pfe.ffm.run" --json >&2
  else $ff train-uncertainty --model "$out/mfn.ffm" --data "$out/train-96" --out "$out/pfe.ffm" --identities-per-batch 128 --images-per-identity 2 --epochs ${PFE_EPOCHS:-20} --degrade-probability ${DEGRADE:-0} --seed ${SEED:-0} --checkpoint-every 50 --json --force >&2; fi
fi

echo '{"step": "error versus reject, MagFace magnitude"}'
$ff eval quality --model "$out/magface/model.ffm" "${common[@]}" --quality magnitude --quality inter-ocular --quality detector-score --quality random --report "$out/erc-magface" --json
echo '{"step": "error versus reject, PFE uncertainty (cosine scores)"}'
$ff eval quality --model "$out/pfe.ffm" "${common[@]}" --quality uncertainty --quality random --report "$out/erc-pfe" --json
echo '{"step": "clean verification, cosine then MLS"}'
$ff eval verify --model "$out/pfe.ffm" "${common[@]}" --flip None --score cosine --json
$ff eval verify --model "$out/pfe.ffm" "${common[@]}" --flip None --score mls --json
echo '{"step": "degradation study, MagFace"}'
$ff eval degradation --model "$out/magface/model.ffm" "${common[@]}" --masks $shared/data/mask-overlays --report "$out/degradation-magface" --json
echo '{"step": "degradation study, PFE"}'
$ff eval degradation --model "$out/pfe.ffm" "${common[@]}" --masks $shared/data/mask-overlays --report "$out/degradation-pfe" --json
