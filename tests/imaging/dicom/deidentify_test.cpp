// De-identification of a DICOM series (PS3.15 Annex E basic profile), read
// back with DCMTK: what identifies the patient is gone or a pseudonym, UIDs
// are consistent pseudonyms, the pixel data is unchanged byte for byte.
#include "imaging/dicom/deidentify.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "tests/support/dicom_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

constexpr const char* kKey = "a site secret of 32 characters..";

// Four slices of a patient, with what a hospital's CT carries besides the
// image: birth date, institution, physician, a private attribute.
std::string writeIdentifiedSeries(const TempDir& tmp) {
  const std::string dir = tmp.makeDir("ct");
  for (int k = 0; k < 4; ++k) {
    tessera::testing::SliceSpec spec;
    spec.instance = k + 1;
    spec.position = {-10.0, 20.0, 2.0 * k};
    for (int v = 0; v < spec.rows * spec.columns; ++v) spec.stored.push_back(100 * k + v);
    tessera::testing::DicomBuilder b = tessera::testing::ctSlice(spec);
    b.text(0x0008, 0x0020, "DA", "20260314");  // Study Date
    b.text(0x0008, 0x0080, "LO", "General Hospital");
    b.text(0x0008, 0x0090, "PN", "Who^Doctor");
    b.text(0x0008, 0x1010, "SH", "CT-STATION-3");
    b.text(0x0010, 0x0030, "DA", "19700101");
    b.text(0x0010, 0x1000, "LO", "OTHER-ID-7");
    b.text(0x0009, 0x0010, "LO", "ACME 1.0");  // private creator
    b.text(0x0009, 0x1001, "LO", "secret");
    EXPECT_TRUE(b.write(dir + "/slice" + std::to_string(k) + ".dcm"));
  }
  return dir;
}

struct Attributes {
  std::string patientName, patientId, birthDate, studyDate, institution, physician, station;
  std::string otherIds, privateValue, sopUid, mediaSopUid, studyUid, seriesUid, removed;
  std::string method, methodCodes;
  std::string pixels;
};

Attributes read(const std::string& path) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
  DcmDataset& ds = *file.getDataset();
  const auto get = [&](const DcmTagKey& tag) {
    OFString value;
    ds.findAndGetOFStringArray(tag, value);
    return std::string(value.c_str());
  };
  Attributes a;
  a.patientName = get(DCM_PatientName);
  a.patientId = get(DCM_PatientID);
  a.birthDate = get(DCM_PatientBirthDate);
  a.studyDate = get(DCM_StudyDate);
  a.institution = ds.tagExists(DCM_InstitutionName) ? "present" : "";
  a.physician = get(DCM_ReferringPhysicianName);
  a.station = ds.tagExists(DCM_StationName) ? "present" : "";
  a.otherIds = ds.tagExists(DCM_RETIRED_OtherPatientIDs) ? "present" : "";
  a.privateValue = ds.tagExists(DcmTagKey(0x0009, 0x1001)) ? "present" : "";
  a.sopUid = get(DCM_SOPInstanceUID);
  OFString media;
  file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, media);
  a.mediaSopUid = media.c_str();
  a.studyUid = get(DCM_StudyInstanceUID);
  a.seriesUid = get(DCM_SeriesInstanceUID);
  a.removed = get(DCM_PatientIdentityRemoved);
  a.method = get(DCM_DeidentificationMethod);
  DcmItem* code = nullptr;
  for (int i = 0; ds.findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, code, i).good();
       ++i) {
    OFString value;
    code->findAndGetOFString(DCM_CodeValue, value);
    a.methodCodes += std::string(value.c_str()) + " ";
  }
  const Uint8* pixels = nullptr;
  unsigned long count = 0;
  if (ds.findAndGetUint8Array(DCM_PixelData, pixels, &count).good() && pixels)
    a.pixels.assign(reinterpret_cast<const char*>(pixels), count);
  return a;
}

// The files of a folder by SOP Instance UID.
std::map<std::string, Attributes> bySop(const std::string& dir) {
  std::map<std::string, Attributes> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    Attributes a = read(entry.path().string());
    out[a.sopUid] = a;
  }
  return out;
}

TEST(Deidentify, IdentifyingAttributesGoUidsBecomeConsistentPseudonymsPixelsStay) {
  TempDir tmp;
  const std::string ct = writeIdentifiedSeries(tmp);
  DeidentifyOptions o;
  o.enabled = true;
  o.key = kKey;
  const Status s = deidentifyDicomSeries(ct, "", tmp / "out", o);
  ASSERT_TRUE(s.ok()) << s.toString();
  const auto original = bySop(ct);
  const auto deidentified = bySop(tmp / "out");
  ASSERT_EQ(deidentified.size(), 4u);
  std::string pseudonym;
  for (const auto& [uid, before] : original) {
    const auto it = deidentified.find(pseudonymUid(uid, kKey));
    ASSERT_NE(it, deidentified.end()) << "no instance for " << uid;
    const Attributes& after = it->second;
    EXPECT_EQ(after.mediaSopUid, after.sopUid);
    EXPECT_EQ(after.studyUid, pseudonymUid(before.studyUid, kKey));
    EXPECT_EQ(after.seriesUid, pseudonymUid(before.seriesUid, kKey));
    EXPECT_EQ(after.sopUid.rfind("2.25.", 0), 0u);
    EXPECT_NE(after.patientName, before.patientName);
    EXPECT_EQ(after.patientName.rfind("ANON", 0), 0u) << after.patientName;
    EXPECT_EQ(after.patientId, after.patientName);
    if (pseudonym.empty()) pseudonym = after.patientId;
    EXPECT_EQ(after.patientId, pseudonym) << "one patient, one pseudonym";
    EXPECT_EQ(after.birthDate, "");
    EXPECT_EQ(after.studyDate, "");
    EXPECT_EQ(after.institution, "");
    EXPECT_EQ(after.physician, "");
    EXPECT_EQ(after.station, "");
    EXPECT_EQ(after.otherIds, "");
    EXPECT_EQ(after.privateValue, "");
    EXPECT_EQ(after.removed, "YES");
    EXPECT_EQ(after.methodCodes, "113100 ");
    EXPECT_EQ(after.pixels, before.pixels);
    // What the source held, so that the checks above can fail.
    EXPECT_FALSE(before.pixels.empty());
    EXPECT_EQ(before.birthDate, "19700101");
    EXPECT_EQ(before.institution + before.station + before.otherIds + before.privateValue,
              "presentpresentpresentpresent");
    EXPECT_EQ(before.physician, "Who^Doctor");
  }
  auto a = readVolume(ct), b = readVolume(tmp / "out");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(std::equal(a->data(), a->data() + a->voxelCount(), b->data()));
  EXPECT_TRUE(sameGeometry(a->geometry(), b->geometry()));
}

TEST(Deidentify, TheSameKeyGivesTheSameUidsAnotherKeyOthersAndDatesCanBeKept) {
  TempDir tmp;
  const std::string ct = writeIdentifiedSeries(tmp);
  DeidentifyOptions o;
  o.enabled = true;
  o.key = kKey;
  ASSERT_TRUE(deidentifyDicomSeries(ct, "", tmp / "one", o).ok());
  ASSERT_TRUE(deidentifyDicomSeries(ct, "", tmp / "two", o).ok());
  o.key = "another secret of some length";
  o.keepDates = true;
  ASSERT_TRUE(deidentifyDicomSeries(ct, "", tmp / "three", o).ok());
  const auto one = bySop(tmp / "one"), two = bySop(tmp / "two"), three = bySop(tmp / "three");
  for (const auto& [uid, a] : one) {
    EXPECT_TRUE(two.count(uid));
    EXPECT_FALSE(three.count(uid));
  }
  const Attributes& kept = three.begin()->second;
  EXPECT_EQ(kept.studyDate, "20260314");
  EXPECT_EQ(kept.birthDate, "19700101");
  EXPECT_EQ(kept.methodCodes, "113100 113106 ");
  EXPECT_NE(kept.patientId, one.begin()->second.patientId);
}

TEST(Deidentify, ABusyTargetOrAShortKeyIsRefusedAndNothingIsWritten) {
  TempDir tmp;
  const std::string ct = writeIdentifiedSeries(tmp);
  const std::string busy = tmp.makeDir("busy");
  std::ofstream(busy + "/existing.dcm") << "x";
  DeidentifyOptions o;
  o.enabled = true;
  EXPECT_FALSE(deidentifyDicomSeries(ct, "", busy, o).ok());
  EXPECT_EQ(tmp.entries("busy").size(), 1u);
  EXPECT_EQ(deidentifyDicomSeries(ct, "1.2.3", tmp / "out", o).code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(tmp / "out"));
  std::ofstream(tmp / "short.key") << "short\n";
  EXPECT_EQ(readDeidentifyKey(tmp / "short.key").error().code, StatusCode::kInvalidArgument);
  std::ofstream(tmp / "good.key") << kKey << "\nignored\n";
  EXPECT_EQ(*readDeidentifyKey(tmp / "good.key"), kKey);
  for (const std::string& name : tmp.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

}  // namespace
}  // namespace tessera::imaging
