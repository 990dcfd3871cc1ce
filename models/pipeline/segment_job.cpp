#include "models/pipeline/segment_job.h"

#include <chrono>
#include <filesystem>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/memory.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"

namespace tessera::models {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The model's label codes as the SEG writer takes them.
std::map<std::string, imaging::SegmentProperty> segmentProperties(const ModelInfo& info) {
  std::map<std::string, imaging::SegmentProperty> out;
  for (const auto& [name, c] : info.labelCodes)
    out[name] = {{c.category[0], c.category[1], c.category[2]}, {c.type[0], c.type[1], c.type[2]}};
  return out;
}

Status checkSegmentJobOutputs(const SegmentJobOptions& o) {
  if (o.input.empty()) return Status(StatusCode::kInvalidArgument, "no input given");
  if (!fileExists(o.input))
    return Status(StatusCode::kNotFound, "no such file or directory", o.input);
  if (o.output.empty()) return Status(StatusCode::kInvalidArgument, "no output given");
  const auto checkVolumePath = [](const std::string& path, const char* what) -> Status {
    const auto format = imaging::formatFromPath(path);
    if (format != imaging::FileFormat::kNifti && format != imaging::FileFormat::kNrrd &&
        format != imaging::FileFormat::kMetaImage)
      return Status(StatusCode::kUnsupported,
                    std::string(what) + " are written as .nii.gz, .nii, .nrrd, .mha or .mhd", path);
    return checkOutputPath(path);
  };
  TESSERA_RETURN_IF_ERROR(checkVolumePath(o.output, "labels"));
  if (!o.reportPath.empty()) TESSERA_RETURN_IF_ERROR(checkOutputPath(o.reportPath));
  if (!o.blocksPath.empty()) TESSERA_RETURN_IF_ERROR(checkVolumePath(o.blocksPath, "block maps"));
  if (!o.dicomSegPath.empty() || !o.rtstructPath.empty()) {
    const auto format = imaging::formatFromPath(o.input);
    if (format != imaging::FileFormat::kDicomDirectory && format != imaging::FileFormat::kDicomFile)
      return Status(StatusCode::kInvalidArgument,
                    std::string(o.dicomSegPath.empty() ? "an RTSTRUCT" : "a DICOM-SEG") +
                        " references the DICOM series it was made from; give a DICOM directory "
                        "or file as input",
                    o.input);
    if (!o.dicomSegPath.empty()) TESSERA_RETURN_IF_ERROR(checkOutputPath(o.dicomSegPath));
    if (!o.rtstructPath.empty()) TESSERA_RETURN_IF_ERROR(checkOutputPath(o.rtstructPath));
  }
  if (o.deidentify.enabled && o.dicomSegPath.empty() && o.rtstructPath.empty())
    return Status(StatusCode::kInvalidArgument,
                  "--deidentify applies to the DICOM outputs (--dicom-seg, --rtstruct, --sr); "
                  "give one");
  if (!o.dicomSrPath.empty()) {
    if (o.dicomSegPath.empty())
      return Status(StatusCode::kInvalidArgument,
                    "a DICOM SR references the segments of a DICOM-SEG; give --dicom-seg too");
    TESSERA_RETURN_IF_ERROR(checkOutputPath(o.dicomSrPath));
  }
  if (!o.meshDir.empty()) {
    if (o.meshFormat != "stl" && o.meshFormat != "obj")
      return Status(StatusCode::kInvalidArgument, "mesh format must be stl or obj");
    // The mesh directory is created when missing; its parent must exist.
    std::error_code error;
    const bool exists = fs::exists(o.meshDir, error);
    TESSERA_RETURN_IF_ERROR(
        checkOutputPath(exists ? (fs::path(o.meshDir) / "probe").string() : o.meshDir));
  }
  return Status();
}

Result<SegmentJobResult> runSegmentJob(Segmenter& segmenter, const SegmentJobOptions& o,
                                       ProgressSink* progress, const CancelToken* cancel) {
  const auto start = Clock::now();
  TESSERA_RETURN_IF_ERROR(checkSegmentJobOutputs(o));
  SegmentJobResult result;

  SubProgress readProgress(progress, 0.0, 0.1);
  imaging::ReadOptions read;
  read.seriesUid = o.seriesUid;
  read.progress = &readProgress;
  read.cancel = cancel;
  TESSERA_ASSIGN_OR_RETURN(Volume volume, imaging::readVolume(o.input, read));
  result.geometry = volume.geometry();
  result.readSeconds = std::chrono::duration<double>(Clock::now() - start).count();

  SubProgress segmentProgress(progress, 0.1, 0.9);
  SegmentOptions options = o.segment;
  options.progress = &segmentProgress;
  options.cancel = cancel;
  options.keepBlockMap = !o.blocksPath.empty();
  TESSERA_ASSIGN_OR_RETURN(StudySegmentation seg,
                           segmentStudy(segmenter, volume, options, o.stages));
  result.stats = seg.stats;
  result.stageReport = std::move(seg.stageReport);
  result.postProcessing = std::move(seg.postProcessing);
  result.statistics = std::move(seg.statistics);
  if (cancel) TESSERA_RETURN_IF_ERROR(cancel->check());

  // The outputs are written one after another; when one fails, those already
  // written are removed, so that a failed run leaves nothing half done behind.
  bool createdMeshDir = false;
  const Status written = [&]() -> Status {
    const auto writeStart = Clock::now();
    TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(seg.labels, o.output));
    result.outputs.push_back(o.output);
    if (!o.blocksPath.empty()) {
      TESSERA_RETURN_IF_ERROR(
          imaging::writeLabelMap(LabelMap{std::move(seg.computedBlocks), {}}, o.blocksPath));
      result.outputs.push_back(o.blocksPath);
    }
    if (!o.dicomSegPath.empty()) {
      imaging::DicomSegOptions dicomSeg;
      dicomSeg.sourcePath = o.input;
      dicomSeg.seriesUid = o.seriesUid;
      dicomSeg.algorithmName = segmenter.info().name;
      dicomSeg.algorithmVersion = segmenter.info().version;
      dicomSeg.algorithmParameters = std::string("mode=") + segmentModeName(options.mode);
      dicomSeg.deidentify = o.deidentify;
      dicomSeg.properties = segmentProperties(segmenter.info());
      TESSERA_RETURN_IF_ERROR(imaging::writeDicomSeg(seg.labels, o.dicomSegPath, dicomSeg));
      result.outputs.push_back(o.dicomSegPath);
    }
    if (!o.rtstructPath.empty()) {
      imaging::RtStructOptions rt;
      rt.sourcePath = o.input;
      rt.seriesUid = o.seriesUid;
      rt.algorithmName = segmenter.info().name;
      rt.deidentify = o.deidentify;
      TESSERA_RETURN_IF_ERROR(imaging::writeRtStruct(seg.labels, o.rtstructPath, rt));
      result.outputs.push_back(o.rtstructPath);
    }
    if (!o.dicomSrPath.empty()) {
      imaging::DicomSrOptions sr;
      sr.sourcePath = o.input;
      sr.seriesUid = o.seriesUid;
      sr.segPath = o.dicomSegPath;
      sr.algorithmName = segmenter.info().name;
      sr.algorithmVersion = segmenter.info().version;
      sr.deidentify = o.deidentify;
      TESSERA_RETURN_IF_ERROR(imaging::writeDicomSr(result.statistics, o.dicomSrPath, sr));
      result.outputs.push_back(o.dicomSrPath);
    }
    result.writeSeconds = std::chrono::duration<double>(Clock::now() - writeStart).count();

    if (!o.meshDir.empty()) {
      std::error_code error;
      createdMeshDir = fs::create_directories(o.meshDir, error);
      SubProgress meshProgress(progress, 0.92, 0.99);
      imaging::MeshOptions meshOptions;
      meshOptions.cancel = cancel;
      meshOptions.progress = &meshProgress;
      TESSERA_ASSIGN_OR_RETURN(std::vector<imaging::Mesh> meshes,
                               imaging::buildLabelMeshes(seg.labels, meshOptions));
      for (const imaging::Mesh& mesh : meshes) {
        const std::string path =
            (fs::path(o.meshDir) / imaging::meshFileName(mesh, "." + o.meshFormat)).string();
        TESSERA_RETURN_IF_ERROR(imaging::writeMesh(mesh, path));
        result.outputs.push_back(path);
      }
    }
    result.totalSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!o.reportPath.empty()) {
      TESSERA_RETURN_IF_ERROR(
          writeTextFileAtomic(o.reportPath, segmentReportJson(o, result, segmenter.info())));
      result.outputs.push_back(o.reportPath);
    }
    return Status();
  }();
  if (!written.ok()) {
    std::error_code error;
    for (const std::string& path : result.outputs) fs::remove(path, error);
    if (createdMeshDir) fs::remove(o.meshDir, error);  // only when empty
    return written;
  }
  if (progress) ProgressTracker(progress).report(1.0, "done");
  return result;
}

std::string segmentReportJson(const SegmentJobOptions& o, const SegmentJobResult& r,
                              const ModelInfo& model) {
  JsonWriter w;
  w.beginObject();
  w.field("tessera_version", TESSERA_VERSION);
  w.field("input", o.input);
  w.field("labels", o.output);
  w.key("geometry").beginObject();
  const Geometry& g = r.geometry;
  w.key("size").beginArray().value(g.size[0]).value(g.size[1]).value(g.size[2]).endArray();
  w.key("spacing_mm")
      .beginArray()
      .value(g.spacingMm[0])
      .value(g.spacingMm[1])
      .value(g.spacingMm[2])
      .endArray();
  w.key("origin_mm_lps")
      .beginArray()
      .value(g.originMm[0])
      .value(g.originMm[1])
      .value(g.originMm[2])
      .endArray();
  w.key("direction").beginArray();
  for (double d : g.direction) w.value(d);
  w.endArray();
  w.field("orientation", orientationCode(g.direction));
  w.endObject();
  w.key("model").beginObject();
  w.field("name", model.name).field("version", model.version);
  w.field("base_width", model.architecture.baseWidth).field("levels", model.architecture.levels);
  w.endObject();
  w.key("segmentation").beginObject();
  w.field("mode", segmentModeName(o.segment.mode));
  w.field("slices", r.stats.slices);
  w.field("empty_slices", r.stats.emptySlices);
  w.field("settle", settlingName(o.segment.settling));
  w.field("mean_active_block_fraction", r.stats.meanActiveFraction);
  w.field("mean_settled_block_fraction", r.stats.meanSettledFraction);
  w.key("encoder_block_fraction_per_level").beginArray();
  for (double f : r.stats.encoderFractionPerLevel) w.value(f);
  w.endArray();
  w.key("decoder_block_fraction_per_level").beginArray();
  for (double f : r.stats.decoderFractionPerLevel) w.value(f);
  w.endArray();
  w.field("gflop_computed", r.stats.flops / 1e9);
  w.field("gflop_dense", r.stats.denseFlops / 1e9);
  w.field("flop_fraction_skipped",
          r.stats.denseFlops > 0 ? 1.0 - r.stats.flops / r.stats.denseFlops : 0.0);
  w.endObject();
  w.key("timing_s").beginObject();
  w.field("read", r.readSeconds).field("detector", r.stats.detectorSeconds);
  w.field("network", r.stats.engineSeconds).field("write", r.writeSeconds);
  w.field("total", r.totalSeconds);
  w.endObject();
  w.field("peak_resident_mb", static_cast<double>(peakResidentBytes()) / 1048576.0);
  if (!o.stages.empty()) {
    w.key("stages").beginObject();
    w.key("run").beginArray();
    for (const StageCall& call : o.stages) w.value(call.stage->name);
    w.endArray();
    for (const auto& [key, value] : r.stageReport) w.field(key, value);
    w.endObject();
  }
  if (!r.postProcessing.empty()) {
    // What the model's rules changed: voxels and millilitres.
    const double ml = r.geometry.voxelVolumeMm3() / 1000.0;
    w.key("post_processing").beginArray();
    for (const PostProcessingOutcome& p : r.postProcessing) {
      const imaging::LabelRuleOutcome& v = p.voxels;
      w.beginObject().field("label", p.label);
      w.field("removed_on_slices_voxels", v.removedOnSlices);
      w.field("components_removed", v.componentsRemoved);
      w.field("removed_component_voxels", v.removedComponentVoxels);
      w.field("filled_voxels", v.filledVoxels);
      w.field("removed_ml", static_cast<double>(v.removedVoxels()) * ml);
      w.field("filled_ml", static_cast<double>(v.filledVoxels) * ml);
      w.endObject();
    }
    w.endArray();
  }
  w.key("statistics");
  imaging::statisticsToJson(w, r.statistics, r.geometry);
  w.endObject();
  return w.str() + "\n";
}

}  // namespace tessera::models
