// The batch manifest: the content hash (published XXH64 vectors, the
// streaming interface), entry round trips, resume semantics (latest
// entry wins, a torn last line is ignored) and the reasons a finished case
// is redone.
#include "models/pipeline/manifest.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/files.h"
#include "tests/support/temp_dir.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

void writeFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string randomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Hash64, EmptyInputIsTheSpecificationValue) {
  // XXH64 of no bytes with seed 0, as given in the xxHash specification.
  EXPECT_EQ(hash64(""), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(hashHex(0xEF46DB3751D8E999ull), "ef46db3751d8e999");
  EXPECT_EQ(hashHex(0x1ull), "0000000000000001");
}

TEST(Hash64, MatchesTheSystemXxhashLibrary) {
  void* lib = ::dlopen("libxxhash.so.0", RTLD_NOW);
  if (!lib) GTEST_SKIP() << "libxxhash.so.0 is not installed (Debian libxxhash0)";
  using Xxh64 = unsigned long long (*)(const void*, std::size_t, unsigned long long);
  auto reference = reinterpret_cast<Xxh64>(::dlsym(lib, "XXH64"));
  ASSERT_NE(reference, nullptr);
  // Every tail length (0..31 bytes after the 32-byte stripes) and a long input.
  const std::string data = randomBytes(1 << 20, 3);
  for (std::size_t n = 0; n < 200; ++n)
    ASSERT_EQ(hash64(std::string_view(data.data(), n)), reference(data.data(), n, 0)) << n;
  EXPECT_EQ(hash64(data), reference(data.data(), data.size(), 0));
  ::dlclose(lib);
}

TEST(Hash64, StreamingInPiecesEqualsOneCall) {
  const std::string data = randomBytes(10007, 5);
  std::mt19937 rng(9);
  Hash64 h;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::size_t n = std::min<std::size_t>(rng() % 70, data.size() - at);
    h.update(data.data() + at, n);
    at += n;
  }
  EXPECT_EQ(h.digest(), hash64(data));
  EXPECT_NE(hash64(data), hash64(data.substr(1)));
}

TEST(Hash64, PublishedVectors) {
  // XXH64 with seed 0 from the xxHash documentation and python-xxhash's;
  // the last two are longer than one 32-byte stripe (lanes, then a tail).
  const std::pair<const char*, std::uint64_t> vectors[] = {
      {"", 0xEF46DB3751D8E999ull},
      {"a", 0xD24EC4F1A98C6E5Bull},
      {"abc", 0x44BC2CF5AD770999ull},
      {"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1ull},
      {"The quick brown fox jumps over the lazy dog", 0x0B242D361FDA71BCull},
  };
  for (const auto& [text, expected] : vectors) {
    EXPECT_EQ(hashHex(hash64(text)), hashHex(expected)) << '"' << text << '"';
    Hash64 bytewise;
    for (const char* c = text; *c; ++c) bytewise.update(c, 1);
    EXPECT_EQ(bytewise.digest(), expected) << '"' << text << "\" one byte at a time";
  }
}

TEST(Hash64, StreamingSplitsAtEveryChunkBoundary) {
  // Two pieces split at every offset of 0..130 bytes: buffered tails, full
  // 32-byte stripes and a stripe completed across the split.
  const std::string data = randomBytes(130, 11);
  const std::uint64_t whole = hash64(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    Hash64 h;
    h.update(data.data(), split);
    h.update(data.data() + split, data.size() - split);
    ASSERT_EQ(h.digest(), whole) << "split at " << split;
  }
  Hash64 empty;
  empty.update(nullptr, 0);
  EXPECT_EQ(empty.digest(), hash64(""));
}

TEST(Hash64, CopiesContinueIndependently) {
  const std::string data = randomBytes(100, 12);
  Hash64 a;
  a.update(data.data(), 45);  // one stripe and a buffered tail
  Hash64 b = a;
  a.update(data.data() + 45, 55);
  b.update("x", 1);
  EXPECT_EQ(a.digest(), hash64(data));
  EXPECT_EQ(b.digest(), hash64(data.substr(0, 45) + "x"));
  EXPECT_EQ(a.digest(), hash64(data)) << "digest() leaves the state as it was";
}

TEST(Hash64, FileHashIsTheHashOfItsBytes) {
  TempDir dir;
  const std::string bytes = randomBytes(3 << 20 | 17, 8);  // spans several read chunks
  writeFile(dir / "f.bin", bytes);
  auto h = hashFile(dir / "f.bin");
  ASSERT_TRUE(h.ok()) << h.error().toString();
  EXPECT_EQ(*h, hash64(bytes));
  EXPECT_EQ(hashFile(dir / "missing").error().code, StatusCode::kIoError);
}

TEST(InputIdentity, SeriesHashCoversNamesAndBytesInNameOrder) {
  TempDir dir;
  writeFile(dir / "s/a.dcm", "first");
  writeFile(dir / "s/b.dcm", "second");
  InputIdentity one, two, renamed;
  ASSERT_TRUE(hashInput(dir.path(), {dir / "s/a.dcm", dir / "s/b.dcm"}, &one).ok());
  ASSERT_TRUE(hashInput(dir.path(), {dir / "s/b.dcm", dir / "s/a.dcm"}, &two).ok());
  EXPECT_EQ(one.hash, two.hash);  // the order given does not matter
  fs::rename(dir / "s/b.dcm", dir / "s/c.dcm");
  ASSERT_TRUE(hashInput(dir.path(), {dir / "s/a.dcm", dir / "s/c.dcm"}, &renamed).ok());
  EXPECT_NE(one.hash, renamed.hash);

  auto stamp = stampInput({dir / "s/a.dcm", dir / "s/c.dcm"});
  ASSERT_TRUE(stamp.ok());
  EXPECT_EQ(stamp->size, 5 + 6);
  EXPECT_EQ(stamp->files, 2);
  EXPECT_GT(stamp->mtimeNs, 0);
}

ManifestEntry sampleEntry(const std::string& name) {
  ManifestEntry e;
  e.caseName = name;
  e.input = "sub/" + name + ".nii.gz";
  e.inputIdentity = {12345, 1732800000123456789ll, 1, "0123456789abcdef"};
  e.modelHash = "fedcba9876543210";
  e.options = "mode=sparse meshes=none version=1";
  e.outputs = {{"labels.nii.gz", 999, "00000000000000aa"}, {"report.json", 10, "bb00000000000000"}};
  return e;
}

TEST(Manifest, LineRoundTripKeepsNanosecondTimes) {
  const ManifestEntry e = sampleEntry("case \"one\"");
  const std::string line = manifestLine(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = parseManifestLine(line);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_EQ(back->caseName, e.caseName);
  EXPECT_EQ(back->input, e.input);
  EXPECT_EQ(back->inputIdentity.mtimeNs, 1732800000123456789ll);  // beyond 2^53
  EXPECT_EQ(back->inputIdentity.size, 12345);
  EXPECT_EQ(back->inputIdentity.hash, e.inputIdentity.hash);
  EXPECT_EQ(back->modelHash, e.modelHash);
  EXPECT_EQ(back->options, e.options);
  ASSERT_EQ(back->outputs.size(), 2u);
  EXPECT_EQ(back->outputs[1].file, "report.json");
  EXPECT_EQ(back->outputs[0].size, 999);
  EXPECT_FALSE(parseManifestLine("{\"case\":\"x\"}").ok());
  EXPECT_FALSE(parseManifestLine("{\"case\":\"x\",\"inp").ok());
}

TEST(Manifest, ResumeKeepsTheLatestEntryAndIgnoresATornLine) {
  TempDir dir;
  const std::string path = dir / kManifestFile;
  ManifestEntry a = sampleEntry("a"), b = sampleEntry("b"), a2 = sampleEntry("a");
  a2.modelHash = "1111111111111111";
  writeFile(path, manifestLine(a) + "\n" + manifestLine(b) + "\n" + manifestLine(a2) + "\n" +
                      manifestLine(sampleEntry("c")).substr(0, 40));
  auto m = Manifest::open(path, true);
  ASSERT_TRUE(m.ok()) << m.error().toString();
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(m->skippedLines(), 1);
  ASSERT_NE(m->find("a"), nullptr);
  EXPECT_EQ(m->find("a")->modelHash, "1111111111111111");
  EXPECT_EQ(m->find("c"), nullptr);
  // Compacted on open: one line per case, the torn line gone.
  auto text = readTextFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 2);

  ASSERT_TRUE(m->append(sampleEntry("c")).ok());
  auto again = Manifest::open(path, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 3u);
  EXPECT_EQ(again->skippedLines(), 0);

  auto fresh = Manifest::open(path, false);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->size(), 0u);
  EXPECT_EQ(readTextFile(path).value(), "");
}

class StaleReason : public ::testing::Test {
 protected:
  void SetUp() override {
    writeFile(dir / "in/ct.nii.gz", "voxels");
    writeFile(dir / "out/case/labels.nii.gz", "labels");
    writeFile(dir / "out/case/report.json", "{}");
    recorded.caseName = "case";
    recorded.input = "ct.nii.gz";
    recorded.inputIdentity = *stampInput({dir / "in/ct.nii.gz"});
    ASSERT_TRUE(hashInput(dir / "in", {dir / "in/ct.nii.gz"}, &recorded.inputIdentity).ok());
    recorded.modelHash = "m";
    recorded.options = "mode=sparse";
    recorded.outputs = *recordOutputs(dir / "out/case", {"labels.nii.gz", "report.json"});
  }
  // What the batch knows before reading content: the stamp, no hash.
  ManifestEntry current() {
    ManifestEntry w = recorded;
    w.inputIdentity = *stampInput({dir / "in/ct.nii.gz"});
    return w;
  }
  std::string reason(const ManifestEntry& wanted) {
    return staleReason(recorded, wanted, dir / "out/case");
  }
  TempDir dir;
  ManifestEntry recorded;
};

TEST_F(StaleReason, NothingChanged) {
  EXPECT_EQ(reason(current()), "");
}

TEST_F(StaleReason, ModelOrOptionsChanged) {
  ManifestEntry w = current();
  w.modelHash = "other";
  EXPECT_EQ(reason(w), "the model changed");
  w = current();
  w.options = "mode=dense";
  EXPECT_NE(reason(w).find("options changed"), std::string::npos);
}

TEST_F(StaleReason, AnOutputDamagedOrMissing) {
  writeFile(dir / "out/case/labels.nii.gz", "lab3ls");  // same size, other bytes
  EXPECT_EQ(reason(current()), "output labels.nii.gz changed");
  fs::remove(dir / "out/case/report.json");
  writeFile(dir / "out/case/labels.nii.gz", "labels");
  EXPECT_EQ(reason(current()), "output report.json is missing");
}

TEST_F(StaleReason, InputTouchedButSameContentIsStillFinished) {
  const std::string input = dir / "in/ct.nii.gz";
  struct utimbuf times {
    1000000000, 1000000000
  };
  ASSERT_EQ(::utime(input.c_str(), &times), 0);
  ManifestEntry w = current();
  EXPECT_FALSE(sameStamp(recorded.inputIdentity, w.inputIdentity));
  EXPECT_EQ(reason(w), "the input changed");  // without its hash it cannot tell
  ASSERT_TRUE(hashInput(dir / "in", {input}, &w.inputIdentity).ok());
  EXPECT_EQ(reason(w), "");

  writeFile(input, "VOXELS");  // same size, new content
  w = current();
  ASSERT_TRUE(hashInput(dir / "in", {input}, &w.inputIdentity).ok());
  EXPECT_EQ(reason(w), "the input changed");
}

}  // namespace
}  // namespace tessera::models
