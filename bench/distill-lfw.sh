#!/usr/bin/env bash
# Distillation on real faces (docs/benchmarks.md, "Distillation"): the imported CASIA MobileFaceNet teaches a
# VarGFaceNet on LFW's training split (everyone outside folds 6-10), over two generations; a from-scratch student
# trains the same steps on the same data and crops with the distillation weight at 0. Every model is then scored on
# folds 6-10 only. Needs ../shared. Writes under $1 (default /tmp/faceforge-distill); rerun the script after an
# interruption and it resumes each run from its last checkpoint and skips finished ones.
# Knobs (environment): WIDTH (0.5), EPOCHS (8 per generation), SEED (0), the recipe OPTIMIZER (adamw), LR (0.002),
# WEIGHT_DECAY (0.05), MARGIN (0.1; 0 takes ArcFace's 0.5), MIXUP (0: the fraction of samples blended with another
# photo of the batch for the distillation term, --mixup-probability), MIXUP_FROM (1: the first generation that blends,
# --mixup-from-generation), GENERATIONS (2: the distilled run's chain, each
# generation EPOCHS long and started from the one before, seed + 1), REPLICAS (1: copies of the network training
# parts of each batch on threads of their own, --replicas), and FF (a faceforge binary to use instead of this
# checkout's build, e.g. a copy that later builds cannot replace under a long run). The chain that reached 97.53 % on folds 6-10
# (docs/benchmarks.md, "Distillation", its last table; four to seven hours here, by how busy the machine was) is GENERATIONS=12 MIXUP=0.5 MIXUP_FROM=7 REPLICAS=2. The first recipe (docs/benchmarks.md,
# "Distillation", its first table) was OPTIMIZER=sgd LR=0.1 WEIGHT_DECAY=0.0005 MARGIN=0 EPOCHS=12.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-distill}
shared=../shared
lfw=$shared/data/lfw
width=${WIDTH:-0.5} epochs=${EPOCHS:-8} seed=${SEED:-0}
optimizer=${OPTIMIZER:-adamw} lr=${LR:-0.002} weight_decay=${WEIGHT_DECAY:-0.05} margin=${MARGIN:-0.1} mixup=${MIXUP:-0}
generations=${GENERATIONS:-2} replicas=${REPLICAS:-1} mixup_from=${MIXUP_FROM:-1}
mkdir -p "$out"
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=${FF:-src/FaceForge.Cli/bin/Release/net10.0/faceforge}

[ -f "$out/teacher.ffm" ] || $ff model import --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$out/teacher.ffm" >&2
[ -d "$out/train" ] || $ff data split-lfw --images $lfw/images --pairs $lfw/pairs.txt --test-folds 6-10 --out "$out/train" >&2

# distill RUN WEIGHT GENERATIONS MIXUP: a new run, or the resumption of an unfinished one (whose config.json holds its
# recipe: the knobs above then change nothing in it).
distill() {
  if [ -f "$1/model.ffm" ]; then return; fi
  if [ -f "$1/config.json" ]; then $ff distill --resume "$1" --json >&2; return; fi
  $ff distill --teacher "$out/teacher.ffm" --student vargfacenet --width "$width" --data "$out/train" --landmarks $lfw/landmarks.txt \
    --out "$1" --weight "$2" --generations "$3" --epochs "$epochs" --optimizer "$optimizer" --lr "$lr" --weight-decay "$weight_decay" --margin "$margin" --mixup-probability "$4" --mixup-from-generation "$mixup_from" --replicas "$replicas" --warmup-epochs 1 --batch-size 64 \
    --alignment-jitter 0.05 --color-jitter-probability 0.2 --seed "$seed" --json >&2
}
# The run's own generation count: an earlier run in $out keeps its chain whatever GENERATIONS says now.
chain_length() { sed -n 's/^ *"generations": *\([0-9]*\).*/\1/p' "$1/config.json"; }
distill "$out/distilled" 7 "$generations" "$mixup"
# Blends feed only the distillation term, so the weight-0 student trains without them.
distill "$out/scratch" 0 1 0

eval_folds() {
  echo "{\"model\": \"$2\", \"info\": $($ff model info "$1" --json | tr -d '\n'), \"folds_6_10\":"
  $ff eval verify --model "$1" --images $lfw/images --pairs $lfw/pairs.txt --landmarks $lfw/landmarks.txt --folds 6-10 --flip "$3" --json
  echo "}"
}
eval_folds "$out/teacher.ffm" "teacher: imported CASIA MobileFaceNet" Add
for g in $(seq 1 "$(chain_length "$out/distilled")"); do
  eval_folds "$out/distilled/gen-$g/model.ffm" "VarGFaceNet width $width distilled, generation $g" Add
done
eval_folds "$out/scratch/gen-1/model.ffm" "VarGFaceNet width $width from scratch (weight 0)" Add
