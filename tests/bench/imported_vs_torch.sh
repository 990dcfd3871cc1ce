#!/bin/sh
# An imported network (nnU-Net-style PlainConvUNet from
# tests/models/io/torch_foreign_nets.py, random weights) in Tessera against
# PyTorch at its best on the same weights: libtcmalloc preloaded, traced,
# frozen, optimize_for_inference, warmed. Time per 512x512 slice, side by side.
# usage: tests/bench/imported_vs_torch.sh BUILD_DIR [SLICES] [THREADS]
set -eu
build=${1:?usage: imported_vs_torch.sh BUILD_DIR [SLICES] [THREADS]}
slices=${2:-8}
threads=${3:-2}
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tessera="$build/bin/tessera"
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4

/usr/bin/python3 "$here/tests/models/io/torch_foreign_nets.py" "$work" >/dev/null 2>&1
"$tessera" import-model "$work/plain_conv_unet.onnx" -o "$work/model.onnx" \
  --labels "$work/plain_conv_unet.labels.json" --hu-window -1000,1000 | sed -n 1,2p
"$tessera" phantom "$work/ph" -n 1 -z "$slices" >/dev/null
"$tessera" segment -i "$work/ph/case_0000/ct.nii.gz" -o "$work/labels.nii.gz" \
  --model "$work/model.onnx" --threads "$threads" 2>/dev/null | sed -n 1,2p

LD_PRELOAD=$tcmalloc OMP_NUM_THREADS=$threads /usr/bin/python3 - "$here" "$threads" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1] + "/tests/models/io")
import torch
import torch_foreign_nets as nets
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(100 + list(nets.NETWORKS).index("plain_conv_unet"))
model = nets.PlainConvUNet()
nets.randomize_norms(model, torch.Generator().manual_seed(100 + list(nets.NETWORKS).index("plain_conv_unet")))
model.eval()
x = torch.rand(1, 1, 512, 512)
with torch.no_grad():
    jit = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
    for _ in range(3):
        jit(x)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        jit(x)
        times.append(time.perf_counter() - t)
print("pytorch jit frozen: %.1f ms per 512x512 slice (median of 5)" % (1000 * sorted(times)[2]))
PY
