#!/usr/bin/env bash
# Whether segmenting series side by side beats one at a time, as the service
# node's "concurrent_series" would: SERIES DICOM series of 512x512xSLICES
# torso slabs, each segmented with its DICOM-SEG and SR by `tessera batch`,
# whose --jobs N runs N Segmenters over one model with the THREADS split
# between them (what `tessera serve` does with concurrent_series N). Jobs 1
# and 2 alternate, RUNS times each; prints each run's wall time and the
# ratio.
#   tests/bench/concurrent_series.sh BUILD_DIR [SERIES] [SLICES] [THREADS] [RUNS]
set -euo pipefail
build=$1
series=${2:-4}
slices=${3:-24}
threads=${4:-2}
runs=${5:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TESSERA_MODEL_DIR="$(cd "$(dirname "$0")/../.." && pwd)/resources/models"
tessera=$build/bin/tessera
"$tessera" phantom "$work/ph" --cases "$series" --seed 43 --slices "$slices" --spacing 2.5 \
  >/dev/null 2>&1
mkdir "$work/in"
for c in "$work"/ph/case_*; do
  "$tessera" convert "$c/ct.nii.gz" "$work/in/$(basename "$c")/" >/dev/null 2>&1
done
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
batch() {
  rm -rf "$work/out"
  seconds "$tessera" batch -i "$work/in" -o "$work/out" --dicom-seg --sr --threads "$threads" \
    --jobs "$1"
}
echo "$series series of 512x512x$slices, $threads threads"
for ((i = 1; i <= runs; ++i)); do
  one=$(batch 1)
  two=$(batch 2)
  printf 'run %d: one at a time %.2f s, two side by side %.2f s (%.2fx)\n' "$i" "$one" "$two" \
    "$(echo "$two / $one" | bc -l)"
done
