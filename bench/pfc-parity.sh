#!/usr/bin/env bash
# Partial FC accuracy parity on synthetic identities: the same training at several sample rates, scored on held-out
# identities by 1:N identification (gallery: images 0-2, probes: images 3-5) and by 10-fold verification (LFW-format
# pairs.txt over the same images: per fold 150 same-identity and 150 different-identity pairs, identity-disjoint folds).
# RUNS lists rate[:momentum] items; momentum is catch-up (default) or sampled-only; ffc:Q trains FFC with a pool of
# Q (a fraction of the identities) instead.
# Usage: [IDS=1000] [IMAGES=6] [EPOCHS=3] [TEST_IDS=200] [SEED=1] [LR=0.1] [RUNS="1.0 0.1 0.1:sampled-only"] bench/pfc-parity.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-pfc-parity}
# A private copy of the build, so that rebuilding the repository meanwhile cannot disturb the run.
dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
$ff data synth --out "$out/train" --identities ${IDS:-1000} --images ${IMAGES:-6} --seed 5 --force >&2
$ff data synth --out "$out/test" --identities ${TEST_IDS:-200} --images 6 --seed 6000005 --force >&2
rm -rf "$out/gallery" "$out/probes" "$out/lfw"
for id in "$out"/test/faces/id_*; do
  name=$(basename "$id"); mkdir -p "$out/gallery/$name" "$out/probes/$name" "$out/lfw/$name"
  cp "$id"/000[0-2].png "$out/gallery/$name/"; cp "$id"/000[3-5].png "$out/probes/$name/"
  # LFW naming (Name/Name_0001.jpg); images are decoded by content, not by extension.
  for i in 0 1 2 3 4 5; do ln -s "$id/000$i.png" "$out/lfw/$name/${name}_000$((i + 1)).jpg"; done
done
ls "$out/lfw" | awk 'BEGIN { srand(7) } { ids[NR - 1] = $0 } END {
  n = NR; print "10\t150"
  for (f = 0; f < 10; f++) {
    m = 0; for (i = f; i < n; i += 10) fold[m++] = ids[i]
    for (k = 0; k < 150; k++) { a = int(rand() * 6) + 1; b = (a + int(rand() * 5)) % 6 + 1; printf "%s\t%d\t%d\n", fold[int(rand() * m)], a, b }
    for (k = 0; k < 150; k++) { x = int(rand() * m); y = (x + 1 + int(rand() * (m - 1))) % m; printf "%s\t%d\t%s\t%d\n", fold[x], int(rand() * 6) + 1, fold[y], int(rand() * 6) + 1 }
  } }' > "$out/pairs.txt"
echo '{"scale": 32, "margin": 0.3}' > "$out/config.json"
for item in ${RUNS:-1.0 0.1 0.1:sampled-only}; do
  rate=${item%%:*}; momentum=catch-up; [[ $item == *:* ]] && momentum=${item#*:}
  run="$out/run-$rate-$momentum-lr${LR:-0.1}-seed${SEED:-1}"
  if [[ $rate == ffc ]]; then classifier=(--classifier ffc --pool-size "$momentum"); else classifier=(--sample-rate "$rate" --fc-momentum "$momentum"); fi
  $ff train --config "$out/config.json" --data "$out/train/faces" --arch mobilefacenet --width 0.25 --head arcface --out "$run" --force \
    --epochs ${EPOCHS:-3} --lr ${LR:-0.1} --warmup-epochs 0.5 "${classifier[@]}" --checkpoint-every 0 --seed ${SEED:-1} --json >&2
  echo "{\"rate\": \"$rate\", \"momentum\": \"$momentum\", \"lr\": ${LR:-0.1}, \"seed\": ${SEED:-1}}"
  $ff eval identify --model "$run/model.ffm" --gallery "$out/gallery" --probes "$out/probes" --json
  $ff eval verify --model "$run/model.ffm" --images "$out/lfw" --pairs "$out/pairs.txt" --json
done
