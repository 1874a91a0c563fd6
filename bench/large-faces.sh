#!/usr/bin/env bash
# Faces larger than the template: what the aligner's footprint averaging (FaceAligner.Warp, a shrink of two or more)
# does on the real faces of ../shared/data/photos (1920-pixel photos, 64-106 pixels between the eyes, 35 in the
# templates). Every face of 60 pixels or more between the eyes, as RetinaFace finds it at --max-side 640, is cut out
# of its photo (2.5 eye distances around the landmarks' centre, PNG) and also shrunk to a third with ImageMagick
# (a thumbnail; the aligner then enlarges). The imported CASIA MobileFaceNet embeds (no flip) with the landmarks:
#   full~third   cosine between a face's embedding from the photo and from its thumbnail (higher: one face
#                gives one embedding whatever the photo's resolution, as a gallery enrolled from thumbnails needs);
#   dx05 … s102  cosine between the embedding with the detected landmarks and with landmarks moved half a pixel
#                right (dx05), down (dy05), one pixel diagonally (d10), or scaled by 1.02 about their centre (s102):
#                how much a detector's jitter moves the embedding.
# With BASELINE=path/to/faceforge (a build of an earlier commit, e.g. 3bcc12c: plain bilinear sampling) the same
# runs are made with it first, for a side-by-side comparison. Needs ImageMagick (convert, identify) and python3.
# Usage: [BASELINE=…/faceforge] bench/large-faces.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v convert > /dev/null || { echo "bench/large-faces.sh needs ImageMagick's convert (apt install imagemagick)" >&2; exit 2; }
out=${1:-/tmp/faceforge-large-faces}
mkdir -p "$out"
out=$(cd "$out" && pwd)
shared=$(cd ../shared && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
[ -f "$out/mfn.ffm" ] || $ff model import --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$out/mfn.ffm" >&2
[ -f "$out/retinaface.ffm" ] || $ff model import --from $shared/models/retinaface-mnet025/mobilenet0.25_Final.pth --arch retinaface-mnet025 --out "$out/retinaface.ffm" >&2
$ff detect $shared/data/photos/*.jpg --model "$out/retinaface.ffm" --json > "$out/detections.json"

python3 - "$out" <<'PY'
import json, math, subprocess, os, sys
out = sys.argv[1]; det = json.load(open(f"{out}/detections.json"))
for d in ("full", "third"): os.makedirs(f"{out}/faces/{d}", exist_ok=True)
rows = {k: [] for k in ("full", "third", "dx05", "dy05", "d10", "s102")}
n = 0
for im in det["images"]:
    W, H = map(int, subprocess.check_output(["identify", "-format", "%w %h", im["image"]]).split())
    for f in im["faces"]:
        l = f["landmarks"]; e = math.dist(l[0:2], l[2:4])
        if e < 60: continue
        cx, cy, r = sum(l[0::2]) / 5, sum(l[1::2]) / 5, int(2.5 * e)
        x0, y0, x1, y1 = max(0, int(cx) - r), max(0, int(cy) - r), min(W, int(cx) + r), min(H, int(cy) + r)
        name = f"face{n:02d}.png"; n += 1
        full, third = f"{out}/faces/full/{name}", f"{out}/faces/third/{name}"
        subprocess.check_call(["convert", im["image"], "-crop", f"{x1-x0}x{y1-y0}+{x0}+{y0}", "+repage", full])
        w3, h3 = round((x1 - x0) / 3), round((y1 - y0) / 3)
        subprocess.check_call(["convert", full, "-resize", f"{w3}x{h3}!", third])
        p = [(l[2*i] - x0, l[2*i+1] - y0) for i in range(5)]
        fx, fy = w3 / (x1 - x0), h3 / (y1 - y0)
        mx, my = sum(q[0] for q in p) / 5, sum(q[1] for q in p) / 5
        for k, path, pts in (("full", full, p),
                             ("third", third, [((a + .5) * fx - .5, (b + .5) * fy - .5) for a, b in p]),
                             ("dx05", full, [(a + .5, b) for a, b in p]),
                             ("dy05", full, [(a, b + .5) for a, b in p]),
                             ("d10", full, [(a + 1, b + 1) for a, b in p]),
                             ("s102", full, [(mx + 1.02 * (a - mx), my + 1.02 * (b - my)) for a, b in p])):
            rows[k].append(path + "\t" + "\t".join(f"{a:.3f}\t{b:.3f}" for a, b in pts))
for k, r in rows.items(): open(f"{out}/{k}.txt", "w").write("\n".join(r) + "\n")
print(f"{n} faces", file=sys.stderr)
PY

for build in ${BASELINE:+"$BASELINE"} "$ff"; do
  for k in full third dx05 dy05 d10 s102; do
    folder=full; [ $k = third ] && folder=third
    "$build" embed "$out"/faces/$folder/*.png --model "$out/mfn.ffm" --landmarks "$out/$k.txt" --flip None --json > "$out/$k.json"
  done
  python3 - "$out" "$build" <<'PY'
import json, statistics, sys
out, build = sys.argv[1:3]
def load(k): return {x["image"].split("/")[-1]: x["embedding"] for x in json.load(open(f"{out}/{k}.json"))}
def cos(a, b): return sum(x * y for x, y in zip(a, b))
full = load("full")
parts = []
for k in ("third", "dx05", "dy05", "d10", "s102"):
    other = load(k); c = [cos(full[n], other[n]) for n in full]
    parts.append(f"{'full~third' if k == 'third' else k} {statistics.mean(c):.4f}")
print(f"{build}: {len(full)} faces, mean cosine " + ", ".join(parts))
PY
done
