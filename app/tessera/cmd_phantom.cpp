// tessera phantom OUT_DIR: synthetic CT cases with ground-truth labels.
#include <cstdio>
#include <filesystem>
#include <limits>
#include <system_error>

#include "app/cli/console_progress.h"
#include "app/tessera/commands.h"
#include "core/files.h"
#include "imaging/figures/slice_png.h"
#include "imaging/phantom/phantom.h"

namespace tessera::cli {

int runPhantom(const Args& args) {
  ArgParser parser("phantom",
                   "Generates synthetic CT phantoms (HU) with ground-truth labels, one folder per "
                   "case:\nOUT_DIR/case_NNNN/ct.nii.gz, labels.nii.gz and phantom.json. The same "
                   "arguments always\nwrite the same bytes.");
  parser.positional("OUT_DIR", "output directory (created when missing; its parent must exist)");
  parser.option("-n,--cases", "N", "number of cases", "1");
  parser.option("-s,--seed", "S", "random seed; case i of seed S is always the same patient", "1");
  parser.option("--first-case", "I", "index of the first case (for splitting work)", "0");
  parser.option("-z,--slices", "Z",
                "slices per case spanning the whole family (0: about 2.5 mm torso, 2 mm head)",
                "0");
  parser.option("--spacing", "MM",
                "slice spacing; with --slices, a slab of that many slices instead of the whole "
                "family (0: span the whole family)",
                "0");
  parser.option("--z-center", "F",
                "centre of the slab along the body, 0 (inferior end) to 1 (superior end)", "0.5");
  parser.option("-f,--family", "F", "torso or head", "torso");
  parser.option("--occupancy", "F",
                "fraction of 16x16 blocks holding body, 0.2-0.85 (0: drawn per case, torso "
                "0.35-0.72, head 0.3-0.5)",
                "0");
  parser.option("--matrix", "N", "in-plane size in pixels", "512");
  parser.option("--noise", "HU",
                "standard deviation of the image noise, up to 100 (0: drawn per case, 10-20)", "0");
  parser.option("--thickness", "MM",
                "reconstructed slice thickness, 0.5-10, independent of the spacing: each slice "
                "averages the anatomy over it (0: a plane)",
                "0");
  parser.option("--kernel", "K",
                "reconstruction kernel, the texture of the noise: standard, soft (correlated) or "
                "sharp (fine grain)",
                "standard");
  parser.option("--phase", "P",
                "intravenous contrast of torso cases: none, arterial or portal (venous)", "none");
  parser.option("--cupping", "HU",
                "beam hardening: HU taken from the body's centre, 0 at its outline (0-60)", "0");
  parser.option("--rings", "HU", "ring artefacts around the isocentre, up to this many HU (0-30)",
                "0");
  parser.option("--off-centre", "MM",
                "the patient this far from the isocentre, direction drawn per case; the field of "
                "view cuts what lies beyond its edge (0-150)",
                "0");
  parser.option("--habitus", "H",
                "body size of torso cases: adult (290-390 mm wide), child (170-240 mm) or large "
                "(390-460 mm, more fat)",
                "adult");
  parser.option("--arms", "A",
                "torso cases: up (raised, out of the field of view) or down (beside the body)",
                "up");
  parser.option("--table", "T",
                "torso cases: curved (carbon shell), flat (radiotherapy top) or padded (curved, "
                "under a foam mattress)",
                "curved");
  parser.option("--metal", "M",
                "metal implants with their streaks: none, hip (prosthesis, one side or both), "
                "spine (lumbar pedicle screws and rods) or dental (fillings; head cases)",
                "none");
  parser.flag("--head-detail", "head cases: the upper dental arch and intracranial calcifications");
  parser.option("--variety", "V",
                "classic (the options as given) or realistic (every variation left at its default "
                "is drawn per case: noise, kernel, contrast phase, thickness, cupping, rings, "
                "position, habitus, arms, table, metal, head detail)",
                "classic");
  parser.option("--preview", "PNG",
                "also write a picture of the first case's representative slice (window 40/400, "
                "label overlay)");
  parser.epilog(
      "Example: tessera phantom out --cases 2 --seed 7\n"
      "Torso cases run from the pubic symphysis to the lung apices; head cases from the hard\n"
      "palate to the vertex. Labels: background, soft_tissue, fat, bone, lung, liver, spleen,\n"
      "kidney, brain, internal_air; the patient table is background.");
  int exitCode = kExitOk;
  if (!parseOrExit(parser, args, &exitCode)) return exitCode;

  long long cases = 0, seed = 0, first = 0, slices = 0, matrix = 0;
  double occupancy = 0, spacing = 0, zCenter = 0.5, noise = 0, thickness = 0, cupping = 0,
         rings = 0, offCentre = 0;
  auto usage = [&]() {
    std::fprintf(stderr, "tessera: error: %s\n(see --help)\n", parser.error().c_str());
    return kExitUsage;
  };
  if (!parser.getInt("cases", &cases, 1, 100000)) return usage();
  if (!parser.getInt("seed", &seed, 0, std::numeric_limits<long long>::max())) return usage();
  if (!parser.getInt("first-case", &first, 0, 1000000)) return usage();
  if (!parser.getInt("slices", &slices, 0, 4096)) return usage();
  if (!parser.getInt("matrix", &matrix, 64, 1024)) return usage();
  if (!parser.getDouble("occupancy", &occupancy) || !parser.getDouble("noise", &noise))
    return usage();
  if (!parser.getDouble("spacing", &spacing) || !parser.getDouble("z-center", &zCenter) ||
      !parser.getDouble("thickness", &thickness) || !parser.getDouble("cupping", &cupping) ||
      !parser.getDouble("rings", &rings) || !parser.getDouble("off-centre", &offCentre))
    return usage();
  auto family = imaging::parsePhantomFamily(parser.get("family"));
  if (!family.ok()) {
    std::fprintf(stderr, "tessera: error: %s\n(see --help)\n", family.error().message.c_str());
    return kExitUsage;
  }
  auto kernel = imaging::parsePhantomKernel(parser.get("kernel"));
  auto phase = imaging::parseContrastPhase(parser.get("phase"));
  auto variety = imaging::parsePhantomVariety(parser.get("variety"));
  auto habitus = imaging::parsePhantomHabitus(parser.get("habitus"));
  auto table = imaging::parsePhantomTable(parser.get("table"));
  auto metal = imaging::parsePhantomMetal(parser.get("metal"));
  if (!kernel.ok() || !phase.ok() || !variety.ok() || !habitus.ok() || !table.ok() || !metal.ok()) {
    const Error& e = !kernel.ok()    ? kernel.error()
                     : !phase.ok()   ? phase.error()
                     : !variety.ok() ? variety.error()
                     : !habitus.ok() ? habitus.error()
                     : !table.ok()   ? table.error()
                                     : metal.error();
    std::fprintf(stderr, "tessera: error: %s\n(see --help)\n", e.message.c_str());
    return kExitUsage;
  }
  imaging::PhantomOptions options;
  options.family = *family;
  options.sliceThicknessMm = thickness;
  options.kernel = *kernel;
  options.phase = *phase;
  options.cuppingHu = cupping;
  options.ringsHu = rings;
  options.offCentreMm = offCentre;
  options.variety = *variety;
  options.habitus = *habitus;
  options.table = *table;
  options.metal = *metal;
  options.headDetail = parser.has("head-detail");
  const std::string arms = parser.get("arms");
  if (arms != "up" && arms != "down") {
    std::fprintf(stderr, "tessera: error: --arms is up or down, not '%s'\n(see --help)\n",
                 arms.c_str());
    return kExitUsage;
  }
  options.armsDown = arms == "down";
  options.seed = static_cast<std::uint64_t>(seed);
  options.slices = static_cast<int>(slices);
  options.matrix = static_cast<int>(matrix);
  options.occupancy = occupancy;
  options.noiseHu = noise;
  options.sliceSpacingMm = spacing;
  options.zCenter = zCenter;
  if (Status valid = imaging::validatePhantomOptions(options); !valid.ok()) {
    std::fprintf(stderr, "tessera: error: %s\n(see --help)\n", valid.error().message.c_str());
    return kExitUsage;
  }

  const std::string outDir = parser.get("OUT_DIR");
  if (!isDirectory(outDir)) {
    std::error_code ec;
    std::filesystem::create_directory(outDir, ec);
    if (ec)
      return fail(Error{StatusCode::kIoError, "cannot create the output directory: " + ec.message(),
                        outDir});
  }
  if (Status writable = checkOutputPath((std::filesystem::path(outDir) / "probe").string());
      !writable.ok())
    return fail(writable);
  const std::string preview = parser.get("preview");
  if (!preview.empty()) {
    if (fullExtension(preview) != ".png") {
      std::fprintf(stderr, "tessera: error: --preview needs a .png path\n(see --help)\n");
      return kExitUsage;
    }
    if (Status ok = checkOutputPath(preview); !ok.ok()) return fail(ok);
  }

  ConsoleProgress progress("phantom");
  for (long long i = 0; i < cases; ++i) {
    const double begin = static_cast<double>(i) / cases, end = static_cast<double>(i + 1) / cases;
    SubProgress generation(&progress, begin, begin + 0.7 * (end - begin));
    options.caseIndex = static_cast<int>(first + i);
    options.progress = &generation;
    auto phantom = imaging::generatePhantom(options);
    if (!phantom.ok()) {
      progress.finish();
      return fail(phantom.error());
    }
    ProgressUpdate writing;
    writing.fraction = begin + 0.7 * (end - begin);
    writing.message = "writing " + imaging::phantomCaseName(options.caseIndex);
    progress.update(writing);
    auto dir = imaging::writePhantomCase(outDir, *phantom);
    if (!dir.ok()) {
      progress.finish();
      return fail(dir.error());
    }
    if (i == 0 && !preview.empty()) {
      if (Status ok = imaging::writeSlicePng(phantom->ct, &phantom->labels,
                                             phantom->info.representativeSlice, preview);
          !ok.ok()) {
        progress.finish();
        return fail(ok);
      }
    }
    const imaging::PhantomInfo& info = phantom->info;
    progress.finish();
    std::printf("%s: %s, %d slices of %dx%d, FOV %.0f mm, slice spacing %.2f mm, occupancy %.2f\n",
                dir->c_str(), imaging::phantomFamilyName(info.family), info.slices, info.matrix,
                info.matrix, info.fovMm, info.sliceSpacingMm, info.measuredOccupancy);
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace tessera::cli
