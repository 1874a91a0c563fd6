#!/usr/bin/env bash
# Two builds of faceforge side by side, alternated in one sitting: the demo's training recipe on its training set for
# STEPS steps (time, images/s after the first report, peak RSS, final loss), then `bench train` on the CASIA
# MobileFaceNet with one and two libtorch threads. Results in docs/benchmarks.md ("PReLU's backward in managed code").
# Usage: bench/train-ab.sh FF_A FF_B [STEPS] [ROUNDS]   (FF_*: paths of two faceforge executables)
set -euo pipefail
a=$1; b=$2; steps=${3:-80}; rounds=${4:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$a" data synth --out "$work/faces" --identities 300 --images 16 --seed 0 >/dev/null 2>&1
recipe=(--data "$work/faces/faces" --arch vargfacenet --width 0.25 --head arc-face --scale 32 --margin 0.1 --optimizer adam-w
        --lr 0.002 --weight-decay 0.05 --warmup-epochs 0.5 --epochs 4 --batch-size 64 --seed 0 --checkpoint-every 0 --log-every 5 --replicas 2)
for round in $(seq "$rounds"); do
  # A then B in odd rounds, B then A in even ones, so that neither always runs first.
  order=("$a" "$b"); [ $((round % 2)) -eq 0 ] && order=("$b" "$a")
  for ff in "${order[@]}"; do
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/rss" "$ff" train "${recipe[@]}" --max-steps "$steps" --out "$work/run" --force --json > "$work/result.json" 2>/dev/null
    end=$(date +%s.%N)
    rate=$(tail -n +2 "$work/run/metrics.jsonl" | { grep -o '"images_per_second":[0-9.]*' || true; } | cut -d: -f2 | awk '{s+=$1; n++} END {printf "%.1f", n ? s/n : 0}')
    echo "{\"round\": $round, \"build\": \"$ff\", \"job\": \"demo recipe\", \"seconds\": $(echo "$end - $start" | bc), \"images_per_second\": $rate, \"peak_rss_kb\": $(cat "$work/rss"), \"final_loss\": $(grep -o '"final_loss": [0-9.]*' "$work/result.json" | cut -d' ' -f2)}"
  done
  for threads in 1 2; do
    for ff in "${order[@]}"; do
      echo "{\"round\": $round, \"build\": \"$ff\", \"job\": \"bench train mobilefacenet-casia\", \"threads\": $threads, \"result\": $(OMP_NUM_THREADS=$threads "$ff" bench train --arch mobilefacenet-casia --steps 6 --json 2>/dev/null | tr -d '\n')}"
    done
  done
done
