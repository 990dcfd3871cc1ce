// Small cohorts for the batch tests: phantom CTs written as NIfTI (and
// DICOM), corrupt cases, and a small random-weight model file. Kept small
// (64–128 pixels, 8–16 slices) so that a whole cohort runs in seconds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/labels.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "imaging/phantom/phantom.h"
#include "models/io/onnx_model.h"

namespace tessera::testing {

// Base width 16, 2 levels, 10 classes (the v1 labels), attention with 2
// heads; untrained: it predicts arbitrary but deterministic labels.
inline Status writeBatchTestModel(const std::string& path, std::uint64_t seed = 7) {
  models::ModelInfo info;
  info.name = "batch-test";
  info.version = "1";
  info.architecture.inputChannels = 3;
  info.architecture.classes = 10;
  info.architecture.baseWidth = 16;
  info.architecture.levels = 2;
  info.architecture.attentionHeads = 2;
  info.architecture.deepSupervision = false;
  info.labels = defaultLabelTable();
  TESSERA_ASSIGN_OR_RETURN(models::Model model, models::makeModel(info, seed));
  models::ExportOptions options;
  options.height = options.width = 64;
  return models::exportOnnx(model, path, options);
}

inline Result<imaging::Phantom> smallPhantom(int caseIndex, int matrix = 64, int slices = 8) {
  imaging::PhantomOptions options;
  options.seed = 11;
  options.caseIndex = caseIndex;
  options.matrix = matrix;
  options.slices = slices;
  options.sliceSpacingMm = 5.0;
  options.zCenter = 0.6;
  return imaging::generatePhantom(options);
}

// Writes phantom case `caseIndex`'s CT as a DICOM series into `dir` (new or
// empty), for patient Doe^Jane (ID P-0042), study "CT abdomen".
inline Status writePhantomSeries(const std::string& dir, int caseIndex) {
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, smallPhantom(caseIndex));
  imaging::DicomWriteOptions options;
  options.patientName = "Doe^Jane";
  options.patientId = "P-0042";
  options.studyDescription = "CT abdomen";
  return imaging::writeDicomSeries(phantom.ct, dir, options);
}

// Writes phantom case `caseIndex`'s CT to `path` (any volume format).
inline Status writePhantomCt(const std::string& path, int caseIndex, int matrix = 64,
                             int slices = 8) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, smallPhantom(caseIndex, matrix, slices));
  return imaging::writeVolume(phantom.ct, path);
}

// A .nii.gz whose compressed stream ends half-way.
inline Status writeTruncatedNifti(const std::string& path, int caseIndex) {
  TESSERA_RETURN_IF_ERROR(writePhantomCt(path, caseIndex));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  return Status();
}

// An NRRD header that names a voxel type no reader accepts.
inline void writeUnsupportedNrrd(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out << "NRRD0004\ntype: quaternion\ndimension: 3\nsizes: 4 4 4\nencoding: raw\n\n"
      << std::string(64, '\0');
}

inline std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace tessera::testing
