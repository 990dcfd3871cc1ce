// Which instruction set the inference kernels run on. Tessera is built for
// the baseline x86-64 ISA (TESSERA_NATIVE is off), so that one binary runs
// on every node of a cluster; the hot kernels (models/infer/kernels/) are
// compiled three times, for AVX-512, AVX2 + FMA and generic x86-64, into
// one library, and the widest path the CPU supports is chosen once per
// process. TESSERA_ISA=avx512|avx2|generic forces a path (docs/ENGINE.md).
#pragma once

#include "core/status.h"

namespace tessera::models::infer {

enum class KernelIsa { kGeneric, kAvx2, kAvx512 };

// "generic", "avx2", "avx512".
const char* kernelIsaName(KernelIsa isa);
// Whether this CPU (and the OS, for the wider registers) can run the path.
bool cpuSupports(KernelIsa isa);
// The path for a TESSERA_ISA value: null or empty picks the widest path the
// CPU supports; a name picks that path, an error if the name is unknown
// (kInvalidArgument) or the CPU lacks it (kUnsupported).
Result<KernelIsa> chooseKernelIsa(const char* forced);
// The path of this process: chooseKernelIsa(getenv("TESSERA_ISA")), decided
// on the first call. InferenceEngine::create returns its error.
Result<KernelIsa> kernelIsa();

}  // namespace tessera::models::infer
