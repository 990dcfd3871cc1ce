// The header-only C++ wrapper (tessera/tessera.hpp) over libtessera, from a
// program that sees nothing but the installed headers: errors as
// tessera::sdk::Error with the C status, a progress callback that cancels or
// throws, and training options refused by name.
//
//   tessera_cpp_wrapper_test CT.nii.gz CLI_SPARSE.nii SCRATCH_DIR
#include <tessera/tessera.hpp>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const char* what, int line) {
  if (!ok) {
    std::fprintf(stderr, "cpp_wrapper_test.cpp:%d: CHECK failed: %s\n", line, what);
    ++failures;
  }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

// Runs f, which must throw tessera::sdk::Error with `status`.
template <class F>
void expectError(F&& f, tessera_status status, const char* mentions, int line) {
  try {
    f();
    check(false, "no tessera::sdk::Error was thrown", line);
  } catch (const tessera::sdk::Error& e) {
    check(e.status() == status, tessera_status_name(e.status()), line);
    check(std::strstr(e.what(), mentions) != nullptr, e.what(), line);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CT CLI_SPARSE SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  try {
    tessera::sdk::checkAbi();
    tessera::sdk::Model model = tessera::sdk::Model::load();
    CHECK(model.labels().size() == 10);
    const tessera::sdk::Volume ct = tessera::sdk::Volume::read(argv[1]);
    const tessera::sdk::Volume expected = tessera::sdk::Volume::read(argv[2]);

    int reports = 0;
    tessera::sdk::SegmentOptions options;
    options.progress = [&](double, double, const std::string&) { return ++reports > 0; };
    const tessera::sdk::Segmentation result = model.segment(ct.image(), options);
    CHECK(reports >= 2);
    const tessera_image want = expected.image();
    const tessera_geometry g = result.geometry();
    const std::int64_t n = g.size[0] * g.size[1] * g.size[2];
    bool same = true;
    for (std::int64_t i = 0; i < n; ++i)
      same = same && result.labels()[i] == static_cast<const std::int16_t*>(want.data)[i];
    CHECK(same);
    CHECK(result.stats().slices == g.size[2]);
    CHECK(!result.labelStats().empty());

    options.progress = [](double, double, const std::string&) { return false; };
    expectError([&] { model.segment(ct.image(), options); }, TESSERA_CANCELLED, "cancel", __LINE__);
    // The caller's own exception comes back as itself, after the call.
    options.progress = [](double, double, const std::string&) -> bool {
      throw std::logic_error("from the callback");
    };
    bool rethrown = false;
    try {
      model.segment(ct.image(), options);
    } catch (const std::logic_error& e) {
      rethrown = std::string(e.what()) == "from the callback";
    }
    CHECK(rethrown);

    expectError([] { tessera::sdk::Model::load("/nonexistent/m.onnx"); }, TESSERA_NOT_FOUND,
                "/nonexistent/m.onnx", __LINE__);
    tessera_image flat = ct.image();
    flat.geometry.size[2] = 0;
    expectError([&] { model.segment(flat); }, TESSERA_INVALID_ARGUMENT, "empty dimension",
                __LINE__);
    const std::string out = std::string(argv[3]) + "/cpp_train";
    expectError(
        [&] {
          tessera::sdk::train({{"out", out}, {"stepz", "2"}});
        },
        TESSERA_INVALID_ARGUMENT, "known:", __LINE__);
    expectError(
        [&] {
          tessera::sdk::train({{"out", out}, {"crop", "40"}});
        },
        TESSERA_INVALID_ARGUMENT, "--crop", __LINE__);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    return 1;
  }
  if (failures) std::fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
