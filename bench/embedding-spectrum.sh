#!/usr/bin/env bash
# How isotropic are real face embeddings? (issue 17: the gallery benchmark draws random isotropic unit vectors.)
# Embeds the first image of each of LFW's 5,749 people with the imported CASIA MobileFaceNet (landmark-aligned, no
# flip) and prints the PCA spectrum of the normalised embeddings: participation ratio (sum l)^2 / sum l^2, the variance
# share of the first k components, and the spread of the cosines between different people.
# Needs python3 with numpy (Debian: python3-numpy). Usage: bench/embedding-spectrum.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/faceforge-spectrum}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
[ -f "$out/mfn.ffm" ] || $ff model import --from "$lfw/../../models/mobilefacenet-casia/068.ckpt" --arch mobilefacenet-casia --out "$out/mfn.ffm" >&2
for d in "$lfw"/images/*/; do files=("$d"*); echo "${files[0]}"; done > "$out/first.txt"
# One JSON array per xargs batch; kept, so a rerun only redoes the analysis (delete it to embed again).
if [ ! -s "$out/embeddings.json" ]; then
  xargs -a "$out/first.txt" $ff embed --model "$out/mfn.ffm" --landmarks "$lfw/landmarks.txt" --flip None --json > "$out/embeddings.json.tmp"
  mv "$out/embeddings.json.tmp" "$out/embeddings.json"
fi
# Debian's python3 (where python3-numpy installs), before any other python3 on the path.
py=/usr/bin/python3; [ -x $py ] || py=python3
$py - "$out/embeddings.json" <<'PY'
import json, sys
import numpy as np
text = open(sys.argv[1]).read(); decoder = json.JSONDecoder(); i = 0; rows = []
while True:
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    batch, i = decoder.raw_decode(text, i); rows += [r["embedding"] for r in batch]
x = np.array(rows, dtype=np.float64); x /= np.linalg.norm(x, axis=1, keepdims=True)
n, d = x.shape
ev = np.sort(np.linalg.eigvalsh(np.cov((x - x.mean(0)).T)))[::-1]
share = np.cumsum(ev) / ev.sum()
cos = (x @ x.T)[np.triu_indices(n, 1)]
print(f"embeddings {n} x {d}; norm of their mean {np.linalg.norm(x.mean(0)):.3f}")
print(f"participation ratio {ev.sum()**2 / (ev**2).sum():.1f} of {d} (isotropic: {d})")
print("variance share of the first k components: " + ", ".join(f"{k}: {share[k-1]:.3f}" for k in (1, 10, 32, 64) if k <= d))
print(f"cosine between different people: mean {cos.mean():.3f}, std {cos.std():.3f} (isotropic {d}-d: 0 ± {1/np.sqrt(d):.3f}), 99.9th percentile {np.quantile(cos, 0.999):.3f}")
PY
