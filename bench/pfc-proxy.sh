#!/usr/bin/env bash
# Partial FC rank-1 against the class count, sample rate and centre momentum on feature-space synthetic identities
# (bench/PartialFcProxy), several seeds each; RUNS items ffc:Q run FFC with a pool of Q x classes. One JSON line per run.
# Usage: [CLASSES="2000 8000 20000"] [SEEDS="1 2 3"] [RUNS="1.0 0.1 0.1:sampled-only ffc:0.1"] [EPOCHS=4] bench/pfc-proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
dotnet build bench/PartialFcProxy -c Release -v q -nologo -o "$bin" >&2
for classes in ${CLASSES:-2000 8000 20000}; do
  for item in ${RUNS:-1.0 0.1 0.1:sampled-only}; do
    rate=${item%%:*}; momentum=catch-up; [[ $item == *:* ]] && momentum=${item#*:}
    for seed in ${SEEDS:-1 2 3}; do
      if [[ $rate == ffc ]]; then
        "$bin/pfc-proxy" --classes "$classes" --method ffc --pool "$momentum" --epochs "${EPOCHS:-4}" --seed "$seed"
      else
        "$bin/pfc-proxy" --classes "$classes" --rate "$rate" --momentum "$momentum" --epochs "${EPOCHS:-4}" --seed "$seed"
      fi
    done
  done
done
