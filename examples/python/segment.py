#!/usr/bin/env python3
"""Segment a CT volume with Tessera from Python: a starting point for a lab.

    PYTHONPATH=<prefix>/lib/python3/dist-packages python3 segment.py CT OUT [--dense]

Reads CT (NIfTI, NRRD, MetaImage, DICOM), segments it with the bundled model
(or --model FILE.onnx), writes the label map to OUT and prints each
structure's volume. The arrays are NumPy's: replace the reading step with
your own loader, giving spacing/origin/direction in (x, y, z) order, mm, LPS.
"""
import argparse
import sys

import numpy as np

import tessera


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ct")
    parser.add_argument("out")
    parser.add_argument("--dense", action="store_true", help="compute every block")
    parser.add_argument("--model", help="a Tessera model file (default: the bundled model)")
    args = parser.parse_args()

    try:
        model = tessera.load_model(args.model)
        ct = tessera.read_volume(args.ct)
    except tessera.Error as error:
        sys.exit("segment.py: %s" % error)
    print("Tessera %s, model %s %s" % (tessera.__version__, model.name, model.version))

    def progress(fraction, eta_seconds, message):
        left = ", %.0f s left" % eta_seconds if eta_seconds > 0 else ""
        print("\r%3.0f %% %s%s   " % (100 * fraction, message, left), end="", file=sys.stderr)
        return True  # False would cancel

    array = ct.array  # int16 HU, (slices, rows, columns); float32 works too
    result = model.segment(array, spacing=ct.spacing, origin=ct.origin,
                           direction=ct.direction, mode="dense" if args.dense else "sparse",
                           progress=progress)
    print(file=sys.stderr)
    result.write(args.out)

    stats = result.stats
    print("%d slices in %.2f s, %.1f %% of blocks computed" %
          (stats["slices"], stats["seconds"], 100 * stats["active_fraction"]))
    for entry in result.label_stats:
        print("%-14s %10.1f mL %7.1f HU" % (entry["name"], entry["volume_ml"], entry["mean_hu"]))
    labels = result.labels  # uint8, same shape as the CT, read-only
    print("labelled voxels: %d of %d" % (np.count_nonzero(labels), labels.size))


if __name__ == "__main__":
    main()
