// tessera pacs echo|find|get|send --peer AET@HOST:PORT [--aet NAME] | --dicomweb URL ...
#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "core/json.h"
#include "imaging/pacs/dicomweb.h"
#include "imaging/pacs/pacs.h"

namespace tessera::cli {
namespace {
using imaging::PacsPeer;

// The PACS, over DIMSE (--peer) or DICOMweb (--dicomweb).
struct Target {
  bool web = false;
  PacsPeer peer;
  imaging::DicomWebServer server;
  std::string name;  // as given, for messages
};

void addPeerOptions(ArgParser& p) {
  p.option("--peer", "AET@HOST:PORT", "the PACS: its AE title, host and DICOM port");
  p.option("--dicomweb", "URL",
           "instead of --peer: the PACS's DICOMweb root (QIDO-RS, WADO-RS, STOW-RS), e.g. "
           "http://pacs:8042/dicom-web");
  p.option("--aet", "NAME", "Tessera's own AE title, as the PACS knows it", "TESSERA");
  p.option("--timeout", "SECONDS", "for connecting and for each answer", "30");
}

// Parses the peer options; false (with *exit set) on a usage error.
bool readPeer(ArgParser& p, Target* target, int* exit) {
  const auto usage = [&](const std::string& message) {
    std::fprintf(stderr, "tessera: error: %s\n", message.c_str());
    *exit = kExitUsage;
    return false;
  };
  if (p.has("peer") == p.has("dicomweb"))
    return usage("give the PACS with --peer AET@HOST:PORT or --dicomweb URL (one of them)");
  long long timeout = 30;
  if (!p.getInt("timeout", &timeout, 1, 3600)) return usage(p.error());
  if (p.has("dicomweb")) {
    auto server = imaging::parseDicomWebUrl(p.get("dicomweb"));
    if (!server.ok()) return usage(server.error().toString());
    target->web = true;
    target->server = *server;
    target->server.timeoutSeconds = static_cast<int>(timeout);
    target->name = target->server.url;
    return true;
  }
  auto parsed = imaging::parsePacsPeer(p.get("peer"));
  if (!parsed.ok()) return usage(parsed.error().toString());
  if (Status aet = imaging::validateAeTitle(p.get("aet"), "--aet"); !aet.ok())
    return usage(aet.toString());
  target->peer = *parsed;
  target->peer.callingAe = p.get("aet");
  target->peer.timeoutSeconds = static_cast<int>(timeout);
  target->name = p.get("peer");
  return true;
}

int runEcho(const Args& args) {
  ArgParser p("pacs echo", "Checks that a PACS answers (DICOM C-ECHO).");
  addPeerOptions(p);
  int exit = kExitOk;
  Target peer;
  if (!parseOrExit(p, args, &exit) || !readPeer(p, &peer, &exit)) return exit;
  auto ms = peer.web ? imaging::dicomWebEcho(peer.server) : imaging::pacsEcho(peer.peer);
  if (!ms.ok()) return fail(ms.error());
  std::printf("%s answered %s in %.0f ms\n", peer.name.c_str(),
              peer.web ? "a QIDO-RS query" : "C-ECHO", *ms);
  return kExitOk;
}

int runFind(const Args& args) {
  ArgParser p("pacs find", "Lists the studies, or the series of a study, a PACS holds (C-FIND).");
  addPeerOptions(p);
  p.option("--level", "LEVEL", "study or series (series needs --study-uid)", "study");
  p.option("--patient-id", "ID", "matching Patient ID (wildcards * and ? as the PACS allows)");
  p.option("--patient-name", "NAME", "matching Patient's Name, e.g. \"Doe^J*\"");
  p.option("--study-date", "DATE", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD");
  p.option("--accession", "NUMBER", "matching Accession Number");
  p.option("--study-uid", "UID", "the study (required at series level)");
  p.option("--modality", "MOD", "e.g. CT: series of that modality, studies that hold one");
  p.flag("--json", "print the matches as JSON");
  int exit = kExitOk;
  Target peer;
  if (!parseOrExit(p, args, &exit) || !readPeer(p, &peer, &exit)) return exit;
  imaging::PacsQuery q;
  const std::string level = p.get("level");
  if (level != "study" && level != "series") {
    std::fprintf(stderr, "tessera: error: --level must be study or series\n");
    return kExitUsage;
  }
  q.level = level == "series" ? imaging::QueryLevel::kSeries : imaging::QueryLevel::kStudy;
  if (q.level == imaging::QueryLevel::kSeries && !p.has("study-uid")) {
    std::fprintf(stderr, "tessera: error: --level series needs --study-uid\n");
    return kExitUsage;
  }
  q.patientId = p.get("patient-id");
  q.patientName = p.get("patient-name");
  q.studyDate = p.get("study-date");
  q.accessionNumber = p.get("accession");
  q.studyUid = p.get("study-uid");
  q.modality = p.get("modality");
  auto matches = peer.web ? imaging::dicomWebFind(peer.server, q) : imaging::pacsFind(peer.peer, q);
  if (!matches.ok()) return fail(matches.error());
  const bool series = q.level == imaging::QueryLevel::kSeries;
  if (p.has("json")) {
    JsonWriter w;
    w.beginArray();
    for (const imaging::PacsMatch& m : *matches) {
      w.beginObject();
      w.field("study_uid", m.studyUid);
      if (series) {
        w.field("series_uid", m.seriesUid).field("series_number", m.seriesNumber);
        w.field("modality", m.modality).field("series_description", m.seriesDescription);
      } else {
        w.field("patient_name", m.patientName).field("patient_id", m.patientId);
        w.field("study_date", m.studyDate).field("study_description", m.studyDescription);
        w.field("accession_number", m.accessionNumber);
        w.field("modalities", m.modalitiesInStudy);
      }
      if (m.instances >= 0) w.field("instances", m.instances);
      w.endObject();
    }
    w.endArray();
    std::printf("%s\n", w.str().c_str());
    return kExitOk;
  }
  for (const imaging::PacsMatch& m : *matches) {
    if (series)
      std::printf("%s  #%s %s \"%s\", %d instances\n", m.seriesUid.c_str(), m.seriesNumber.c_str(),
                  m.modality.c_str(), m.seriesDescription.c_str(), m.instances);
    else
      std::printf("%s  %s %s (%s) \"%s\" %s, %d instances\n", m.studyUid.c_str(),
                  m.studyDate.c_str(), m.patientName.c_str(), m.patientId.c_str(),
                  m.studyDescription.c_str(), m.modalitiesInStudy.c_str(), m.instances);
  }
  std::printf("%zu %s\n", matches->size(),
              series ? (matches->size() == 1 ? "series" : "series")
                     : (matches->size() == 1 ? "study" : "studies"));
  return kExitOk;
}

int runGet(const Args& args) {
  ArgParser p("pacs get", "Retrieves a study or one series from a PACS into a new folder (C-GET).");
  addPeerOptions(p);
  p.option("--study-uid", "UID", "the study to retrieve");
  p.option("--series-uid", "UID", "only this series of the study");
  p.option("-o,--output", "DIR", "new or empty folder for the instances (<SOP Instance UID>.dcm)");
  p.epilog(
      "The instances arrive on the same association (no port of Tessera's needs to be\n"
      "reachable from the PACS); the folder appears only when the retrieval is complete.");
  int exit = kExitOk;
  Target peer;
  if (!parseOrExit(p, args, &exit) || !readPeer(p, &peer, &exit)) return exit;
  if (!p.has("study-uid") || !p.has("output")) {
    std::fprintf(stderr, "tessera: error: pacs get needs --study-uid UID and -o DIR\n");
    return kExitUsage;
  }
  ConsoleProgress progress("retrieve");
  auto result = peer.web
                    ? imaging::dicomWebGet(peer.server, p.get("study-uid"), p.get("series-uid"),
                                           p.get("output"), &progress, &interruptToken())
                    : imaging::pacsGet(peer.peer, p.get("study-uid"), p.get("series-uid"),
                                       p.get("output"), &progress, &interruptToken());
  progress.finish();
  if (!result.ok()) return fail(result.error());
  std::printf("retrieved %lld instances into %s\n", static_cast<long long>(result->received),
              p.get("output").c_str());
  return kExitOk;
}

int runSend(const Args& args) {
  ArgParser p("pacs send", "Stores DICOM files into a PACS (C-STORE).");
  addPeerOptions(p);
  p.positional("PATH", "a DICOM file or a folder of them (searched recursively)");
  p.option("--retries", "N", "times a dropped association is negotiated again", "2");
  int exit = kExitOk;
  Target peer;
  if (!parseOrExit(p, args, &exit) || !readPeer(p, &peer, &exit)) return exit;
  long long retries = 2;
  if (!p.getInt("retries", &retries, 0, 100)) {
    std::fprintf(stderr, "tessera: error: %s\n", p.error().c_str());
    return kExitUsage;
  }
  ConsoleProgress progress("send");
  auto result = peer.web
                    ? imaging::dicomWebSend(peer.server, {p.get("PATH")}, static_cast<int>(retries),
                                            &progress, &interruptToken())
                    : imaging::pacsSend(peer.peer, {p.get("PATH")}, static_cast<int>(retries),
                                        &progress, &interruptToken());
  progress.finish();
  if (!result.ok()) return fail(result.error());
  for (const std::string& s : result->skipped)
    std::fprintf(stderr, "tessera: note: not a DICOM file, not sent: %s\n", s.c_str());
  for (const std::string& f : result->failed)
    std::fprintf(stderr, "tessera: error: not stored: %s\n", f.c_str());
  std::printf("sent %lld instances to %s\n", static_cast<long long>(result->sent),
              peer.name.c_str());
  return result->failed.empty() ? kExitOk : kExitFailure;
}

}  // namespace

int runPacs(const Args& args) {
  static const struct {
    const char* name;
    const char* summary;
    int (*run)(const Args&);
  } kSubcommands[] = {
      {"echo", "check that a PACS answers (C-ECHO)", runEcho},
      {"find", "list studies or series (C-FIND)", runFind},
      {"get", "retrieve a study or series into a folder (C-GET)", runGet},
      {"send", "store DICOM files (C-STORE)", runSend},
  };
  const auto usage = [&](FILE* out) {
    std::fprintf(out,
                 "usage: tessera pacs SUBCOMMAND --peer AET@HOST:PORT | --dicomweb URL "
                 "[options]\n\nDICOM networking with a PACS: DIMSE (C-ECHO, C-FIND, C-GET, "
                 "C-STORE) or DICOMweb (QIDO-RS, WADO-RS, STOW-RS).\n\nsubcommands:\n");
    for (const auto& s : kSubcommands) std::fprintf(out, "  %-6s %s\n", s.name, s.summary);
    std::fprintf(out, "\n`tessera pacs SUBCOMMAND --help` lists its options.\n");
  };
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    usage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  for (const auto& s : kSubcommands)
    if (args[0] == s.name) return s.run(Args(args.begin() + 1, args.end()));
  std::fprintf(stderr, "tessera: error: unknown pacs subcommand '%s'\n", args[0].c_str());
  usage(stderr);
  return kExitUsage;
}

}  // namespace tessera::cli
