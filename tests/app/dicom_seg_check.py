#!/usr/bin/env python3
"""Checks a DICOM-SEG written by Tessera with a reader that is not Tessera.

    dicom_seg_check.py SEG.dcm LABELS.nii SERIES_DIR [SR.dcm]

pydicom reads the SEG and the source series; the SEG's frames are placed on
the slices of the NIfTI label map (uncompressed .nii, read with NumPy from
the NIfTI-1 header) by their Image Position (Patient), and the rebuilt map
must equal the label map voxel for voxel. Segment n stands for the label
value of the n-th label present in the map (Tessera numbers segments in the
order of the label values). Also checks the references to the source
series and the identity taken over from it. With SR.dcm, the TID 1500
measurement report: same patient and study, one measurement group per
segment that references it, and its volume equal to the label's voxel count
times the voxel volume. Prints what differs and exits 1,
or prints "ok" and exits 0.
"""
import os
import struct
import sys

import numpy as np
import pydicom


def read_nifti(path):
    with open(path, "rb") as f:
        data = f.read()
    if struct.unpack("<i", data[:4])[0] != 348:
        raise SystemExit(f"{path}: not a little-endian NIfTI-1 file")
    dim = struct.unpack("<8h", data[40:56])
    datatype, bitpix = struct.unpack("<hh", data[70:74])
    vox_offset = struct.unpack("<f", data[108:112])[0]
    srow = np.array(struct.unpack("<12f", data[280:328]), dtype=np.float64).reshape(3, 4)
    if datatype != 2 or bitpix != 8:  # DT_UINT8
        raise SystemExit(f"{path}: labels are expected as uint8 (datatype {datatype})")
    nx, ny, nz = dim[1], dim[2], dim[3]
    voxels = np.frombuffer(data, dtype=np.uint8, count=nx * ny * nz, offset=int(vox_offset))
    # NIfTI stores x fastest: index [k, j, i].
    return voxels.reshape(nz, ny, nx), srow


def read_sources(series_dir):
    """The source series' headers by SOP Instance UID, and the first one."""
    sources = {}
    for name in sorted(os.listdir(series_dir)):
        ds = pydicom.dcmread(os.path.join(series_dir, name), stop_before_pixels=True)
        sources[ds.SOPInstanceUID] = ds
    return sources, next(iter(sources.values()))


def code(item, keyword):
    sequence = getattr(item, keyword, None)
    if not sequence:
        return None
    return (sequence[0].CodingSchemeDesignator, sequence[0].CodeValue)


def groups_of(item, found):
    for child in getattr(item, "ContentSequence", []):
        if child.ValueType == "CONTAINER" and code(child, "ConceptNameCodeSequence") == ("DCM", "125007"):
            found.append(child)
        else:
            groups_of(child, found)
    return found


def check_sr(path, seg, source, labels, values, voxel_ml):
    problems = []
    sr = pydicom.dcmread(path)
    if sr.Modality != "SR":
        problems.append(f"SR modality {sr.Modality}")
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID"):
        if str(getattr(sr, keyword, "")) != str(getattr(source, keyword, "")):
            problems.append(f"SR {keyword} differs from the source's")
    template = sr.ContentTemplateSequence[0]
    if (template.MappingResource, template.TemplateIdentifier) != ("DCMR", "1500"):
        problems.append("the SR's root template is not TID 1500")
    groups = groups_of(sr, [])
    if len(groups) != len(seg.SegmentSequence):
        problems.append(f"{len(groups)} measurement groups for {len(seg.SegmentSequence)} segments")
    for group in groups:
        segment = None
        volume = None
        for item in group.ContentSequence:
            if item.ValueType == "IMAGE":
                reference = item.ReferencedSOPSequence[0]
                if reference.ReferencedSOPInstanceUID != seg.SOPInstanceUID:
                    problems.append("a measurement group references another object than the SEG")
                segment = int(reference.ReferencedSegmentNumber)
            if item.ValueType == "NUM" and code(item, "ConceptNameCodeSequence") == ("SCT", "118565006"):
                volume = float(item.MeasuredValueSequence[0].NumericValue)
        if segment is None or not 1 <= segment <= len(values):
            problems.append("a measurement group references no segment of the SEG")
            continue
        expected = np.count_nonzero(labels == values[segment - 1]) * voxel_ml
        if volume is None or abs(volume - expected) > 0.01:
            problems.append(f"segment {segment}: volume {volume} mL, the labels hold {expected:.3f} mL")
    return problems


def main():
    seg_path, labels_path, series_dir = sys.argv[1:4]
    problems = []
    seg = pydicom.dcmread(seg_path)
    labels, srow = read_nifti(labels_path)
    nz, ny, nx = labels.shape

    if seg.SOPClassUID != "1.2.840.10008.5.1.4.1.1.66.4":
        problems.append(f"SOP class {seg.SOPClassUID} is not Segmentation Storage")
    if seg.SegmentationType != "BINARY":
        problems.append(f"segmentation type {seg.SegmentationType}")
    if (seg.Rows, seg.Columns) != (ny, nx):
        problems.append(f"frames {seg.Columns}x{seg.Rows}, labels {nx}x{ny}")

    sources, first = read_sources(series_dir)
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "FrameOfReferenceUID"):
        if str(getattr(seg, keyword, "")) != str(getattr(first, keyword, "")):
            problems.append(f"{keyword} {getattr(seg, keyword, '')!s} differs from the source's "
                            f"{getattr(first, keyword, '')!s}")
    referenced = seg.ReferencedSeriesSequence
    if len(referenced) != 1 or referenced[0].SeriesInstanceUID != first.SeriesInstanceUID:
        problems.append("ReferencedSeriesSequence does not name the source series")
    else:
        uids = {item.ReferencedSOPInstanceUID for item in referenced[0].ReferencedInstanceSequence}
        if uids != set(sources):
            problems.append("ReferencedInstanceSequence does not list every source instance")

    values = [int(v) for v in np.unique(labels) if v != 0]
    if len(seg.SegmentSequence) != len(values):
        problems.append(f"{len(seg.SegmentSequence)} segments for {len(values)} labels present")
    for n, item in enumerate(seg.SegmentSequence, start=1):
        if item.SegmentNumber != n:
            problems.append(f"segment {n} has number {item.SegmentNumber}")
        if item.SegmentAlgorithmType != "AUTOMATIC":
            problems.append(f"segment {n}: algorithm type {item.SegmentAlgorithmType}")
        if not item.SegmentedPropertyTypeCodeSequence[0].CodeValue:
            problems.append(f"segment {n}: no property type code")

    # World position (LPS) of voxel (0, 0, k) from the NIfTI's RAS sform.
    to_lps = np.diag([-1.0, -1.0, 1.0])
    slice_positions = [to_lps @ (srow @ np.array([0.0, 0.0, k, 1.0])) for k in range(nz)]
    spacing = np.linalg.norm(srow[:, 2])

    frames = seg.pixel_array
    if frames.ndim == 2:
        frames = frames[np.newaxis]
    rebuilt = np.zeros_like(labels)
    for f, group in enumerate(seg.PerFrameFunctionalGroupsSequence):
        position = np.array([float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient])
        distances = [np.linalg.norm(position - p) for p in slice_positions]
        k = int(np.argmin(distances))
        if distances[k] > 0.1 * spacing:
            problems.append(f"frame {f + 1} lies {distances[k]:.3f} mm off every slice")
            continue
        number = group.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        source = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        if source not in sources:
            problems.append(f"frame {f + 1} derives from an instance outside the series")
        else:
            ipp = np.array([float(v) for v in sources[source].ImagePositionPatient])
            if np.linalg.norm(ipp - position) > 1e-3:
                problems.append(f"frame {f + 1} derives from a slice at another position")
        mask = frames[f] != 0
        if np.any(rebuilt[k][mask]):
            problems.append(f"frame {f + 1} overlaps another segment")
        rebuilt[k][mask] = values[number - 1]
    differing = int(np.count_nonzero(rebuilt != labels))
    if differing:
        problems.append(f"{differing} voxels of the rebuilt map differ from the label map")
    if len(sys.argv) > 4:
        voxel_ml = abs(np.linalg.det(srow[:, :3])) / 1000.0
        problems += check_sr(sys.argv[4], seg, first, labels, values, voxel_ml)

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {len(seg.PerFrameFunctionalGroupsSequence)} frames, "
          f"{len(seg.SegmentSequence)} segments, {int(np.count_nonzero(labels))} labelled voxels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
