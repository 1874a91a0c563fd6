#!/usr/bin/env bash
# Partial FC accuracy parity on synthetic identities: the same training with sample rate 1.0 and 0.1, scored by
# 1:N identification of held-out identities (gallery: images 0-2, probes: images 3-5).
# Usage: [IDS=1000] [IMAGES=6] [EPOCHS=3] [RATES="1.0 0.1"] bench/pfc-parity.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-pfc-parity}
# A private copy of the build, so that rebuilding the repository meanwhile cannot disturb the run.
dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
$ff data synth --out "$out/train" --identities ${IDS:-1000} --images ${IMAGES:-6} --seed 5 >&2
$ff data synth --out "$out/test" --identities ${TEST_IDS:-200} --images 6 --seed 6000005 >&2
rm -rf "$out/gallery" "$out/probes"
for id in "$out"/test/faces/id_*; do
  name=$(basename "$id"); mkdir -p "$out/gallery/$name" "$out/probes/$name"
  cp "$id"/000[0-2].png "$out/gallery/$name/"; cp "$id"/000[3-5].png "$out/probes/$name/"
done
echo '{"scale": 32, "margin": 0.3}' > "$out/config.json"
for rate in ${RATES:-1.0 0.1}; do
  $ff train --config "$out/config.json" --data "$out/train/faces" --arch mobilefacenet --width 0.25 --head arcface --out "$out/run-$rate" --force \
    --epochs ${EPOCHS:-3} --lr 0.1 --warmup-epochs 0.5 --sample-rate $rate --checkpoint-every 0 --seed 1 --json >&2
  echo "{\"rate\": $rate}"; $ff eval identify --model "$out/run-$rate/model.ffm" --gallery "$out/gallery" --probes "$out/probes" --json
done
