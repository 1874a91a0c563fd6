#!/usr/bin/env bash
# The LFW real-data protocol of docs/benchmarks.md: train on the people outside folds 6-10, test on folds 6-10.
# Needs ../shared. Writes everything under $1 (default /tmp/faceforge-lfw); prints one JSON result per step.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-lfw}
shared=../shared
lfw=$shared/data/lfw
mkdir -p "$out"
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
eval_folds() { $ff eval verify --model "$1" --images $lfw/images --pairs $lfw/pairs.txt --landmarks $lfw/landmarks.txt --folds 6-10 --flip "$2" --json; }

$ff model import --force --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$out/mfn.ffm" >&2
echo '{"step": "imported MobileFaceNet, folds 6-10"}'; eval_folds "$out/mfn.ffm" Concatenate

[ -d "$out/train-96" ] || $ff data split-lfw --images $lfw/images --pairs $lfw/pairs.txt --test-folds 6-10 --out "$out/train-96" \
  --landmarks $lfw/landmarks.txt --template sphereface-112x96 >&2
for head in ArcFace MagFace CurricularFace; do
  $ff train --data "$out/train-96" --arch mobilefacenet-casia --head $head --scale 64 --init "$out/mfn.ffm" --out "$out/ft-$head" --force \
    --epochs ${FT_EPOCHS:-1} --lr 0.005 --warmup-epochs 0.5 --batch-size 64 --checkpoint-every 0 --json >&2
  echo "{\"step\": \"fine-tuned $head, folds 6-10\"}"; eval_folds "$out/ft-$head/model.ffm" Concatenate
done

[ -d "$out/train-112" ] || $ff data split-lfw --images $lfw/images --pairs $lfw/pairs.txt --test-folds 6-10 --out "$out/train-112" \
  --landmarks $lfw/landmarks.txt --template arcface-112x112 >&2
$ff train --data "$out/train-112" --arch vargfacenet --width ${VARG_WIDTH:-0.25} --head ArcFace --scale 64 --out "$out/scratch-varg" --force \
  --epochs ${VARG_EPOCHS:-8} --lr 0.1 --warmup-epochs 1 --batch-size 64 --checkpoint-every 0 --json >&2
echo '{"step": "VarGFaceNet from scratch, folds 6-10"}'; eval_folds "$out/scratch-varg/model.ffm" Add
