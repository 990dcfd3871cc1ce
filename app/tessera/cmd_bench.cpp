#include <algorithm>
#include <cstdio>

#include "app/tessera/commands.h"
#include "app/tessera/segment_options.h"
#include "core/files.h"
#include "core/json.h"
#include "core/parallel.h"
#include "imaging/phantom/phantom.h"
#include "models/infer/kernel_isa.h"
#include "models/pipeline/benchmark.h"
#include "models/pipeline/model_store.h"

namespace tessera::cli {

int runBench(const Args& args) {
  ArgParser p("bench",
              "Measure dense against sparse segmentation, PyTorch and OpenCV DNN side by side.");
  addSegmentOptions(p, "CPU threads for Tessera and PyTorch (0: all cores)", "2",
                    /*withMode=*/false);
  p.option("--slices", "K", "slices per phantom", "24");
  p.option("--repeats", "R", "runs per mode (the fastest run of each slice counts)", "2");
  p.option("--e2e-slices", "K", "slices of the end-to-end read-segment-write case (0: skip)",
           "300");
  p.flag("--no-torch", "skip the PyTorch comparison");
  p.flag("--no-opencv", "skip the OpenCV DNN comparison");
  p.option("--peer-repeats", "R", "timed runs of each peer and of Tessera on their slice", "5");
  p.option("--json", "PATH", "also write the results as JSON");
  p.option("--work-dir", "DIR", "scratch directory", "/tmp");
  p.epilog(
      "Phantoms use seeds never used in training. Times are per 512x512 slice;\n"
      "ratios are measured in this one run. See docs/PERFORMANCE.md.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  long long slices, repeats, e2e, peerRepeats;
  if (!p.getInt("slices", &slices, 1, 2000) || !p.getInt("repeats", &repeats, 1, 100) ||
      !p.getInt("e2e-slices", &e2e, 0, 5000) || !p.getInt("peer-repeats", &peerRepeats, 1, 100)) {
    std::fprintf(stderr, "tessera: error: %s\n", p.error().c_str());
    return kExitUsage;
  }
  SegmentCommandOptions segment;
  std::string error;
  if (!readSegmentOptions(p, &segment, &error)) {
    std::fprintf(stderr, "tessera: error: %s\n", error.c_str());
    return kExitUsage;
  }
  models::SegmentOptions sparseOptions = segment.segment;
  sparseOptions.mode = models::SegmentMode::kSparse;
  const long long threads =
      segment.segment.threads > 0 ? segment.segment.threads : hardwareThreads();
  const long long dilation = sparseOptions.detector.dilation;
  setNumThreads(static_cast<int>(threads));
  std::string modelPath = segment.modelPath;
  if (modelPath.empty()) {
    auto found = models::defaultModelPath();
    if (!found.ok()) return fail(found.error());
    modelPath = *found;
  }
  // The kernels' instruction set (TESSERA_ISA may force one; a refused one fails here).
  const Result<models::infer::KernelIsa> isa = models::infer::kernelIsa();
  if (!isa.ok()) return fail(isa.error());
  const char* isaName = models::infer::kernelIsaName(*isa);
  auto model = models::loadModel(modelPath);
  if (!model.ok()) return fail(model.error());
  models::Segmenter segmenter(*model);
  const std::string workDir = p.get("work-dir");

  JsonWriter json;
  json.beginObject().field("model", modelPath).field("threads", static_cast<std::int64_t>(threads));
  json.field("kernels", std::string(isaName));
  std::printf(
      "Tessera bench: %s, %lld threads, %lld slices per phantom, best of %lld runs; "
      "settling %s, detector dilation %lld; kernels %s\n\n",
      modelPath.c_str(), threads, slices, repeats, models::settlingName(sparseOptions.settling),
      dilation, isaName);
  json.field("settle", std::string(models::settlingName(sparseOptions.settling)));
  json.field("dilation", static_cast<std::int64_t>(dilation));
  std::printf("%-6s %5s %5s %6s | %9s %9s %7s | %6s | %6s %6s | %6s %6s\n", "family", "occ", "body",
              "active", "dense ms", "sparse ms", "speedup", "FLOPs", "Dice d", "Dice s", "detect",
              "worst");
  json.key("phantoms").beginArray();
  struct Case {
    imaging::PhantomFamily family;
    double occupancy, zCenter;
  };
  const Case cases[] = {{imaging::PhantomFamily::kTorso, 0.40, 0.55},
                        {imaging::PhantomFamily::kTorso, 0.55, 0.55},
                        {imaging::PhantomFamily::kTorso, 0.70, 0.55},
                        {imaging::PhantomFamily::kHead, 0.40, 0.5}};
  for (const Case& c : cases) {
    models::PhantomBenchOptions o;
    o.family = c.family;
    o.occupancy = c.occupancy;
    o.zCenter = c.zCenter;
    o.slices = static_cast<int>(slices);
    o.repeats = static_cast<int>(repeats);
    o.sparse = sparseOptions;
    auto row = models::benchmarkPhantom(segmenter, o);
    if (!row.ok()) return fail(row.error());
    std::printf(
        "%-6s %5.2f %5.2f %6.2f | %9.1f %9.1f %6.2fx | %5.1f%% | %6.3f %6.3f | %5.1f%% %5.2fx\n",
        row->family.c_str(), row->targetOccupancy, row->bodyOccupancy, row->activeFraction,
        row->denseMsPerSlice, row->sparseMsPerSlice, row->speedup, 100 * row->flopFraction,
        row->denseDice, row->sparseDice, 100 * row->detectorShare, row->worstSliceRatio);
    json.beginObject().field("family", row->family).field("target_occupancy", row->targetOccupancy);
    json.field("body_occupancy", row->bodyOccupancy)
        .field("active_block_fraction", row->activeFraction);
    json.field("slices", row->slices).field("dense_ms_per_slice", row->denseMsPerSlice);
    json.field("sparse_ms_per_slice", row->sparseMsPerSlice).field("speedup", row->speedup);
    json.field("flop_fraction", row->flopFraction).field("dense_mean_dice", row->denseDice);
    json.field("sparse_mean_dice", row->sparseDice).field("detector_share", row->detectorShare);
    json.field("worst_slice_ratio", row->worstSliceRatio);
    json.field("slices_slower_than_0_97_dense", row->slowerSliceShare);
    json.endObject();
  }
  json.endArray();
  std::printf(
      "\nocc: target body occupancy; body: measured; active: blocks the detector marks\n"
      "(see --dilation); FLOPs: sparse / dense; Dice: mean over labels present vs ground truth;\n"
      "detect: detector share of sparse slice time; worst: min over slices of dense/sparse.\n");

  const bool torchPeer = !p.has("no-torch"), openCvPeer = !p.has("no-opencv");
  if (torchPeer || openCvPeer) {
    models::PeerOptions peer;
    peer.modelPath = modelPath;
    peer.threads = static_cast<int>(threads);
    peer.repeats = static_cast<int>(peerRepeats);
    peer.workDir = workDir;
    const auto ours = models::benchmarkPeerSlice(segmenter, peer, sparseOptions);
    if (!ours.ok()) return fail(ours.error());
    std::printf(
        "\nPeers on one 512x512 torso phantom slice, dense, same weights, %lld threads, best of "
        "%lld runs\n(ratio: the peer's time over Tessera's, dense | sparse; logits: max relative "
        "difference to Tessera dense):\n",
        threads, peerRepeats);
    std::printf("  %-50s %8.1f ms\n", "Tessera dense", ours->denseBestMs);
    std::printf("  %-50s %8.1f ms   %.0f %% of blocks computed\n", "Tessera sparse",
                ours->sparseBestMs, 100 * ours->activeFraction);
    json.key("peer_slice").beginObject().field("dense_ms", ours->denseBestMs);
    json.field("sparse_ms", ours->sparseBestMs)
        .field("active_block_fraction", ours->activeFraction);
    json.field("repeats", static_cast<std::int64_t>(peerRepeats)).endObject();
    // logits: what was compared with Tessera's for this row, already formatted.
    const auto row = [&](const std::string& name, double ms, const std::string& logits) {
      std::printf("  %-50s %8.1f ms   %5.2fx | %5.2fx   logits %s\n", name.c_str(), ms,
                  ms / std::max(1e-9, ours->denseBestMs), ms / std::max(1e-9, ours->sparseBestMs),
                  logits.c_str());
    };
    const auto difference = [](double d) {
      char text[32];
      std::snprintf(text, sizeof text, "%.2g", d);
      return std::string(text);
    };
    if (torchPeer) {
      peer.script = std::string(TESSERA_SOURCE_DIR) + "/tools/torch/bench_torch.py";
      const auto t = models::benchmarkTorch(**model, peer);
      json.key("pytorch").beginObject().field("ran", t.ok());
      if (t.ok()) {
        // The peer writes its eager logits; the jit ones are not compared.
        row("PyTorch " + t->version + " jit+freeze+optimize (" + t->allocator + ")", t->jitBestMs,
            "not compared");
        row("PyTorch " + t->version + " eager (" + t->allocator + ")", t->eagerBestMs,
            difference(t->maxRelativeLogitDifference));
        json.field("version", t->version).field("allocator", t->allocator);
        json.field("jit_ms_per_slice", t->jitBestMs).field("jit_median_ms", t->jitMs);
        json.field("eager_ms_per_slice", t->eagerBestMs).field("eager_median_ms", t->eagerMs);
        json.field("max_relative_logit_difference", t->maxRelativeLogitDifference);
      } else {
        std::printf("  PyTorch skipped: %s\n", t.error().toString().c_str());
        json.field("reason", t.error().toString());
      }
      json.endObject();
    }
    if (openCvPeer) {
      peer.script = std::string(TESSERA_SOURCE_DIR) + "/tools/opencv/bench_opencv_dnn.py";
      const auto c = models::benchmarkOpenCv(**model, peer);
      json.key("opencv_dnn").beginObject().field("ran", c.ok());
      if (c.ok()) {
        row("OpenCV " + c->version + " DNN", c->bestMs, difference(c->maxRelativeLogitDifference));
        json.field("version", c->version).field("ms_per_slice", c->bestMs);
        json.field("median_ms", c->medianMs);
        json.field("max_relative_logit_difference", c->maxRelativeLogitDifference);
      } else {
        std::printf("  OpenCV DNN skipped: %s\n", c.error().toString().c_str());
        json.field("reason", c.error().toString());
      }
      json.endObject();
    }
  }

  if (e2e > 0) {
    auto r =
        models::benchmarkEndToEnd(segmenter, workDir, static_cast<int>(e2e), 9003, sparseOptions);
    if (!r.ok()) return fail(r.error());
    std::printf(
        "\nEnd to end, 512x512x%lld torso (sparse): read %.2f s, segment %.2f s, write "
        "%.2f s, total %.2f s; %.1f %% of blocks computed; peak resident %.0f MB\n",
        static_cast<long long>(r->slices), r->readSeconds, r->segmentSeconds, r->writeSeconds,
        r->totalSeconds, 100 * r->meanActiveFraction, r->peakResidentBytes / 1048576.0);
    json.key("end_to_end").beginObject().field("slices", r->slices);
    json.field("read_s", r->readSeconds).field("segment_s", r->segmentSeconds);
    json.field("write_s", r->writeSeconds).field("total_s", r->totalSeconds);
    json.field("active_block_fraction", r->meanActiveFraction);
    json.field("peak_resident_mb", r->peakResidentBytes / 1048576.0).endObject();
  }
  json.endObject();
  if (p.has("json")) {
    if (Status s = writeTextFileAtomic(p.get("json"), json.str() + "\n"); !s.ok()) return fail(s);
  }
  return kExitOk;
}

}  // namespace tessera::cli
