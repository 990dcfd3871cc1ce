#!/usr/bin/env bash
# What a lab sees: one 512x512x48 torso slab segmented by three whole
# processes side by side, round-robin, each RUNS times: `tessera segment`,
# Python (`import tessera`, load, read, segment, write) and the C++ example
# (examples/segment_volume) built against an installed SDK. Prints each
# run's wall time and checks that the three label files are the same bytes.
#   tests/bench/sdk_vs_cli.sh BUILD_DIR PREFIX [RUNS] [THREADS]
# BUILD_DIR: a release build; PREFIX: where it was installed (cmake --install)
# with examples/segment_volume built into PREFIX/example.
set -euo pipefail
build=$1
prefix=$2
runs=${3:-3}
threads=${4:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TESSERA_MODEL_DIR="$(cd "$(dirname "$0")/../.." && pwd)/resources/models"
export OMP_NUM_THREADS=$threads
"$build/bin/tessera" phantom "$work/ph" --cases 1 --seed 41 --slices 48 --spacing 2.5 >/dev/null 2>&1
ct=$work/ph/case_0000/ct.nii.gz
cat >"$work/segment.py" <<'PY'
import sys
import tessera
model = tessera.load_model()
ct = tessera.read_volume(sys.argv[1])
model.segment(ct.array, spacing=ct.spacing, origin=ct.origin, direction=ct.direction,
              threads=int(sys.argv[3])).write(sys.argv[2])
PY
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for ((i = 1; i <= runs; ++i)); do
  cli=$(seconds "$build/bin/tessera" segment -i "$ct" -o "$work/cli.nii.gz" --threads "$threads")
  py=$(seconds env PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 "$work/segment.py" \
         "$ct" "$work/py.nii.gz" "$threads")
  cpp=$(seconds "$prefix/example/segment_volume" "$ct" "$work/cpp.nii.gz")
  printf 'run %d: cli %.2f s, python %.2f s (%.2fx), c++ example %.2f s (%.2fx)\n' "$i" "$cli" \
    "$py" "$(echo "$py / $cli" | bc -l)" "$cpp" "$(echo "$cpp / $cli" | bc -l)"
done
cmp "$work/cli.nii.gz" "$work/py.nii.gz" && cmp "$work/cli.nii.gz" "$work/cpp.nii.gz" &&
  echo "the three label files are the same bytes"
