// `tessera bench`: dense against sparse on phantoms of known anatomy, side
// by side in one run, the end-to-end time of a whole CT, and PyTorch on the
// same weights with its logits compared. Timings are printed as ratios
// measured in the same process, never asserted.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "imaging/phantom/phantom.h"
#include "models/infer/segmenter.h"

namespace tessera::models {

struct PhantomBenchOptions {
  imaging::PhantomFamily family = imaging::PhantomFamily::kTorso;
  double occupancy = 0.55;
  int slices = 24;
  double sliceSpacingMm = 2.5;
  double zCenter = 0.5;
  std::uint64_t seed = 9001;  // never used in training
  int repeats = 2;            // per mode; the fastest run of each slice counts
  SegmentOptions sparse;      // sparse mode's settings (settling level, detector)
};

struct PhantomBenchRow {
  std::string family;
  double targetOccupancy = 0, bodyOccupancy = 0, activeFraction = 0;
  int slices = 0;
  double denseMsPerSlice = 0, sparseMsPerSlice = 0;
  double speedup = 0;                    // dense time / sparse time
  double flopFraction = 0;               // sparse FLOPs / dense FLOPs
  double denseDice = 0, sparseDice = 0;  // mean over labels present, against ground truth
  double detectorShare = 0;              // detector time / sparse slice time
  double worstSliceRatio = 0;            // min over slices of dense / sparse time
  double slowerSliceShare = 0;  // share of slices where sparse took longer than dense / 0.97
};

Result<PhantomBenchRow> benchmarkPhantom(Segmenter& segmenter, const PhantomBenchOptions& options);

struct EndToEndResult {
  std::int64_t slices = 0;
  double readSeconds = 0, segmentSeconds = 0, writeSeconds = 0, totalSeconds = 0;
  double meanActiveFraction = 0;
  std::int64_t peakResidentBytes = 0;
};

// Writes a torso phantom of `slices` slices to `workDir` (not timed), then
// times read → segment (sparse) → write of it.
Result<EndToEndResult> benchmarkEndToEnd(Segmenter& segmenter, const std::string& workDir,
                                         int slices, std::uint64_t seed,
                                         const SegmentOptions& sparse = {});

// The peers (PyTorch, OpenCV DNN) and Tessera on one normalised torso
// phantom slice, dense, with the same weights and threads.
struct PeerOptions {
  std::string python = "/usr/bin/python3";
  std::string script;     // tools/torch/bench_torch.py or tools/opencv/bench_opencv_dnn.py
  std::string modelPath;  // the ONNX file `model` was loaded from
  int threads = 1;
  int repeats = 5, warmup = 2;
  int matrix = 512;     // in-plane size of the shared phantom slice, pixels
  std::string workDir;  // the input and logits .npy files go here
};

struct TorchPeerResult {
  std::string version;                    // torch.__version__
  std::string allocator;                  // "tcmalloc" (preloaded) or "glibc"
  double eagerMs = 0, jitMs = 0;          // median per slice, as the peer measured it
  double eagerBestMs = 0, jitBestMs = 0;  // fastest run
  // max over logits of |Tessera − PyTorch| / max(1, |PyTorch|), dense.
  double maxRelativeLogitDifference = 0;
};

// Runs the PyTorch peer (python3 with `script`, started without a shell) on
// the shared slice and compares its logits with Tessera's dense engine on
// the same input. Errors: kNotFound when python or the script is missing;
// kUnsupported when python lacks torch or onnx; kIoError when the peer exits
// non-zero (with the end of its standard error); kCorruptData when its
// output or logits cannot be read.
Result<TorchPeerResult> benchmarkTorch(const Model& model, const PeerOptions& options);

struct OpenCvPeerResult {
  std::string version;                    // cv2.__version__
  double medianMs = 0, bestMs = 0;        // per slice, as the peer measured it
  double maxRelativeLogitDifference = 0;  // as TorchPeerResult's
};

// OpenCV's DNN module (its own CPU backend) reading the same ONNX file, as
// benchmarkTorch. Errors as benchmarkTorch; kUnsupported when python lacks
// cv2; kIoError also when OpenCV cannot read or run the model (a plugin
// layer, an operator it lacks), with OpenCV's message.
Result<OpenCvPeerResult> benchmarkOpenCv(const Model& model, const PeerOptions& options);

struct PeerSliceTimes {
  double denseBestMs = 0, sparseBestMs = 0;  // detector + network, fastest of the repeats
  double activeFraction = 0;                 // sparse blocks computed, over the phantom
};

// Tessera on the slice the peers run (as `tessera segment` runs it, through
// the segmenter), dense and sparse, `options.repeats` times each.
Result<PeerSliceTimes> benchmarkPeerSlice(Segmenter& segmenter, const PeerOptions& options,
                                          const SegmentOptions& sparse = {});

}  // namespace tessera::models
