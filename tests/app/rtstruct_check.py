#!/usr/bin/env python3
"""Checks an RT Structure Set written by Tessera with a reader that is not Tessera.

    rtstruct_check.py RS.dcm LABELS.nii SERIES_DIR

pydicom reads the structure set and the source series. Every contour must be
closed and planar on a slice of the label map, reference the source slice at
that position, and the contours of each ROI, filled slice by slice with the
even-odd rule at the voxel centres, must give back the ROI's label voxel for
voxel. ROI n stands for the n-th label value present in the map. Prints
what differs and exits 1, or prints "ok" and exits 0.
"""
import os
import sys

import numpy as np
import pydicom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dicom_seg_check import read_nifti, read_sources  # noqa: E402


def inside(points, xs, ys):
    """Even-odd test of the points (xs, ys) against one closed polygon."""
    result = np.zeros(xs.shape, dtype=bool)
    x0, y0 = points[-1]
    for x1, y1 in points:
        crosses = ((y0 > ys) != (y1 > ys)) & (xs < (x1 - x0) * (ys - y0) / np.where(y1 != y0, y1 - y0, 1) + x0)
        result ^= crosses
        x0, y0 = x1, y1
    return result


def main():
    rs_path, labels_path, series_dir = sys.argv[1:4]
    problems = []
    rs = pydicom.dcmread(rs_path)
    labels, srow = read_nifti(labels_path)
    nz, ny, nx = labels.shape
    if rs.Modality != "RTSTRUCT":
        problems.append(f"modality {rs.Modality}")

    sources, first = read_sources(series_dir)
    for keyword in ("PatientID", "StudyInstanceUID"):
        if str(getattr(rs, keyword, "")) != str(getattr(first, keyword, "")):
            problems.append(f"{keyword} differs from the source's")
    if rs.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID != first.FrameOfReferenceUID:
        problems.append("the frame of reference is not the source's")

    # Voxel index (i, j, k) from LPS mm: invert the NIfTI's RAS affine.
    affine = np.vstack([srow, [0, 0, 0, 1]])
    to_voxel = np.linalg.inv(affine)
    values = [int(v) for v in np.unique(labels) if v != 0]
    names = {int(r.ROINumber): r.ROIName for r in rs.StructureSetROISequence}
    if len(names) != len(values):
        problems.append(f"{len(names)} ROIs for {len(values)} labels present")
    jj, ii = np.mgrid[0:ny, 0:nx]
    xs, ys = ii.astype(np.float64), jj.astype(np.float64)
    for roi in rs.ROIContourSequence:
        number = int(roi.ReferencedROINumber)
        if not 1 <= number <= len(values):
            problems.append(f"ROI {number} has no label")
            continue
        filled = np.zeros_like(labels, dtype=bool)
        for contour in getattr(roi, "ContourSequence", []):
            if contour.ContourGeometricType != "CLOSED_PLANAR":
                problems.append(f"ROI {number}: a contour is {contour.ContourGeometricType}")
            lps = np.array([float(v) for v in contour.ContourData]).reshape(-1, 3)
            if len(lps) != int(contour.NumberOfContourPoints):
                problems.append(f"ROI {number}: NumberOfContourPoints does not match")
            ras = lps * np.array([-1.0, -1.0, 1.0])
            ijk = (to_voxel @ np.c_[ras, np.ones(len(ras))].T).T[:, :3]
            k = int(round(ijk[0, 2]))
            if np.max(np.abs(ijk[:, 2] - k)) > 1e-3 or not 0 <= k < nz:
                problems.append(f"ROI {number}: a contour is not on a slice")
                continue
            source = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            if source not in sources:
                problems.append(f"ROI {number}: a contour references an instance outside the series")
            else:
                position = np.array([float(v) for v in sources[source].ImagePositionPatient]) * np.array([-1.0, -1.0, 1.0])
                if abs((to_voxel @ np.r_[position, 1.0])[2] - k) > 1e-3:
                    problems.append(f"ROI {number}: a contour references another slice")
            filled[k] ^= inside(ijk[:, :2], xs, ys)
        expected = labels == values[number - 1]
        differing = int(np.count_nonzero(filled != expected))
        if differing:
            problems.append(f"ROI {number} ({names.get(number)}): {differing} voxels differ from the label")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {len(names)} ROIs, {sum(len(getattr(r, 'ContourSequence', [])) for r in rs.ROIContourSequence)} contours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
