#include "models/infer/internal/kernels.h"
#include "models/infer/internal/vec.h"

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

void maxPool2x2Rows(const FeatureMap& in, FeatureMap& out, RowRun run) {
  for (int cb = 0; cb < out.channelBlocks(); ++cb) {
    const float* top = in.pixel(cb, 2 * run.y, 2 * run.x0);
    const float* bottom = in.pixel(cb, 2 * run.y + 1, 2 * run.x0);
    float* dst = out.pixel(cb, run.y, run.x0);
    for (int p = 0; p < run.length; ++p) {
      const Vec16 a = max16(load16(top + 32 * p), load16(top + 32 * p + 16));
      const Vec16 b = max16(load16(bottom + 32 * p), load16(bottom + 32 * p + 16));
      store16(dst + 16 * p, max16(a, b));
    }
  }
}

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
