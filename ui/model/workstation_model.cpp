#include "ui/model/workstation_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "imaging/dicom/dicom.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/segment_job.h"

namespace tessera::ui {

namespace {

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string describeCursor(const CursorInfo& info) {
  char buffer[256];
  std::snprintf(
      buffer, sizeof buffer,
      "HU %d  \xC2\xB7  x %.1f  y %.1f  z %.1f mm (LPS)  \xC2\xB7  voxel %lld, %lld, %lld", info.hu,
      info.worldMm[0], info.worldMm[1], info.worldMm[2], static_cast<long long>(info.voxel[0]),
      static_cast<long long>(info.voxel[1]), static_cast<long long>(info.voxel[2]));
  std::string text = buffer;
  if (!info.labelName.empty()) text += "  \xC2\xB7  " + info.labelName;
  return text;
}

void keepPaintedVoxels(LabelMap& result, const LabelMap& current,
                       const std::vector<std::int64_t>& painted) {
  std::uint8_t* out = result.labels.data();
  const std::uint8_t* kept = current.labels.data();
  const std::int64_t count = result.labels.voxelCount();
  std::array<bool, 256> used{};
  for (const std::int64_t index : painted) {
    if (index < 0 || index >= count) continue;
    out[index] = kept[index];
    used[kept[index]] = true;
  }
  for (const Label& label : current.table.labels)
    if (used[label.value] && !result.table.find(label.value)) result.table.labels.push_back(label);
}

WorkstationModel::WorkstationModel(std::function<void()> wakeSegmentation)
    : grey_(windowLevel_), controller_(std::move(wakeSegmentation)) {}

WorkstationModel::~WorkstationModel() {
  controller_.cancel();
  controller_.wait();
}

void WorkstationModel::resetLabelTable() {
  // Fails only for a label map whose geometry differs from the CT's, which
  // the document never holds.
  const Status status = labelTable_.reset(document_.ct(), document_.labels());
  if (!status.ok()) logError("label statistics: ", status.toString());
}

void WorkstationModel::addListener(Listener listener) {
  listeners_.push_back(std::move(listener));
}

void WorkstationModel::notify(unsigned changes) {
  for (const Listener& listener : listeners_) listener(changes);
}

// --- study -------------------------------------------------------------------

Result<Volume> WorkstationModel::readVolumeFile(const std::string& path,
                                                const std::string& seriesUid) {
  imaging::ReadOptions options;
  options.seriesUid = seriesUid;
  auto ct = imaging::readVolume(path, options);
  if (!ct.ok()) {
    Error error = ct.error();
    if (error.context.empty()) error.context = path;
    return error;
  }
  return ct;
}

namespace {

// "Doe^Jane" as a person reads it: "Doe, Jane".
std::string personName(const std::string& dicom) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : dicom.substr(0, dicom.find('='))) {
    if (c == '^') {
      parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  parts.push_back(part);
  std::string out = parts[0];
  std::string given;
  for (std::size_t i = 1; i < parts.size(); ++i)
    if (!parts[i].empty()) given += (given.empty() ? "" : " ") + parts[i];
  if (!given.empty()) out += (out.empty() ? "" : ", ") + given;
  return out;
}

std::string bannerFor(const std::string& path, const std::string& seriesUid) {
  const auto format = imaging::formatFromPath(path);
  const std::string file = std::filesystem::path(path).filename().string();
  if (format != imaging::FileFormat::kDicomDirectory && format != imaging::FileFormat::kDicomFile)
    return "No patient identity (" + file + ")";
  auto listing = imaging::listDicomSeries(path);
  if (!listing.ok() || listing->series.empty()) return file;
  int index = imaging::defaultSeriesIndex(*listing);
  for (std::size_t i = 0; i < listing->series.size(); ++i)
    if (listing->series[i].seriesUid == seriesUid) index = static_cast<int>(i);
  const imaging::DicomSeriesInfo& s = listing->series[static_cast<std::size_t>(std::max(index, 0))];
  std::vector<std::string> fields;
  const std::string name = personName(s.patientName);
  fields.push_back(name.empty() ? "No patient name" : name);
  if (!s.patientId.empty()) fields.push_back("ID " + s.patientId);
  if (s.studyDate.size() == 8)
    fields.push_back(s.studyDate.substr(0, 4) + "-" + s.studyDate.substr(4, 2) + "-" +
                     s.studyDate.substr(6, 2));
  if (!s.studyDescription.empty()) fields.push_back(s.studyDescription);
  std::string series = s.seriesDescription;
  if (!s.modality.empty()) series += (series.empty() ? "" : " ") + ("(" + s.modality + ")");
  if (!series.empty()) fields.push_back(series);
  std::string out;
  for (const std::string& f : fields) out += (out.empty() ? "" : " \u00B7 ") + f;
  return out;
}

}  // namespace

Status WorkstationModel::showVolume(Volume ct, const std::string& path,
                                    const std::string& seriesUid) {
  TESSERA_RETURN_IF_ERROR(setVolume(std::move(ct), path, seriesUid));
  recent_.add(path);
  return Status();
}

Status WorkstationModel::openVolume(const std::string& path, const std::string& seriesUid) {
  TESSERA_ASSIGN_OR_RETURN(Volume ct, readVolumeFile(path, seriesUid));
  return showVolume(std::move(ct), path, seriesUid);
}

Status WorkstationModel::setVolume(Volume ct, const std::string& path,
                                   const std::string& seriesUid) {
  if (controller_.busy()) {
    controller_.cancel();
    controller_.wait();
    controller_.poll();
    discardPreview();
  }
  if (paint_.active()) paint_.end();
  TESSERA_RETURN_IF_ERROR(document_.setVolume(std::move(ct), path));
  seriesUid_ = seriesUid;
  banner_ = bannerFor(path, seriesUid);
  afterStudyChanged();
  return Status();
}

void WorkstationModel::afterStudyChanged() {
  const Geometry& g = document_.geometry();
  for (SliceViewModel& view : views_) {
    const int w = view.viewportWidth(), h = view.viewportHeight();
    view.setGeometry(g);
    view.setViewport(w, h);
  }
  crosshairMm_ =
      g.worldFromVoxel({static_cast<double>(g.size[0] / 2), static_cast<double>(g.size[1] / 2),
                        static_cast<double>(g.size[2] / 2)});
  syncSlicesToCrosshair();
  resetLabelTable();
  segmentation_ = SegmentationState{};
  notify(kChangeAll);
}

Status WorkstationModel::openLabels(const std::string& path) {
  if (!hasImage())
    return Status(StatusCode::kInvalidArgument, "Open a CT before its segmentation.");
  // A DICOM-SEG is placed onto the CT by its frames' positions; its segments
  // take the values of the labels of the same name.
  auto labels = imaging::isDicomSegFile(path)
                    ? imaging::readDicomSeg(path, document_.geometry(), &document_.labels().table)
                    : imaging::readLabelMap(path);
  if (!labels.ok()) {
    Error error = labels.error();
    if (error.context.empty()) error.context = path;
    return error;
  }
  TESSERA_RETURN_IF_ERROR(setLabels(std::move(labels).value(), path));
  return Status();
}

Status WorkstationModel::setLabels(LabelMap labels, const std::string& path) {
  if (controller_.busy())
    return Status(StatusCode::kInvalidArgument,
                  "A segmentation is running; cancel it before opening another.");
  if (paint_.active()) paint_.end();
  TESSERA_RETURN_IF_ERROR(document_.setLabels(std::move(labels), path));
  resetLabelTable();
  notify(kChangeLabels | kChangeLabelTable | kChangeHistory);
  return Status();
}

Status WorkstationModel::openBlockMap(const std::string& path) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "Open a CT before its block map.");
  auto blocks = imaging::readLabelMap(path);
  if (!blocks.ok()) {
    Error error = blocks.error();
    if (error.context.empty()) error.context = path;
    return error;
  }
  TESSERA_RETURN_IF_ERROR(document_.setBlockMap(std::move(blocks->labels), path));
  showBlocks_ = true;
  notify(kChangeOverlay);
  return Status();
}

bool WorkstationModel::isSegmentationOfOpenCt(const std::string& path) const {
  if (!hasImage() || isDirectory(path)) return false;
  if (imaging::isDicomSegFile(path)) return true;  // openLabels says when it does not fit
  auto header = imaging::readHeader(path);
  return header.ok() &&
         (header->componentType == imaging::ComponentType::kUInt8 ||
          header->componentType == imaging::ComponentType::kInt8) &&
         sameGeometry(header->geometry, document_.geometry());
}

// --- views -------------------------------------------------------------------

void WorkstationModel::setViewport(Plane plane, int width, int height) {
  view(plane).setViewport(width, height);
  notify(kChangeView);
}

void WorkstationModel::zoomView(Plane plane, const ScreenPoint& anchor, double factor) {
  if (!hasImage()) return;
  view(plane).zoomAt(anchor, factor);
  notify(kChangeView);
}

void WorkstationModel::panView(Plane plane, double dx, double dy) {
  if (!hasImage()) return;
  view(plane).panByPixels(dx, dy);
  notify(kChangeView);
}

void WorkstationModel::resetView(Plane plane) {
  view(plane).resetView();
  notify(kChangeView);
}

void WorkstationModel::resetViews() {
  for (SliceViewModel& view : views_) view.resetView();
  notify(kChangeView);
}

std::array<std::int64_t, 3> WorkstationModel::crosshairVoxel() const {
  std::array<std::int64_t, 3> voxel{0, 0, 0};
  if (!hasImage()) return voxel;
  const Geometry& g = document_.geometry();
  const Vec3 ijk = g.voxelFromWorld(crosshairMm_);
  for (int a = 0; a < 3; ++a)
    voxel[a] = std::clamp<std::int64_t>(std::llround(ijk[a]), 0, g.size[a] - 1);
  return voxel;
}

void WorkstationModel::syncSlicesToCrosshair() {
  const auto voxel = crosshairVoxel();
  for (SliceViewModel& view : views_) view.setSlice(voxel[view.axes().normal]);
}

void WorkstationModel::setCrosshairMm(const Vec3& lpsMm) {
  if (!hasImage()) return;
  // Kept on a voxel centre inside the volume, so that every view shows
  // exactly the slice through it.
  const Geometry& g = document_.geometry();
  const Vec3 ijk = g.voxelFromWorld(lpsMm);
  Vec3 snapped{};
  for (int a = 0; a < 3; ++a)
    snapped[a] =
        static_cast<double>(std::clamp<std::int64_t>(std::llround(ijk[a]), 0, g.size[a] - 1));
  crosshairMm_ = g.worldFromVoxel(snapped);
  syncSlicesToCrosshair();
  notify(kChangeCursor);
}

void WorkstationModel::setCrosshairFromScreen(Plane plane, const ScreenPoint& p) {
  if (!hasImage()) return;
  setCrosshairMm(view(plane).worldFromScreen(p));
}

void WorkstationModel::scroll(Plane plane, int steps) {
  if (!hasImage() || steps == 0) return;
  const SliceViewModel& v = view(plane);
  auto voxel = crosshairVoxel();
  const int axis = v.axes().normal;
  voxel[axis] = std::clamp<std::int64_t>(voxel[axis] + std::int64_t{steps} * v.axes().normalSign, 0,
                                         document_.geometry().size[axis] - 1);
  setCrosshairMm(document_.geometry().worldFromVoxel({static_cast<double>(voxel[0]),
                                                      static_cast<double>(voxel[1]),
                                                      static_cast<double>(voxel[2])}));
}

void WorkstationModel::setWindowLevel(const WindowLevel& windowLevel) {
  const WindowLevel clamped = clampWindowLevel(windowLevel);
  if (clamped == windowLevel_) return;
  windowLevel_ = clamped;
  grey_ = GreyTable(windowLevel_);
  notify(kChangeWindow);
}

void WorkstationModel::applyPreset(std::size_t presetIndex) {
  if (presetIndex < windowPresets().size())
    setWindowLevel(windowPresets()[presetIndex].windowLevel);
}

void WorkstationModel::setLabelOpacity(double opacity) {
  labelOpacity_ = std::clamp(opacity, 0.0, 1.0);
  notify(kChangeOverlay);
}

void WorkstationModel::setShowBlocks(bool show) {
  showBlocks_ = show;
  notify(kChangeOverlay);
}

void WorkstationModel::setLabelVisible(std::uint8_t value, bool visible) {
  labelTable_.setVisible(value, visible);
  notify(kChangeOverlay | kChangeLabelTable);
}

OverlayStyle WorkstationModel::overlayStyle() const {
  OverlayStyle style;
  style.labelOpacity = labelOpacity_;
  style.showBlocks = showBlocks_;
  style.labelVisible.fill(true);
  for (const Label& label : labelTableForDisplay().labels) style.labelRgb[label.value] = label.rgb;
  for (const LabelRow& row : labelTable_.rows()) style.labelVisible[row.value] = row.visible;
  return style;
}

SliceImage WorkstationModel::renderView(Plane plane) const {
  if (!hasImage()) return {};
  const SliceViewModel& v = view(plane);
  return renderSlice(document_.ct(), &displayedLabels(), document_.blockMap(), v.axes(), v.slice(),
                     grey_, overlayStyle());
}

std::optional<CursorInfo> WorkstationModel::cursorInfo(Plane plane, const ScreenPoint& p) const {
  if (!hasImage()) return std::nullopt;
  const auto probe = view(plane).probe(p);
  if (!probe) return std::nullopt;
  CursorInfo info;
  info.voxel = probe->voxel;
  info.worldMm = probe->worldMm;
  const Volume& ct = document_.ct();
  info.hu = ct.at(info.voxel[0], info.voxel[1], info.voxel[2]);
  info.label = displayedLabels().at(info.voxel[0], info.voxel[1], info.voxel[2]);
  if (info.label != 0) info.labelName = labelTableForDisplay().nameOf(info.label);
  return info;
}

// --- labels and editing --------------------------------------------------------

const Image<std::uint8_t>& WorkstationModel::displayedLabels() const {
  return preview_ ? *preview_ : document_.labels().labels;
}

void WorkstationModel::setSelectedLabel(std::uint8_t value) {
  brush_.label = value;
  notify(kChangeLabelTable);
}

void WorkstationModel::setTool(Tool tool) {
  tool_ = tool;
  if (tool == Tool::kPaint) brush_.mode = BrushMode::kPaint;
  if (tool == Tool::kErase) brush_.mode = BrushMode::kErase;
  notify(kChangeOverlay);
}

void WorkstationModel::setBrushRadiusMm(double radiusMm) {
  brush_.radiusMm = std::clamp(radiusMm, 0.0, 200.0);
}

bool WorkstationModel::beginStroke(Plane plane, const ScreenPoint& p) {
  if (!hasImage() || controller_.busy() || brush_.label == 0) return false;
  paint_.begin(document_, view(plane), p, brush_);
  notify(kChangeLabels);
  return true;
}

void WorkstationModel::continueStroke(const ScreenPoint& p) {
  if (!paint_.active()) return;
  paint_.moveTo(p);
  notify(kChangeLabels);
}

void WorkstationModel::endStroke() {
  if (!paint_.active()) return;
  if (const Edit* edit = paint_.end()) labelTable_.applyEdit(document_.ct(), *edit, false);
  notify(kChangeLabels | kChangeLabelTable | kChangeHistory);
}

bool WorkstationModel::undo() {
  if (paint_.active() || controller_.busy()) return false;
  const Edit* edit = document_.undo();
  if (!edit) return false;
  labelTable_.applyEdit(document_.ct(), *edit, true);
  notify(kChangeLabels | kChangeLabelTable | kChangeHistory);
  return true;
}

bool WorkstationModel::redo() {
  if (paint_.active() || controller_.busy()) return false;
  const Edit* edit = document_.redo();
  if (!edit) return false;
  labelTable_.applyEdit(document_.ct(), *edit, false);
  notify(kChangeLabels | kChangeLabelTable | kChangeHistory);
  return true;
}

// --- exports -------------------------------------------------------------------

Status WorkstationModel::saveLabels(const std::string& path) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "No study is open.");
  const imaging::FileFormat format = imaging::formatFromPath(path);
  if (format != imaging::FileFormat::kNifti && format != imaging::FileFormat::kNrrd &&
      format != imaging::FileFormat::kMetaImage)
    return Status(StatusCode::kInvalidArgument,
                  "Save the segmentation as NIfTI (.nii.gz, .nii), NRRD (.nrrd) or MetaImage "
                  "(.mha).",
                  path);
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(document_.labels(), path));
  document_.markSaved(path);
  discardRecovery();
  notify(kChangeHistory);
  return Status();
}

Status WorkstationModel::exportStatistics(const std::string& path) const {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "No study is open.");
  const std::string extension = lowercase(fullExtension(path));
  if (extension != ".csv" && extension != ".json")
    return Status(StatusCode::kInvalidArgument, "Export statistics as .csv or .json.", path);
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  TESSERA_ASSIGN_OR_RETURN(auto statistics,
                           imaging::computeLabelStatistics(document_.ct(), document_.labels()));
  const Geometry& geometry = document_.geometry();
  if (extension == ".csv") return imaging::writeStatisticsCsv(statistics, geometry, path);
  JsonWriter json;
  json.beginObject();
  json.field("ct", document_.ctPath());
  json.field("segmentation", document_.labelsPath());
  json.key("statistics");
  imaging::statisticsToJson(json, statistics, geometry);
  json.endObject();
  return writeTextFileAtomic(path, json.str() + "\n");
}

namespace {

Status needsDicomCt(const ImageDocument& document) {
  if (!document.hasImage()) return Status(StatusCode::kInvalidArgument, "No study is open.");
  const auto format = imaging::formatFromPath(document.ctPath());
  if (format != imaging::FileFormat::kDicomDirectory && format != imaging::FileFormat::kDicomFile)
    return Status(StatusCode::kInvalidArgument,
                  "DICOM objects reference the DICOM series they were made from; this CT was "
                  "opened from " +
                      document.ctPath() + ", not from DICOM.");
  return Status();
}

}  // namespace

Status WorkstationModel::exportDicomSeg(const std::string& path) const {
  TESSERA_RETURN_IF_ERROR(needsDicomCt(document_));
  imaging::DicomSegOptions options;
  options.sourcePath = document_.ctPath();
  options.seriesUid = seriesUid_;
  options.algorithmName = "tessera-workstation";
  options.algorithmVersion = TESSERA_VERSION;
  if (session_.loaded()) options.properties = models::segmentProperties(session_.info());
  return imaging::writeDicomSeg(document_.labels(), path, options);
}

Status WorkstationModel::exportRtStruct(const std::string& path) const {
  TESSERA_RETURN_IF_ERROR(needsDicomCt(document_));
  imaging::RtStructOptions options;
  options.sourcePath = document_.ctPath();
  options.seriesUid = seriesUid_;
  options.algorithmName = "tessera-workstation";
  return imaging::writeRtStruct(document_.labels(), path, options);
}

Status WorkstationModel::exportDicomSegAndSr(const std::string& segPath,
                                             const std::string& srPath) const {
  TESSERA_RETURN_IF_ERROR(needsDicomCt(document_));
  TESSERA_RETURN_IF_ERROR(checkOutputPath(srPath));
  TESSERA_RETURN_IF_ERROR(exportDicomSeg(segPath));
  TESSERA_ASSIGN_OR_RETURN(auto statistics,
                           imaging::computeLabelStatistics(document_.ct(), document_.labels()));
  imaging::DicomSrOptions options;
  options.sourcePath = document_.ctPath();
  options.seriesUid = seriesUid_;
  options.segPath = segPath;
  options.algorithmName = "tessera-workstation";
  options.algorithmVersion = TESSERA_VERSION;
  const Status written = imaging::writeDicomSr(statistics, srPath, options);
  if (!written.ok()) {
    std::error_code ignored;
    std::filesystem::remove(segPath, ignored);  // both or neither
  }
  return written;
}

Result<std::vector<std::string>> WorkstationModel::exportMeshes(
    const std::string& directory, const std::string& extension) const {
  if (!hasImage()) return Error{StatusCode::kInvalidArgument, "No study is open.", ""};
  const std::string ext = lowercase(extension);
  if (ext != ".stl" && ext != ".obj")
    return Error{StatusCode::kInvalidArgument, "Meshes are written as .stl or .obj.", ext};
  if (!isDirectory(directory))
    return Error{StatusCode::kNotFound, "The folder for the meshes does not exist.", directory};
  TESSERA_ASSIGN_OR_RETURN(auto meshes, imaging::buildLabelMeshes(document_.labels()));
  if (meshes.empty())
    return Error{StatusCode::kInvalidArgument, "There are no labels to export as meshes.", ""};
  std::vector<std::string> written;
  for (const imaging::Mesh& mesh : meshes) {
    const std::string path = directory + "/" + imaging::meshFileName(mesh, ext);
    TESSERA_RETURN_IF_ERROR(imaging::writeMesh(mesh, path));
    written.push_back(path);
  }
  return written;
}

// --- segmentation -------------------------------------------------------------------

bool WorkstationModel::segmentationWouldReplaceEdits() const {
  return hasImage() && !document_.paintedSinceSegmentation().empty();
}

Status WorkstationModel::segment(const SegmentSettings& settings, RerunChoice choice) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it.");
  if (choice == RerunChoice::kCancel)
    return Status(StatusCode::kCancelled, "The segmentation was not started.");
  if (controller_.busy())
    return Status(StatusCode::kInvalidArgument, "A segmentation is already running.");
  TESSERA_RETURN_IF_ERROR(session_.load(settings.modelPath));
  return startSegmentation(session_.makeJob(settings), session_.info().labels, choice);
}

Status WorkstationModel::startSegmentation(SegmentationJob job, const LabelTable& labels,
                                           RerunChoice choice) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it.");
  if (choice == RerunChoice::kCancel)
    return Status(StatusCode::kCancelled, "The segmentation was not started.");
  if (paint_.active()) paint_.end();
  auto preview = Image<std::uint8_t>::create(document_.geometry(), 0);
  if (!preview.ok()) return preview.status();
  TESSERA_RETURN_IF_ERROR(controller_.start(document_.sharedCt(), std::move(job)));
  runChoice_ = choice;
  keepPainted_.clear();
  if (choice == RerunChoice::kKeepEdits) keepPainted_ = document_.paintedSinceSegmentation();
  preview_ = std::move(preview).value();
  previewTable_ = labels.labels.empty() ? document_.labels().table : labels;
  labelTable_.resetEmpty(document_.ct(), previewTable_);
  segmentation_ = SegmentationState{};
  segmentation_.running = true;
  segmentation_.message = "Starting";
  notify(kChangeSegmentation | kChangeLabels | kChangeLabelTable | kChangeOverlay);
  return Status();
}

void WorkstationModel::cancelSegmentation() {
  controller_.cancel();
}

void WorkstationModel::discardPreview() {
  preview_.reset();
  segmentation_.running = false;
  if (hasImage()) resetLabelTable();
}

Status WorkstationModel::pollSegmentation() {
  SegmentationEvents events = controller_.poll();
  unsigned changes = 0;
  const Volume* ct = hasImage() ? &document_.ct() : nullptr;
  if (preview_ && ct) {
    std::vector<std::uint8_t> before;
    for (const FinishedSlice& slice : events.slices) {
      const SlicePlacement& where = slice.placement;
      if (!where.fits(ct->geometry().size) ||
          slice.labels.size() != static_cast<std::size_t>(where.count()))
        continue;
      std::uint8_t* target = preview_->data();
      before.resize(slice.labels.size());
      for (std::int64_t v = 0, i = 0; v < where.height; ++v)
        for (std::int64_t u = 0; u < where.width; ++u, ++i)
          before[static_cast<std::size_t>(i)] = target[where.voxelIndex(u, v)];
      labelTable_.applySliceChange(*ct, where, before.data(), slice.labels.data());
      for (std::int64_t v = 0, i = 0; v < where.height; ++v)
        for (std::int64_t u = 0; u < where.width; ++u, ++i)
          target[where.voxelIndex(u, v)] = slice.labels[static_cast<std::size_t>(i)];
      ++segmentation_.slicesDone;
      changes |= kChangeLabels | kChangeLabelTable;
    }
  }
  if (events.progress) {
    segmentation_.fraction = events.progress->fraction;
    segmentation_.etaSeconds = events.progress->etaSeconds;
    segmentation_.message = events.progress->message;
    changes |= kChangeSegmentation;
  }
  Status outcome;
  if (events.result) {
    Result<SegmentationOutput>& result = *events.result;
    changes |=
        kChangeSegmentation | kChangeLabels | kChangeLabelTable | kChangeHistory | kChangeOverlay;
    preview_.reset();
    segmentation_.running = false;
    const bool succeeded = result.ok();
    if (succeeded) {
      SegmentationOutput& output = result.value();
      if (runChoice_ == RerunChoice::kKeepEdits &&
          output.labels.labels.voxelCount() == document_.labels().labels.voxelCount())
        keepPaintedVoxels(output.labels, document_.labels(), keepPainted_);
      outcome = document_.applySegmentation(std::move(output.labels), "Segment");
      if (outcome.ok()) {
        // The previous block map describes another run: a dense run has none.
        document_.clearBlockMap();
        if (output.computedBlocks) {
          const Status blocks = document_.setBlockMap(std::move(*output.computedBlocks), "");
          if (!blocks.ok()) logError("computed blocks: ", blocks.toString());
        }
        if (!document_.blockMap()) showBlocks_ = false;
      }
      segmentation_.fraction = 1.0;
      segmentation_.etaSeconds = 0.0;
      segmentation_.summary = output.summary;
    } else if (result.error().code != StatusCode::kCancelled) {
      outcome = result.status();
    }
    if (!outcome.ok()) logError("segmentation: ", outcome.toString());
    segmentation_.message = !outcome.ok() ? "Failed" : succeeded ? "Done" : "Cancelled";
    keepPainted_.clear();
    if (hasImage()) resetLabelTable();
  }
  if (changes) notify(changes);
  return outcome;
}

Status WorkstationModel::finishSegmentation() {
  controller_.wait();
  Status outcome = pollSegmentation();
  return outcome;
}

// --- recovery -----------------------------------------------------------------------

bool WorkstationModel::recoveryStale() const {
  return recovery_.enabled() && hasUnsavedEdits() && document_.stateId() != autosavedState_;
}

Status WorkstationModel::autosave() {
  if (!recovery_.enabled()) return Status();
  if (!hasUnsavedEdits()) {
    discardRecovery();
    return Status();
  }
  if (!recoveryStale()) return Status();
  TESSERA_RETURN_IF_ERROR(
      recovery_.save(document_.labels(), document_.ctPath(), seriesUid_, document_.labelsPath()));
  autosavedState_ = document_.stateId();
  return Status();
}

std::optional<WorkstationModel::RecoverySnapshot> WorkstationModel::recoverySnapshot() const {
  if (!recoveryStale()) return std::nullopt;
  return RecoverySnapshot{document_.labels(), document_.ctPath(), seriesUid_,
                          document_.labelsPath(), document_.stateId()};
}

void WorkstationModel::discardRecovery() {
  recovery_.remove();
  autosavedState_ = 0;
}

Status WorkstationModel::restoreRecovery(const RecoveryEntry& entry) {
  auto labels = imaging::readLabelMap(entry.labelsFile);
  if (!labels.ok()) {
    Error error = labels.error();
    if (error.context.empty()) error.context = entry.labelsFile;
    return error;
  }
  TESSERA_RETURN_IF_ERROR(openVolume(entry.ctPath, entry.seriesUid));
  TESSERA_RETURN_IF_ERROR(setLabels(std::move(labels).value(), entry.labelsPath));
  document_.markUnsaved();
  RecoveryStore::discard(entry);
  const Status saved = autosave();
  if (!saved.ok()) logError("recovery: ", saved.toString());
  notify(kChangeHistory);
  return Status();
}

}  // namespace tessera::ui
