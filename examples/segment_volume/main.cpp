// Segments a CT volume with Tessera's bundled model (or --model FILE) and
// writes the label map, printing progress, the sparse engine's statistics
// and each structure's volume.
//
//   segment_volume CT OUT [--dense] [--model FILE.onnx]
#include <tessera/tessera.hpp>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  std::string input, output, modelPath;
  tessera_mode mode = TESSERA_MODE_SPARSE;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dense") == 0) {
      mode = TESSERA_MODE_DENSE;
    } else if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
      modelPath = argv[++i];
    } else if (input.empty()) {
      input = argv[i];
    } else if (output.empty()) {
      output = argv[i];
    } else {
      input.clear();
      break;
    }
  }
  if (input.empty() || output.empty()) {
    std::fprintf(stderr, "usage: segment_volume CT OUT [--dense] [--model FILE.onnx]\n");
    return 2;
  }
  try {
    tessera::sdk::checkAbi();
    tessera::sdk::Model model = tessera::sdk::Model::load(modelPath);
    std::printf("Tessera %s, model %s %s (%s)\n", tessera_version(), model.name().c_str(),
                model.version().c_str(), model.path().c_str());
    tessera::sdk::Volume ct = tessera::sdk::Volume::read(input);

    tessera::sdk::SegmentOptions options;
    options.mode = mode;
    options.progress = [](double fraction, double eta, const std::string& message) {
      std::fprintf(stderr, "\r%3.0f %% %s", 100 * fraction, message.c_str());
      if (eta > 0) std::fprintf(stderr, ", %.0f s left", eta);
      std::fprintf(stderr, "   ");
      return true;
    };
    tessera::sdk::Segmentation result = model.segment(ct.image(), options);
    std::fprintf(stderr, "\n");
    result.write(output);

    const tessera_stats stats = result.stats();
    std::printf("%lld slices in %.2f s; %.1f %% of blocks computed, %.1f %% of FLOPs skipped\n",
                static_cast<long long>(stats.slices), stats.seconds, 100 * stats.active_fraction,
                stats.dense_flops > 0 ? 100 * (1 - stats.flops / stats.dense_flops) : 0.0);
    for (const tessera::sdk::LabelStats& label : result.labelStats())
      std::printf("%-14s %10.1f mL  %7.1f HU\n", label.name.c_str(), label.volumeMl, label.meanHu);
    std::printf("wrote %s\n", output.c_str());
    return 0;
  } catch (const tessera::sdk::Error& e) {
    std::fprintf(stderr, "segment_volume: %s: %s\n", tessera_status_name(e.status()), e.what());
    return 1;
  }
}
