#!/usr/bin/python3
"""Times PyTorch on a Tessera model file and writes its logits for comparison.

Loads the ONNX file's weights into the PyTorch twin (tessera_unet.py) and
runs dense inference on one slice, with the given number of threads, in
eager mode and on PyTorch 1.13's fastest CPU path (torch.jit.trace ->
torch.jit.freeze -> torch.jit.optimize_for_inference, oneDNN enabled).
Prints the median and best time per slice of each; writes the eager logits
as .npy so that Tessera's output can be compared with them.

PyTorch at its best: glibc's allocator returns and re-faults the large
activation buffers on every call, which makes PyTorch several times slower on
small machines; PyTorch's CPU tuning guide recommends tcmalloc or jemalloc.
So the script re-executes itself with Debian's libtcmalloc_minimal.so.4 in
LD_PRELOAD when that library is installed (--allocator glibc keeps glibc's),
and reports which allocator ran.

A comparison tool only (see docs/MODEL_FORMAT.md). Run with /usr/bin/python3.

  bench_torch.py --model M.onnx [--threads 2] [--size 512 512] [--repeats 10]
                 [--input x.npy] [--output logits.npy] [--modes eager,jit] [--json]
                 [--profile] [--allocator auto|tcmalloc|glibc]
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
import warnings

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
# Set in the re-executed process, so that it never re-executes again.
PRELOADED = "TESSERA_BENCH_ALLOCATOR"


def allocator_from_argv(argv):
    for i, a in enumerate(argv):
        if a.startswith("--allocator="):
            return a.split("=", 1)[1]
        if a == "--allocator" and i + 1 < len(argv):
            return argv[i + 1]
    return "auto"


def preload_allocator(argv):
    """Re-executes this script with tcmalloc preloaded when asked for and not
    yet done; returns the allocator this process runs with."""
    if PRELOADED in os.environ:
        # Report what is mapped, not what was asked for: a preload the loader
        # refused leaves glibc's allocator in charge.
        with open("/proc/self/maps") as maps:
            return "tcmalloc" if "libtcmalloc" in maps.read() else "glibc"
    wanted = allocator_from_argv(argv)
    if wanted == "glibc" or (wanted == "auto" and not os.path.exists(TCMALLOC)):
        return "glibc"
    if wanted == "tcmalloc" and not os.path.exists(TCMALLOC):
        sys.exit(f"bench_torch.py: --allocator tcmalloc needs {TCMALLOC} "
                 "(Debian package libtcmalloc-minimal4)")
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(p for p in (TCMALLOC, env.get("LD_PRELOAD", "")) if p)
    env[PRELOADED] = "tcmalloc"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + argv, env)
    return "tcmalloc"  # not reached


if __name__ == "__main__":
    ALLOCATOR = preload_allocator(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tessera_unet import load_from_onnx  # noqa: E402


def time_runs(fn, x, warmup, repeats):
    for _ in range(warmup):
        fn(x)
    times = []
    out = None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - start)
    return out, times


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Tessera model file (.onnx)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=(512, 512),
                        help="slice size for a random input (ignored with --input)")
    parser.add_argument("--input", help=".npy float32 (1, C, H, W) network input")
    parser.add_argument("--output", help="write the eager logits here (.npy float32)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--modes", default="eager,jit", help="comma list of eager, jit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true",
                        help="also print where each mode spends its time (torch.profiler)")
    parser.add_argument("--allocator", choices=("auto", "tcmalloc", "glibc"), default="auto",
                        help="auto: tcmalloc when installed (read before parsing, see above)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in ("eager", "jit") for m in modes) or not modes:
        parser.error("--modes takes eager and/or jit")

    # Tracing a fixed-size input turns shapes into constants, as intended.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = True
    model, metadata = load_from_onnx(args.model)
    config = model.config
    if args.input:
        x = torch.from_numpy(np.load(args.input).astype(np.float32))
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != config.input_channels:
            parser.error(f"--input must be (1, {config.input_channels}, H, W), got {tuple(x.shape)}")
    else:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(1, config.input_channels, args.size[0], args.size[1], generator=generator)
    height, width = x.shape[2], x.shape[3]
    # Inference runs head0 only.
    gflop = dataclasses.replace(config, deep_supervision=False).forward_flops(height, width) / 1e9

    results = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "allocator": globals().get("ALLOCATOR", "glibc"),
        "input_shape": list(x.shape),
        "model": metadata.get("tessera.model_name", ""),
        "gflop_per_slice": gflop,
    }
    outputs = {}
    with torch.no_grad():
        if "eager" in modes:
            out, times = time_runs(model, x, args.warmup, args.repeats)
            outputs["eager"] = out
            results["eager_ms"] = statistics.median(times) * 1e3
            results["eager_min_ms"] = min(times) * 1e3
        if "jit" in modes:
            traced = torch.jit.trace(model, x)
            frozen = torch.jit.freeze(traced.eval())
            optimized = torch.jit.optimize_for_inference(frozen)
            out, times = time_runs(optimized, x, args.warmup, args.repeats)
            outputs["jit"] = out
            results["jit_ms"] = statistics.median(times) * 1e3
            results["jit_min_ms"] = min(times) * 1e3
    profiles = {}
    if args.profile:
        with torch.no_grad():
            for mode in modes:
                fn = model if mode == "eager" else optimized
                with torch.profiler.profile() as profiler:
                    fn(x)
                profiles[mode] = profiler.key_averages().table(sort_by="self_cpu_time_total",
                                                               row_limit=10)
    if "eager" in outputs and "jit" in outputs:
        results["max_abs_jit_vs_eager"] = float((outputs["jit"] - outputs["eager"]).abs().max())
    if args.output:
        logits = outputs.get("eager", outputs.get("jit"))
        np.save(args.output, logits.numpy().astype(np.float32))

    if args.json:
        print(json.dumps(results))
        return 0
    print(f"PyTorch {results['torch_version']} ({results['allocator']} allocator), "
          f"{results['threads']} threads, input "
          f"{tuple(results['input_shape'])}, {gflop:.2f} GFLOP per slice, "
          f"{args.repeats} runs after {args.warmup} warm-up")
    for mode, label in (("eager", "eager"), ("jit", "jit trace+freeze+optimize_for_inference")):
        if f"{mode}_ms" in results:
            ms = results[f"{mode}_ms"]
            print(f"  {label:42s} median {ms:8.2f} ms per slice (min {results[f'{mode}_min_ms']:.2f})"
                  f"  {gflop / (ms / 1e3):7.1f} GFLOP/s")
    if "max_abs_jit_vs_eager" in results:
        print(f"  max |jit - eager| = {results['max_abs_jit_vs_eager']:.3g}")
    for mode, table in profiles.items():
        print(f"\n{mode}: operators by self CPU time (one run)\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
