#!/bin/sh
# The SDK tests' reference: a small phantom and what `tessera segment` makes
# of it, sparse and dense (uncompressed NIfTI, so that files can be compared
# byte for byte).
#   make_reference.sh TESSERA DIR
set -eu
tessera=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
"$tessera" phantom "$dir/phantom" --cases 1 --seed 23 --slices 8 --spacing 2.5 --matrix 256 >/dev/null
cp "$dir/phantom/case_0000/ct.nii.gz" "$dir/ct.nii.gz"
"$tessera" segment -i "$dir/ct.nii.gz" -o "$dir/cli_sparse.nii" --mode sparse >/dev/null
"$tessera" segment -i "$dir/ct.nii.gz" -o "$dir/cli_dense.nii" --mode dense >/dev/null
