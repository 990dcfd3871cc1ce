// Checks run on NIfTI, NRRD and MetaImage files before ITK sees them,
// private to imaging/. ITK's messages for damaged files are vague ("could
// not read"), and for a header claiming a huge image it would allocate
// first; these checks give the precise reason instead.
#pragma once

#include <string>

#include "core/status.h"
#include "imaging/io/volume_io.h"

namespace tessera::imaging {

// Empty files, .gz names without gzip content, gzip streams without a NIfTI
// header, NIfTI-2 headers, claimed sizes beyond memory, truncated voxel
// data (plain files exactly, .nii.gz from the gzip trailer or, for
// multi-member streams such as bgzip's, by inflating them), bad NRRD magic.
// NIfTI-1 headers whose fields contradict each other: bitpix against
// datatype, voxel sizes that are not positive finite numbers, non-finite
// qform fields, a non-finite or degenerate sform when sform_code > 0
// (refused, not replaced by the qform: the sform is the geometry the writer
// meant), vox_offset outside the file.
// MetaImage and NRRD: a detached data file must be a regular file inside
// the header's folder (relative, no "..", symbolic links resolved); file
// name patterns and lists are refused (kUnsupported), paths outside
// (kInvalidArgument), missing files (kNotFound). Its size, or for
// compressed data the inflated length, must match what the header
// describes. Ok when nothing is wrong that can be seen without ITK; ITK
// still does the full read.
Status checkImageFile(const std::string& path, FileFormat format);

// The detached data file a MetaImage or NRRD header names, confined as
// checkImageFile confines it, spelled as the header's folder joined with the
// name; empty when the voxels follow the header in its own file (and for
// every other format).
Result<std::string> detachedDataFile(const std::string& path, FileFormat format);

// Streams a NIfTI file's voxel data once (through gzip when compressed):
// refuses data shorter than the header describes (ITK reads a truncated
// .nii.gz without complaint) and non-finite float voxels (niftilib would
// silently turn them into 0). Costs one extra read of the file.
Status verifyNiftiVoxels(const std::string& path);

}  // namespace tessera::imaging
