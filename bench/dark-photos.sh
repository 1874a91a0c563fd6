#!/usr/bin/env bash
# Detection in dark photos, with and without the detector's dark-photo stretch (DarkPhotoStretch; `--no-brighten`
# turns it off). Real faces made dark with ImageMagick (`convert`, Debian's imagemagick package; FaceForge itself has
# no levels tool):
#   lfw        every 11th entry of LFW's landmarks.txt (600 photos), levels multiplied by 0.12 and 0.06, and by 0.12
#              and 0.25 with Gaussian noise added (a noisy sensor), then `eval landmarks` (detection rate, NME against
#              the landmarks RetinaFace gives the clean photos) for RetinaFace mobilenet0.25 and YuNet;
#   photos     ../shared/data/photos (2 to 5 faces each) as they are, at a tenth of their levels, and lit red: faces
#              found and their lowest score, both detectors.
# Prints one line per set and detector, off then on; DIR keeps the dark images.
# Usage: bench/dark-photos.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v convert > /dev/null || { echo "bench/dark-photos.sh needs ImageMagick's convert (apt install imagemagick)" >&2; exit 2; }
out=${1:-/tmp/faceforge-dark-photos}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lfw=$(cd ../shared/data/lfw && pwd)
photos=$(cd ../shared/data/photos && pwd)
[ -x "$out/bin/faceforge" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo -o "$out/bin" >&2
ff=$out/bin/faceforge
[ -f "$out/retinaface.ffm" ] || $ff model import --from ../shared/models/retinaface-mnet025/mobilenet0.25_Final.pth --arch retinaface-mnet025 --out "$out/retinaface.ffm" >&2
yunet=$(cd ../shared/models/yunet && pwd)/face_detection_yunet.onnx
awk '!/^#/ && k++ % 11 == 0 && n++ < 600' "$lfw/landmarks.txt" > "$out/landmarks600.txt"

darken() { # NAME convert-arguments…
  local name=$1; shift
  [ -f "$out/$name.done" ] && return
  while read -r path rest; do
    mkdir -p "$out/$name/$(dirname "$path")"
    convert "$lfw/images/$path" "$@" -quality 92 "$out/$name/$path"
  done < "$out/landmarks600.txt"
  touch "$out/$name.done"
}
darken x0.12 -evaluate multiply 0.12
darken x0.06 -evaluate multiply 0.06
darken x0.12-noise -evaluate multiply 0.12 -attenuate 0.15 +noise Gaussian
darken x0.25-noise -evaluate multiply 0.25 -attenuate 0.3 +noise Gaussian

for set in clean x0.12 x0.06 x0.12-noise x0.25-noise; do
  images=$out/$set
  [ $set = clean ] && images=$lfw/images
  for det in "$out/retinaface.ffm" "$yunet"; do
    for flag in --no-brighten ""; do
      printf '%s %s %s ' "$set" "$(basename "$det")" "${flag:-brighten}"
      $ff eval landmarks --model "$det" --images "$images" --landmarks "$out/landmarks600.txt" $flag --json 2> /dev/null |
        jq -c '{rate: .detection_rate, nme: .nme, over10: .nme_over10_percent}' || true
    done
  done
done

# The shared photos as they are, at a tenth of their levels, and lit red (green and blue at 0.15: dark by luminance,
# not by its red channel, so it must be left alone).
mkdir -p "$out/photos"
for photo in "$photos"/*.jpg; do
  base=$out/photos/$(basename "$photo" .jpg)
  [ -f "$base-x0.1.jpg" ] || convert "$photo" -evaluate multiply 0.1 -quality 92 "$base-x0.1.jpg"
  [ -f "$base-red.png" ] || convert "$photo" -channel G,B -evaluate multiply 0.15 +channel "$base-red.png"
  for image in "$photo" "$base-x0.1.jpg" "$base-red.png"; do
    for det in "$out/retinaface.ffm" "$yunet"; do
      for flag in --no-brighten ""; do
        printf '%s %s %s ' "$(basename "$image")" "$(basename "$det")" "${flag:-brighten}"
        $ff detect --model "$det" "$image" $flag --json 2> /dev/null |
          jq -c '{faces: (.images[0].faces | length), lowest: ([.images[0].faces[].score] | min)}' || true
      done
    done
  done
done
