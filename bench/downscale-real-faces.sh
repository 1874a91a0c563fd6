#!/usr/bin/env bash
# Does a model's quality fall when a face loses resolution it really had? LFW's deep-funneled photos have about 43
# pixels between the eyes and the aligned crops 35, so the quality study's mildest downscales (32 and 24 pixels) take
# away little (docs/benchmarks.md, "Face quality"). The faces of ../shared/data/photos have 60-106 pixels between the
# eyes: each face of 60 or more (RetinaFace at its default size) is cut out of its photo (2.5 eye distances around the
# landmarks' centre, PNG), then shrunk so that its eyes are 32, 24, 16, 12 or 8 pixels apart and enlarged back
# (ImageMagick, triangle filter: an area-weighted shrink, as a camera's pixels integrate, and a bilinear enlargement),
# and embedded with the same landmarks, no flip. Prints, per level, the mean quality and the mean cosine to the face's
# full-resolution embedding, and the Spearman correlation between severity (0 = full resolution) and mean quality.
# SOURCE=lfw does the same with LFW's own photos instead (every 12th image named in folds 6-10 of pairs.txt, the
# shared landmarks), as the control: the same shrink on faces that have about 43 pixels between the eyes.
# PREFILTER=1 first shrinks every face whose eyes are more than 35 pixels apart (the templates' distance) to 35 with
# the same area-weighted filter, so the aligner itself never shrinks (it takes one bilinear sample per crop pixel
# below a shrink of two, FaceAligner.Warp, and LFW's faces are shrunk about 1.2 times).
# Usage: [SOURCE=lfw] [PREFILTER=1] bench/downscale-real-faces.sh MODEL [DIR]   (MODEL: a model that carries a quality, e.g. MagFace-trained)
# Needs ImageMagick (convert, identify) and python3. About 2 minutes on 2 cores (SOURCE=lfw: 5), after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/downscale-real-faces.sh MODEL [DIR]" >&2; exit 2; }
command -v convert > /dev/null || { echo "bench/downscale-real-faces.sh needs ImageMagick's convert (apt install imagemagick)" >&2; exit 2; }
model=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-/tmp/faceforge-downscale-real}
mkdir -p "$out"
out=$(cd "$out" && pwd)
shared=$(cd ../shared && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
if [ "${SOURCE:-photos}" = photos ]; then
  [ -f "$out/retinaface.ffm" ] || $ff model import --from $shared/models/retinaface-mnet025/mobilenet0.25_Final.pth --arch retinaface-mnet025 --out "$out/retinaface.ffm" >&2
  [ -f "$out/detections.json" ] || $ff detect $shared/data/photos/*.jpg --model "$out/retinaface.ffm" --json > "$out/detections.json"
else
  python3 - "$out" "$shared/data/lfw" <<'PY'
import json, sys
out, lfw = sys.argv[1:3]
lines = open(f"{lfw}/pairs.txt").read().split("\n")[1:]
names = []
for line in lines[5 * 600:10 * 600]:
    p = line.split()
    if len(p) == 3: names += [f"{p[0]}/{p[0]}_{int(p[1]):04d}.jpg", f"{p[0]}/{p[0]}_{int(p[2]):04d}.jpg"]
    elif len(p) == 4: names += [f"{p[0]}/{p[0]}_{int(p[1]):04d}.jpg", f"{p[2]}/{p[2]}_{int(p[3]):04d}.jpg"]
names = sorted(set(names))[::12]
marks = {p[0]: [float(v) for v in p[1:11]] for p in (l.split() for l in open(f"{lfw}/landmarks.txt")) if len(p) >= 11}
json.dump({"images": [{"image": f"{lfw}/images/{n}", "faces": [{"landmarks": marks[n]}]} for n in names if n in marks]}, open(f"{out}/detections.json", "w"))
PY
fi
minimum_eyes=$([ "${SOURCE:-photos}" = photos ] && echo 60 || echo 0)
levels="32 24 16 12 8"

python3 - "$out" "$levels" "$minimum_eyes" "${PREFILTER:-0}" <<'PY'
import json, math, subprocess, os, sys
out, levels, minimum, prefilter = sys.argv[1], [int(v) for v in sys.argv[2].split()], float(sys.argv[3]), sys.argv[4] == "1"
det = json.load(open(f"{out}/detections.json"))
for d in ["full"] + [f"e{l}" for l in levels]: os.makedirs(f"{out}/faces/{d}", exist_ok=True)
rows, eyes, n = [], [], 0
for im in det["images"]:
    W, H = map(int, subprocess.check_output(["identify", "-format", "%w %h", im["image"]]).split())
    for f in im["faces"]:
        l = f["landmarks"]; e = math.dist(l[0:2], l[2:4])
        if e < minimum: continue
        cx, cy, r = sum(l[0::2]) / 5, sum(l[1::2]) / 5, int(2.5 * e)
        x0, y0, x1, y1 = max(0, int(cx) - r), max(0, int(cy) - r), min(W, int(cx) + r), min(H, int(cy) + r)
        name = f"face{n:02d}.png"; n += 1; eyes.append(e)
        full = f"{out}/faces/full/{name}"
        subprocess.check_call(["convert", im["image"], "-crop", f"{x1-x0}x{y1-y0}+{x0}+{y0}", "+repage", full])
        w, h = x1 - x0, y1 - y0
        p = [(l[2*i] - x0, l[2*i+1] - y0) for i in range(5)]
        if prefilter and e > 35:
            # Shrink to the templates' 35 pixels between the eyes here, area-weighted, so the aligner does not shrink.
            w2, h2 = round(w * 35 / e), round(h * 35 / e)
            subprocess.check_call(["convert", full, "-filter", "Triangle", "-resize", f"{w2}x{h2}!", full])
            p = [((a + .5) * w2 / w - .5, (b + .5) * h2 / h - .5) for a, b in p]
            w, h, e = w2, h2, math.dist(*p[:2])
        for lv in levels:
            s = lv / e
            subprocess.check_call(["convert", full, "-filter", "Triangle", "-resize", f"{max(1, round(w*s))}x{max(1, round(h*s))}!",
                                   "-resize", f"{w}x{h}!", f"{out}/faces/e{lv}/{name}"])
        rows.append(name + "\t" + "\t".join(f"{a:.3f}\t{b:.3f}" for a, b in p))
for d in ["full"] + [f"e{l}" for l in levels]:
    open(f"{out}/{d}.txt", "w").write("\n".join(f"{out}/faces/{d}/{r}" for r in rows) + "\n")
print(f"{n} faces, {min(eyes):.0f}-{max(eyes):.0f} pixels between the eyes", file=sys.stderr)
PY

for d in full $(printf 'e%s ' $levels); do
  $ff embed "$out"/faces/$d/*.png --model "$model" --landmarks "$out/$d.txt" --flip None --json > "$out/$d.json"
done

python3 - "$out" "$levels" <<'PY'
import json, statistics, sys
out, levels = sys.argv[1], sys.argv[2].split()
def load(d): return {x["image"].split("/")[-1]: x for x in json.load(open(f"{out}/{d}.json"))}
full = load("full")
if any(x["quality"] is None for x in full.values()): sys.exit("the model carries no quality (embed --json printed quality null)")
means = [statistics.mean(x["quality"] for x in full.values())]
print(f"{len(full)} faces; full resolution: mean quality {means[0]:.4f}")
for lv in levels:
    other = load(f"e{lv}")
    q = statistics.mean(other[k]["quality"] for k in full)
    c = statistics.mean(sum(a * b for a, b in zip(full[k]["embedding"], other[k]["embedding"])) for k in full)
    below = sum(other[k]["quality"] < full[k]["quality"] for k in full)
    means.append(q)
    print(f"eyes {lv:>2} px: mean quality {q:.4f}, lower than at full resolution for {below} of {len(full)} faces, mean cosine to full resolution {c:.4f}")
def ranks(v): o = sorted(range(len(v)), key=lambda i: v[i]); r = [0] * len(v); [r.__setitem__(i, k) for k, i in enumerate(o)]; return r
a, b = list(range(len(means))), ranks(means)
n = len(a); rho = 1 - 6 * sum((x - y) ** 2 for x, y in zip(a, b)) / (n * (n * n - 1))
print(f"Spearman (severity, mean quality): {rho:+.2f}")
PY
