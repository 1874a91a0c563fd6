#!/usr/bin/env bash
# Grey and colour-cast photos: what a camera's white balance or a grey (night, infrared, old scan) picture costs a
# recognition model. The images of LFW folds 6-10's pairs are re-encoded by ImageMagick (JPEG quality 95) as they are
# (ctl, the reference), converted to grey (three equal channels), and given a warm cast like tungsten light (green
# x0.8, blue x0.55). mixgray and mixwarm link half the images (by a hash of the name) to the grey or warm copy, half to
# ctl, so most pairs compare a grey or warm photo with a normal one, as a gallery enrolled in daylight meets a night
# camera. Each variant: `faceforge eval verify --folds 6-10 --flip Add` with LFW's landmarks (the geometry is the
# same, only the colours change). Prints one JSON line per variant; about 1-2 minutes per variant on 2 cores.
# Usage: bench/colour-casts.sh MODEL [DIR]     (MODEL: a .ffm or .onnx recognition model; needs ImageMagick, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v convert > /dev/null || { echo "bench/colour-casts.sh needs ImageMagick's convert (apt install imagemagick)" >&2; exit 2; }
[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: bench/colour-casts.sh MODEL [DIR]" >&2; exit 2; }
model=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-/tmp/faceforge-colour-casts}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge

# The images the pairs of folds 6-10 name (pairs.txt: a count line, then 600 pairs per fold).
python3 - "$lfw/pairs.txt" > "$out/list.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().split('\n')[1:] if l.strip()]
names = set()
for r in rows[3000:6000]:
    if len(r) == 3: names |= {(r[0], int(r[1])), (r[0], int(r[2]))}
    else: names |= {(r[0], int(r[1])), (r[2], int(r[3]))}
for n, i in sorted(names): print(f"{n}/{n}_{i:04d}.jpg")
PY
convert_all() { # variant, ImageMagick arguments
  local v=$1; shift
  [ -f "$out/$v.done" ] && return
  while read -r p; do mkdir -p "$out/$v/$(dirname "$p")"; convert "$lfw/images/$p" "$@" -quality 95 "$out/$v/$p"; done < "$out/list.txt"
  touch "$out/$v.done"
}
convert_all ctl
convert_all gray -colorspace Gray -type TrueColor
convert_all warm -color-matrix "1.0 0 0 0 0.8 0 0 0 0.55"
python3 - "$out" <<'PY'
import os, sys, zlib
out = sys.argv[1]
for mix, other in (("mixgray", "gray"), ("mixwarm", "warm")):
    for p in open(f"{out}/list.txt").read().split():
        source = other if zlib.crc32(p.encode()) % 2 else "ctl"
        target = f"{out}/{mix}/{p}"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target): os.symlink(f"{out}/{source}/{p}", target)
PY
for v in ctl gray mixgray warm mixwarm; do
  $ff eval verify --model "$model" --images "$out/$v" --pairs "$lfw/pairs.txt" --landmarks "$lfw/landmarks.txt" \
    --folds 6-10 --flip Add --json > "$out/$v.json"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({'variant': sys.argv[2], 'accuracy': d['accuracy_mean'], 'std': d['accuracy_std']}))" "$out/$v.json" "$v"
done
