#!/usr/bin/python3
"""Times OpenCV's DNN module on a Tessera model file and writes its logits.

Reads the same ONNX file Tessera runs with cv2.dnn.readNetFromONNX (OpenCV's
own CPU backend), runs dense inference on one slice with the given number of
threads, and prints the median and best time per slice after warm-up runs;
writes the logits as .npy so that Tessera's output can be compared with them.
A second peer next to PyTorch (tools/torch/bench_torch.py) in `tessera
bench`. Run with /usr/bin/python3 (Debian python3-opencv).

  bench_opencv_dnn.py --model M.onnx [--threads 2] [--input x.npy]
                      [--output logits.npy] [--repeats 5] [--warmup 2] [--json]
"""

import argparse
import json
import statistics
import sys
import time

import cv2
import numpy as np


def one_line(error):
    """OpenCV's messages span lines and end with the failed check: keep that."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Tessera model file (.onnx)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--input", required=True, help=".npy float32 (1, C, H, W) network input")
    parser.add_argument("--output", help="write the logits here (.npy float32)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    cv2.setNumThreads(args.threads)
    x = np.load(args.input).astype(np.float32)
    if x.ndim != 4 or x.shape[0] != 1:
        parser.error(f"--input must be (1, C, H, W), got {x.shape}")
    try:
        net = cv2.dnn.readNetFromONNX(args.model)
    except cv2.error as e:
        sys.exit(f"OpenCV {cv2.__version__} cannot read {args.model}: {one_line(e)}")
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    # A model with training heads has more outputs; inference (Tessera's and
    # this peer's) computes "logits", the full-resolution one, alone.
    outputs = net.getUnconnectedOutLayersNames()
    output = "logits" if "logits" in outputs else outputs[0]
    out = None
    times = []
    try:
        for k in range(args.warmup + args.repeats):
            start = time.perf_counter()
            net.setInput(x)
            out = net.forward(output)
            if k >= args.warmup:
                times.append(time.perf_counter() - start)
    except cv2.error as e:
        sys.exit(f"OpenCV {cv2.__version__} cannot run {args.model}: {one_line(e)}")
    if args.output:
        np.save(args.output, np.ascontiguousarray(out, dtype=np.float32))
    results = {
        "opencv_version": cv2.__version__,
        "threads": cv2.getNumThreads(),
        "input_shape": list(x.shape),
        "median_ms": statistics.median(times) * 1e3,
        "best_ms": min(times) * 1e3,
    }
    if args.json:
        print(json.dumps(results))
    else:
        print(f"OpenCV {results['opencv_version']} DNN, {results['threads']} threads, input "
              f"{tuple(x.shape)}: median {results['median_ms']:.2f} ms, best "
              f"{results['best_ms']:.2f} ms per slice")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
