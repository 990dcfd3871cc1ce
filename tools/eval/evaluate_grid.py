#!/usr/bin/env python3
"""Held-out evaluation of a model over a grid of acquisition conditions.

Run by `scripts/evaluate-model --grid`. Each cell is one phantom of held-out
seed 2026 (torso) or 2027 (head), case index = cell number, so that every
cell is a different patient and the same grid always draws the same ones:

  torso: slice spacing {1, 2.5, 5} mm x slab {lower abdomen, upper abdomen,
         thorax: 120 mm centred at 0.30, 0.55, 0.80 of the torso; whole
         torso: 600 mm / spacing slices} x occupancy {0.4, 0.7} x noise
         {10, 30} HU
  head:  slice spacing {1, 2.5, 5} mm (the whole head) x noise {10, 30} HU,
         occupancy 0.4

Each cell is segmented dense and sparse with `tessera segment` (the whole
process, post-processing rules included) and scored with `tessera eval
--json --dice-only`. Printed: per cell the mean Dice over the labels its
reference holds (dense, sparse, loss) and its false-positive labels (>= 0.1
mL where the reference has none); Dice per label and cell; and the summary
against the targets: the grid's mean of the per-cell means; the worst label
in any cell where it holds >= 5 mL; the largest sparse-vs-dense loss; and
every label predicted with >= 0.1 mL in a body region that cannot hold it
(not among the family's labels in the phantom's phantom.json). `--json FILE`
writes every number; `--report FILE` prints the tables of such a file again.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

SPACINGS = [1.0, 2.5, 5.0]
SLABS = [("lower abdomen", 0.30), ("upper abdomen", 0.55), ("thorax", 0.80), ("whole torso", None)]
OCCUPANCIES = [0.4, 0.7]
NOISES = [10.0, 30.0]
SLAB_MM = 120.0
TORSO_MM = 600.0
MIN_ML = 5.0  # a label is held to the per-label target where it has this much
IMPOSSIBLE_ML = 0.1


def cells():
    out = []
    for spacing in SPACINGS:
        for slab, centre in SLABS:
            for occupancy in OCCUPANCIES:
                for noise in NOISES:
                    out.append(dict(family="torso", spacing=spacing, slab=slab, centre=centre,
                                    occupancy=occupancy, noise=noise))
    for spacing in SPACINGS:
        for noise in NOISES:
            out.append(dict(family="head", spacing=spacing, slab="whole head", centre=None,
                            occupancy=0.4, noise=noise))
    return out


def name_of(cell):
    return (f"{cell['family']}_{cell['slab'].replace(' ', '-')}_{cell['spacing']:g}mm_"
            f"occ{cell['occupancy']:g}_noise{cell['noise']:g}")


def run(args, log):
    with open(log, "w") as f:
        result = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"evaluate-model: {' '.join(args)} failed (exit {result.returncode}), see {log}")


def phantom(tessera, cell, index, directory):
    if os.path.exists(os.path.join(directory, "case_%04d" % index, "labels.nii.gz")):
        return
    seed = "2026" if cell["family"] == "torso" else "2027"
    args = [tessera, "phantom", directory, "--seed", seed, "--first-case", str(index),
            "--family", cell["family"], "--occupancy", str(cell["occupancy"]),
            "--noise", str(cell["noise"])]
    if cell["centre"] is None:
        extent = TORSO_MM if cell["family"] == "torso" else 200.0
        args += ["--slices", str(round(extent / cell["spacing"]))]
    else:
        args += ["--slices", str(round(SLAB_MM / cell["spacing"])), "--spacing",
                 str(cell["spacing"]), "--z-center", str(cell["centre"])]
    run(args, directory + ".phantom.log")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tessera", default="build/release/bin/tessera")
    parser.add_argument("--model", default="")
    parser.add_argument("--out", default="eval-output/grid")
    parser.add_argument("--json", default="")
    parser.add_argument("--threads", default="", help="segment --threads (default: all cores)")
    parser.add_argument("--cells", default="",
                        help="only the cells whose name matches this regular expression")
    parser.add_argument("--report", default="",
                        help="print the tables of a --json file written before, run nothing")
    options = parser.parse_args()
    if options.report:
        report(json.load(open(options.report)))
        return
    os.makedirs(options.out, exist_ok=True)
    model = ["--model", options.model] if options.model else []
    grid = [(index, cell) for index, cell in enumerate(cells())
            if re.search(options.cells, name_of(cell))]
    if not grid:
        sys.exit(f"evaluate-model: no cell matches {options.cells!r}")
    started = time.monotonic()
    results = []
    for done_cells, (index, cell) in enumerate(grid):
        name = name_of(cell)
        directory = os.path.join(options.out, name)
        phantom(options.tessera, cell, index, directory)
        case = os.path.join(directory, "case_%04d" % index)
        info = json.load(open(os.path.join(case, "phantom.json")))
        possible = set(info["labels"])
        scores = {}
        for mode in ("dense", "sparse"):
            labels = os.path.join(directory, f"{mode}.labels.nii.gz")
            run([options.tessera, "segment", "-i", os.path.join(case, "ct.nii.gz"), "-o", labels,
                 "--mode", mode] + (["--threads", options.threads] if options.threads else []) + model,
                os.path.join(directory, f"{mode}.segment.log"))
            evaluation = os.path.join(directory, f"{mode}.eval.json")
            log = os.path.join(directory, f"{mode}.eval.log")
            with open(evaluation, "w") as f, open(log, "w") as errors:
                done = subprocess.run([options.tessera, "eval", "--pred", labels, "--ref",
                                       os.path.join(case, "labels.nii.gz"), "--json",
                                       "--dice-only"], stdout=f, stderr=errors)
            if done.returncode != 0:
                sys.exit(f"evaluate-model: tessera eval failed on {labels}, see {log}")
            scores[mode] = json.load(open(evaluation))["metrics"]
        results.append(dict(cell=cell, name=name, slices=info["slices"],
                            spacing_mm=info["sliceSpacingMm"], possible=sorted(possible),
                            dense=scores["dense"], sparse=scores["sparse"]))
        elapsed = time.monotonic() - started
        eta = elapsed / (done_cells + 1) * (len(grid) - done_cells - 1)
        # The tables' measure, not tessera eval's own mean, which also counts
        # a label only the prediction holds (a false positive) as Dice 0.
        print(f"[{done_cells + 1}/{len(grid)}] {name}: dense {reference_mean(scores['dense']):.4f} "
              f"sparse {reference_mean(scores['sparse']):.4f}, false positives "
              f"{len(false_positives(scores['dense']))}/{len(false_positives(scores['sparse']))} "
              f"({elapsed:.0f} s, ETA {eta:.0f} s)",
              file=sys.stderr, flush=True)
    report(results)
    if options.json:
        with open(options.json, "w") as f:
            json.dump(results, f, indent=1)


def reference_mean(metrics):
    """Mean Dice over the labels the reference holds (a label only the
    prediction has is a false positive, counted apart)."""
    scores = [l["dice"] for l in metrics["labels"] if l["scored"] and l["ref_voxels"] > 0]
    return sum(scores) / len(scores) if scores else float("nan")


def false_positives(metrics):
    return [l for l in metrics["labels"]
            if l["ref_voxels"] == 0 and l["pred_volume_ml"] >= IMPOSSIBLE_ML]


def report(results):
    print("mean Dice over the labels each reference holds; FP: labels of >= "
          f"{IMPOSSIBLE_ML:g} mL the reference lacks (dense/sparse)")
    print("cell                                                  slices   dense  sparse    loss  FP")
    for r in results:
        d, s = reference_mean(r["dense"]), reference_mean(r["sparse"])
        print(f"{r['name']:52s} {r['slices']:6d}  {d:.4f}  {s:.4f} {100 * (d - s):+6.2f} pt  "
              f"{len(false_positives(r['dense']))}/{len(false_positives(r['sparse']))}")
    print("\nDice per label (dense / sparse), cells where the reference holds the label:")
    for r in results:
        parts = []
        for ld, ls in zip(r["dense"]["labels"], r["sparse"]["labels"]):
            if ld["scored"] and ld["ref_voxels"] > 0:
                parts.append(f"{ld['name']} {ld['dice']:.3f}/{ls['dice']:.3f} "
                             f"({ld['ref_volume_ml']:.0f} mL)")
        print(f"  {r['name']}: " + ", ".join(parts))

    for mode in ("dense", "sparse"):
        means = [reference_mean(r[mode]) for r in results]
        print(f"\n{mode}: mean Dice over the grid {sum(means) / len(means):.4f} "
              f"(worst cell {min(means):.4f})")
        worst = None
        for r in results:
            for l in r[mode]["labels"]:
                if l["scored"] and l["ref_volume_ml"] >= MIN_ML:
                    if worst is None or l["dice"] < worst[0]:
                        worst = (l["dice"], l["name"], r["name"])
        if worst:
            print(f"{mode}: lowest Dice of a label holding >= {MIN_ML:g} mL: {worst[0]:.4f} "
                  f"({worst[1]} in {worst[2]})")
        below = sorted({(r["name"], l["name"]) for r in results for l in r[mode]["labels"]
                        if l["scored"] and l["ref_volume_ml"] >= MIN_ML and l["dice"] < 0.85})
        print(f"{mode}: {len(below)} label-cells below 0.85" +
              (": " + "; ".join(f"{c} {n}" for c, n in below) if below else ""))
        fp = [(r["name"], l["name"], l["pred_volume_ml"]) for r in results
              for l in false_positives(r[mode])]
        print(f"{mode}: {len(fp)} false-positive labels of >= {IMPOSSIBLE_ML:g} mL" +
              (" (" + "; ".join(f"{n} {v:.2f} mL in {c}" for c, n, v in fp) + ")" if fp else ""))
        impossible = [(r["name"], l["name"], l["pred_volume_ml"]) for r in results
                      for l in r[mode]["labels"]
                      if l["name"] not in r["possible"] and l["pred_volume_ml"] >= IMPOSSIBLE_ML]
        print(f"{mode}: labels >= {IMPOSSIBLE_ML:g} mL where the body region cannot hold them: "
              f"{len(impossible)}" +
              (" (" + "; ".join(f"{n} {v:.2f} mL in {c}" for c, n, v in impossible) + ")"
               if impossible else ""))
    losses = [reference_mean(r["dense"]) - reference_mean(r["sparse"]) for r in results]
    print(f"\nlargest sparse-vs-dense loss in a cell: {100 * max(losses):.2f} points")


if __name__ == "__main__":
    main()
