#!/usr/bin/env bash
# Packs FaceForge.Core and FaceForge.Training into a local folder feed, copies samples/QuickStart outside the
# repository, builds it against those packages (their buildTransitive step patches libtorch) and runs it on two LFW
# photos with the shared CASIA MobileFaceNet, calibrated on LFW folds 1-2. Then the same with samples/OnnxQuickStart,
# which references FaceForge.Core alone, on the model and the RetinaFace detector exported to ONNX (no libtorch in
# its output). Prints the sizes and times, and the results.
# Usage: samples/quickstart.sh [WORK_DIR]   (needs ../shared; CI runs it after the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
shared=../shared
lfw=$shared/data/lfw
mkdir -p "$work"
# A version of its own for each run: NuGet's cache never serves an older build of the same version.
version=0.1.0-local.$(date +%Y%m%d%H%M%S)
# That version is of no use after this run: take it out of NuGet's package cache again, pass or fail.
packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
trap 'rm -rf "$packages/faceforge.core/$version" "$packages/faceforge.training/$version"' EXIT
for project in src/FaceForge src/FaceForge.Training; do dotnet pack $project -c Release -o "$work/feed" -p:Version=$version -v q -nologo >/dev/null; done
rm -rf "$work/app" "$work/onnx-app" && cp -r samples/QuickStart "$work/app" && cp -r samples/OnnxQuickStart "$work/onnx-app"
for app in app onnx-app; do cat > "$work/$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="faceforge-local" value="$work/feed" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="faceforge-local"><package pattern="FaceForge.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
done
start=$(date +%s.%N)
dotnet build "$work/app" -c Release -o "$work/app/bin-out" -p:FaceForgeVersion=$version -v q -nologo >/dev/null
built=$(date +%s.%N)
ff=src/FaceForge.Cli/bin/Release/net10.0/faceforge
[ -x "$ff" ] || dotnet build src/FaceForge.Cli -c Release -v q -nologo >/dev/null
$ff model import --force --from $shared/models/mobilefacenet-casia/068.ckpt --arch mobilefacenet-casia --out "$work/mfn.ffm" >/dev/null
$ff eval verify --model "$work/mfn.ffm" --images $lfw/images --pairs $lfw/pairs.txt --landmarks $lfw/landmarks.txt --folds 1-2 \
  --flip Add --calibrate --force --out "$work/mfn-calibrated.ffm" --json >/dev/null
run_start=$(date +%s.%N)
same=$("$work/app/bin-out/QuickStart" "$work/mfn-calibrated.ffm" $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg)
other=$("$work/app/bin-out/QuickStart" "$work/mfn-calibrated.ffm" $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg $lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg)
run_end=$(date +%s.%N)
echo "quickstart: same pair: $same"
echo "quickstart: different pair: $other"
echo "quickstart: build $(echo "$built - $start" | bc) s, output $(du -sh "$work/app/bin-out" | cut -f1), two runs $(echo "$run_end - $run_start" | bc) s"
# FaceForge.Core alone, on exported ONNX models.
$ff model import --force --from $shared/models/retinaface-mnet025/mobilenet0.25_Final.pth --arch retinaface-mnet025 --out "$work/retinaface.ffm" >/dev/null
$ff export onnx --force --model "$work/retinaface.ffm" --out "$work/retinaface.onnx" >/dev/null
$ff export onnx --force --model "$work/mfn-calibrated.ffm" --out "$work/mfn.onnx" >/dev/null
onnx_start=$(date +%s.%N)
# For one platform (-r), as an application ships: only that platform's native libraries (ONNX Runtime, Skia).
dotnet build "$work/onnx-app" -c Release -r linux-x64 --self-contained false -o "$work/onnx-app/bin-out" -p:FaceForgeVersion=$version -v q -nologo >/dev/null
onnx_built=$(date +%s.%N)
onnx_same=$("$work/onnx-app/bin-out/OnnxQuickStart" "$work/retinaface.onnx" "$work/mfn.onnx" $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg)
onnx_other=$("$work/onnx-app/bin-out/OnnxQuickStart" "$work/retinaface.onnx" "$work/mfn.onnx" $lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg $lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg)
torch_files=$(find "$work/onnx-app/bin-out" \( -iname '*torch*' -o -iname 'libc10*' \) | wc -l)
echo "quickstart (core + ONNX): same pair: $onnx_same"
echo "quickstart (core + ONNX): different pair: $onnx_other"
echo "quickstart (core + ONNX): build $(echo "$onnx_built - $onnx_start" | bc) s, output $(du -sh "$work/onnx-app/bin-out" | cut -f1), libtorch/TorchSharp files in it: $torch_files"
[[ $same == *"same person"* && $other == *"different people"* && $onnx_same == *"same person"* && $onnx_other == *"different people"* && $torch_files -eq 0 ]]
