// Test helper for the shell-driven batch tests (Slurm): writes a small
// phantom cohort and a small random-weight model file.
//   tessera_test_cohort OUT_DIR [CASES] [CORRUPT]
// writes OUT_DIR/in/case_NN.nii.gz (CASES phantoms, the last CORRUPT of
// them truncated) and OUT_DIR/model.onnx.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/batch_fixture.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR [CASES] [CORRUPT]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const int cases = argc > 2 ? std::atoi(argv[2]) : 6;
  const int corrupt = argc > 3 ? std::atoi(argv[3]) : 0;
  std::filesystem::create_directories(out / "in");
  tessera::Status s = tessera::testing::writeBatchTestModel((out / "model.onnx").string());
  for (int i = 0; i < cases && s.ok(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "case_%02d.nii.gz", i);
    const std::string path = (out / "in" / name).string();
    s = i >= cases - corrupt ? tessera::testing::writeTruncatedNifti(path, i)
                             : tessera::testing::writePhantomCt(path, i);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.toString().c_str());
    return 1;
  }
  return 0;
}
