// Cost of the block density detector per 512×512 slice on torso phantoms,
// and the fraction of blocks it activates next to the body occupancy.
//
//   tessera_bench_detector [--occupancy F] [--slices N] [--rounds R] [--seed S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/blocks.h"
#include "core/parallel.h"
#include "imaging/phantom/phantom.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double medianMicroseconds(int rounds, int slices, F&& perSlice) {
  std::vector<double> times;
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < slices; ++k) {
      const auto t0 = Clock::now();
      perSlice(k);
      times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  double occupancy = 0.55;
  int slices = 48, rounds = 40;
  unsigned long long seed = 2024;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--occupancy")
      occupancy = std::atof(argv[i + 1]);
    else if (arg == "--slices")
      slices = std::atoi(argv[i + 1]);
    else if (arg == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (arg == "--seed")
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--occupancy F] [--slices N] [--rounds R] [--seed S]\n",
                   argv[0]);
      return 2;
    }
  }
  tessera::imaging::PhantomOptions options;
  options.seed = seed;
  options.slices = slices;
  options.occupancy = occupancy;
  auto phantom = tessera::imaging::generatePhantom(options);
  if (!phantom.ok()) {
    std::fprintf(stderr, "phantom: %s\n", phantom.error().toString().c_str());
    return 1;
  }
  const tessera::Volume& ct = phantom->ct;
  const int w = static_cast<int>(ct.nx()), h = static_cast<int>(ct.ny());
  tessera::setNumThreads(1);  // the detector runs inside a per-slice loop

  tessera::DetectorOptions plain;
  plain.dilation = 0;
  plain.fillHoles = false;
  tessera::DetectorOptions defaults;
  std::vector<tessera::BlockFeatures> features;
  double sink = 0;
  const double tPlain = medianMicroseconds(rounds, slices, [&](int k) {
    sink += tessera::detectBlocks(ct.slice(k), w, h, plain).count();
  });
  const double tDefault = medianMicroseconds(rounds, slices, [&](int k) {
    sink += tessera::detectBlocks(ct.slice(k), w, h, defaults).count();
  });
  const double tFeatures = medianMicroseconds(rounds, slices, [&](int k) {
    sink += tessera::detectBlocks(ct.slice(k), w, h, defaults, &features).count();
  });
  const double t25 = medianMicroseconds(rounds, slices, [&](int k) {
    const std::int16_t* s[3] = {ct.slice(std::max(k - 1, 0)), ct.slice(k),
                                ct.slice(std::min(k + 1, slices - 1))};
    sink += tessera::detectBlocks(s, w, h, defaults).count();
  });
  // A plain pass over the slice's bytes, as a memory-bandwidth yardstick.
  const double tSum = medianMicroseconds(rounds, slices, [&](int k) {
    long long s = 0;
    const std::int16_t* p = ct.slice(k);
    for (int i = 0; i < w * h; ++i) s += p[i];
    sink += static_cast<double>(s);
  });

  double active0 = 0, active1 = 0;
  for (int k = 0; k < slices; ++k) {
    active0 += tessera::detectBlocks(ct.slice(k), w, h, plain).activeFraction();
    active1 += tessera::detectBlocks(ct.slice(k), w, h, defaults).activeFraction();
  }
  std::printf("torso phantom seed %llu: %d slices of %dx%d, body occupancy %.3f (16x16 blocks)\n",
              seed, slices, w, h, phantom->info.measuredOccupancy);
  std::printf("detector per slice, median of %d x %d runs, 1 thread:\n", rounds, slices);
  std::printf("  thresholds only               %8.1f us   active %.3f\n", tPlain, active0 / slices);
  std::printf("  defaults (holes, dilation 1)  %8.1f us   active %.3f\n", tDefault,
              active1 / slices);
  std::printf("  defaults + features           %8.1f us\n", tFeatures);
  std::printf("  2.5D (3 slices)               %8.1f us\n", t25);
  std::printf("  plain sum of the slice        %8.1f us   (detector / sum: %.1fx)\n", tSum,
              tDefault / tSum);
  return sink == 0.12345 ? 1 : 0;
}
