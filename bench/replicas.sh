#!/usr/bin/env bash
# Training throughput, libtorch's own threads against replicas (copies of the network on a thread each, one libtorch
# thread per copy), alternated in one sitting on the demo's recipe and training set. Results in docs/benchmarks.md,
# "Replicas". Usage: bench/replicas.sh [STEPS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-80}; rounds=${2:-3}
dotnet build src/FaceForge.Cli -c Release -v q -nologo >&2
ff=$PWD/src/FaceForge.Cli/bin/Release/net10.0/faceforge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$ff data synth --out "$work/faces" --identities 300 --images 16 --seed 0 >&2
recipe=(--data "$work/faces/faces" --arch vargfacenet --width 0.25 --head arc-face --scale 32 --margin 0.1 --optimizer adam-w
        --lr 0.002 --weight-decay 0.05 --warmup-epochs 0.5 --epochs 4 --batch-size 64 --seed 0 --checkpoint-every 0 --log-every 5)
for round in $(seq "$rounds"); do
  for replicas in 1 2; do
    start=$(date +%s.%N)
    $ff train "${recipe[@]}" --replicas $replicas --max-steps "$steps" --out "$work/run" --force --json > "$work/result.json" 2>/dev/null
    end=$(date +%s.%N)
    # The rate over the steps after the first report (start-up and the first batches excluded).
    rate=$(tail -n +2 "$work/run/metrics.jsonl" | grep -o '"images_per_second":[0-9.]*' | cut -d: -f2 | awk '{s+=$1; n++} END {printf "%.1f", s/n}')
    echo "round $round replicas $replicas: $(echo "$end - $start" | bc) s for $steps steps, $rate img/s, final loss $(grep -o '"final_loss": [0-9.]*' "$work/result.json" | cut -d' ' -f2)"
  done
done
