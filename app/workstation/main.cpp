// tessera-workstation: the radiologist's workstation (wiring only).
//
//   tessera-workstation [PATH] [--labels FILE] [--blocks FILE]
//                       [--segment [--model M] [--mode MODE] [--settle LEVEL]]
//                       [--threads N]
//                       [--screenshot OUT.png] [--size WxH] [--maximise VIEW]
//
// With --screenshot the window is rendered without a person and saved as
// PNG; without a display it re-runs itself under xvfb-run when available.
#include <unistd.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/log.h"
#include "core/parallel.h"
#include "ui/widgets/application.h"
#include "ui/widgets/main_window.h"
#include "ui/widgets/vtk_host_widget.h"

namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;

bool hasDisplay() {
  const char* platform = std::getenv("QT_QPA_PLATFORM");
  if (platform && *platform) return true;
  const char* x = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  return (x && *x) || (wayland && *wayland);
}

// Re-executes this program under xvfb-run (a virtual X display); returns
// only when that is impossible.
void reexecUnderXvfb(int argc, char** argv) {
  if (std::getenv("TESSERA_NO_XVFB")) return;
  setenv("TESSERA_NO_XVFB", "1", 1);
  char buffer[4096];
  const ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (length <= 0) return;
  std::string self(buffer, static_cast<std::size_t>(length));
  std::vector<char*> args;
  std::string a = "-a", s = "-s", screen = "-screen 0 1920x1200x24";
  args.push_back(const_cast<char*>("xvfb-run"));
  args.push_back(a.data());
  args.push_back(s.data());
  args.push_back(screen.data());
  args.push_back(self.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execvp("xvfb-run", args.data());
}

}  // namespace

int main(int argc, char** argv) {
  tessera::cli::ArgParser parser(
      "tessera-workstation", "CT workstation: read, correct, measure and export segmentations.");
  parser.positional("PATH", "CT to open: NIfTI, NRRD, MetaImage, DICOM file or folder", false);
  parser.option("--labels", "FILE", "segmentation (label map) of the CT to open with it");
  parser.option("--blocks", "FILE", "block map of the CT (non-zero where blocks were computed)");
  parser.flag("--segment", "segment the CT (default model, or --model) once it is open");
  parser.option("--model", "M", "ONNX model for --segment (default: the bundled model)");
  parser.option("--mode", "MODE", "sparse (default) or dense, for --segment");
  parser.option("--settle", "LEVEL",
                "output-driven sparsity for --segment: off, conservative, balanced (default) or "
                "aggressive");
  parser.option("--threads", "N", "CPU threads for segmenting (default: all cores)");
  parser.option("--screenshot", "OUT.png", "render the window without a person and save it");
  parser.option("--size", "WxH", "window size for --screenshot", "1600x1000");
  parser.option("--maximise", "VIEW", "axial, sagittal, coronal or 3d: show one view large");
  parser.epilog(
      "Without a display, --screenshot runs itself under xvfb-run; with --segment it waits\n"
      "for the segmentation and the 3D surfaces before saving the picture.\n"
      "Exit codes: 0 success, 1 failure, 2 usage error.");
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!parser.parse(args)) {
    if (parser.helpRequested()) {
      std::fputs(parser.usage().c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "tessera-workstation: error: %s\n(see --help)\n", parser.error().c_str());
    return kExitUsage;
  }
  const bool screenshot = parser.has("screenshot");
  int width = 1600, height = 1000;
  if (std::sscanf(parser.get("size").c_str(), "%dx%d", &width, &height) != 2 || width < 200 ||
      height < 200 || width > 8000 || height > 8000) {
    std::fprintf(stderr, "tessera-workstation: error: --size takes WxH, e.g. 1600x1000\n");
    return kExitUsage;
  }
  int maximise = -1;
  if (parser.has("maximise")) {
    const std::string v = parser.get("maximise");
    const char* names[4] = {"axial", "sagittal", "coronal", "3d"};
    for (int i = 0; i < 4; ++i)
      if (v == names[i]) maximise = i;
    if (maximise < 0) {
      std::fprintf(stderr,
                   "tessera-workstation: error: --maximise takes axial, sagittal, "
                   "coronal or 3d\n");
      return kExitUsage;
    }
  }
  tessera::ui::SegmentSettings segment;
  const bool segmenting = parser.has("segment");
  segment.modelPath = parser.get("model");
  if (parser.has("mode") && !tessera::models::parseSegmentMode(parser.get("mode"), &segment.mode)) {
    std::fprintf(stderr, "tessera-workstation: error: --mode must be sparse or dense\n");
    return kExitUsage;
  }
  if (parser.has("settle") &&
      !tessera::models::parseSettling(parser.get("settle"), &segment.settling)) {
    std::fprintf(stderr,
                 "tessera-workstation: error: --settle must be off, conservative, balanced or "
                 "aggressive\n");
    return kExitUsage;
  }
  if (parser.has("threads")) {
    long long threads = 0;
    if (!parser.getInt("threads", &threads, 1, 1024)) {
      std::fprintf(stderr, "tessera-workstation: error: %s\n", parser.error().c_str());
      return kExitUsage;
    }
    tessera::setNumThreads(static_cast<int>(threads));
  }
  if (segmenting && parser.get("PATH").empty()) {
    std::fprintf(stderr, "tessera-workstation: error: --segment needs a CT to open (PATH)\n");
    return kExitUsage;
  }
  if (!segmenting && (parser.has("model") || parser.has("mode") || parser.has("settle"))) {
    std::fprintf(stderr,
                 "tessera-workstation: error: --model, --mode and --settle go with --segment\n");
    return kExitUsage;
  }
  if (!screenshot && !hasDisplay()) {
    std::fprintf(stderr,
                 "tessera-workstation: error: no display is set (DISPLAY or WAYLAND_DISPLAY); "
                 "run it on a desktop, or use --screenshot to render without one\n");
    return kExitFailure;
  }
  if (screenshot && !hasDisplay()) {
    reexecUnderXvfb(argc, argv);
    std::fprintf(stderr,
                 "tessera-workstation: error: --screenshot needs a display; none is set and "
                 "xvfb-run is not available (install xvfb or run under a desktop)\n");
    return kExitFailure;
  }

  tessera::ui::VtkHostWidget::setDefaultSurfaceFormat();
  tessera::ui::WorkstationApplication app(argc, argv);
  tessera::ui::applyDarkTheme(app);
  tessera::ui::MainWindow window;
  window.setHeadless(screenshot);
  // A screenshot run edits nothing a person made: it leaves no recovery.
  if (screenshot) window.model().setRecoveryStore({});
  // SIGTERM (logout, shutdown, a service manager) keeps the unsaved work for
  // the next start, then quits as a normal close would; the quit is queued
  // so that it also holds when the signal comes before the event loop runs.
  if (!screenshot)
    tessera::ui::installTerminationHandler([&] {
      window.closeKeepingRecovery();
      QTimer::singleShot(0, &app, &QCoreApplication::quit);
    });
  if (screenshot) window.resize(width, height);

  // Where the time of a screenshot goes, printed with it.
  QElapsedTimer clock;
  clock.start();
  std::string timing;
  const auto phase = [&](const char* name) {
    char text[64];
    std::snprintf(text, sizeof text, "%s%s %.1f s", timing.empty() ? "" : ", ", name,
                  clock.restart() / 1000.0);
    timing += text;
  };

  const QString path = QString::fromStdString(parser.get("PATH"));
  bool ok = true;
  if (!path.isEmpty()) ok = window.openPath(QDir::current().absoluteFilePath(path));
  if (ok && parser.has("labels"))
    ok = window.openSegmentation(QString::fromStdString(parser.get("labels")));
  if (ok && parser.has("blocks"))
    ok = window.openBlockMap(QString::fromStdString(parser.get("blocks")));
  if (maximise >= 0) window.setMaximisedView(maximise);
  window.show();
  phase("open");
  if (ok && segmenting) {
    ok = window.segment(segment);
    phase("model");
  }

  if (!screenshot) {
    window.offerRecovery();
    return app.exec();
  }
  if (ok && segmenting) {
    window.waitForSegmentation();
    phase("segmentation");
    const auto& state = window.model().segmentationState();
    ok = state.message == "Done";
    if (ok) std::printf("segmented: %s\n", state.summary.c_str());
  }
  if (!ok) {
    std::fprintf(stderr, "tessera-workstation: error: %s\n",
                 window.lastError() ? window.lastError()->toString().c_str() : "cannot open");
    return kExitFailure;
  }
  // Let the window lay itself out and the 3D surfaces build, then grab it.
  QElapsedTimer settle;
  settle.start();
  while (settle.elapsed() < 300) app.processEvents(QEventLoop::AllEvents, 50);
  if (!window.waitForSurfaces()) {
    std::fprintf(stderr, "tessera-workstation: error: the 3D surfaces took too long\n");
    return kExitFailure;
  }
  phase("3D surfaces");
  const QString out = QString::fromStdString(parser.get("screenshot"));
  if (!window.saveScreenshot(out)) {
    std::fprintf(stderr, "tessera-workstation: error: %s\n",
                 window.lastError() ? window.lastError()->toString().c_str() : "screenshot failed");
    return kExitFailure;
  }
  phase("picture");
  std::printf("screenshot written to %s (%s)\n", out.toStdString().c_str(), timing.c_str());
  return kExitOk;
}
