#include "imaging/internal/jpeg_decode.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmjpeg/djcparam.h>
#include <dcmtk/dcmjpeg/djdijg12.h>
#include <dcmtk/dcmjpeg/djdijg16.h>
#include <dcmtk/dcmjpeg/djdijg8.h>
#include <dcmtk/dcmjpeg/djutils.h>
#include <dcmtk/oflog/appender.h>
#include <dcmtk/oflog/oflog.h>
#include <dcmtk/oflog/spi/logevent.h>

#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace tessera::imaging::dicom {

namespace {

// libjpeg reports corrupt data ("Corrupt JPEG data: premature end of data
// segment", bad Huffman codes, missing restart markers, a premature end of
// file) as warnings and goes on, filling what it could not decode: a
// silently wrong image. DCMTK's decoders log each warning on the
// dcmtk.dcmjpeg logger; this appender collects them for the frame being
// decoded on the calling thread (log4cplus calls appenders synchronously),
// and nothing reaches DCMTK's console output.
struct Warnings {
  std::vector<std::string> messages;
  bool lost = false;  // a message could not be kept (no memory)
};
thread_local Warnings* tWarnings = nullptr;

class WarningCollector final : public dcmtk::log4cplus::Appender {
 public:
  ~WarningCollector() override { destructorImpl(); }
  void close() override {}

 protected:
  // Called from inside libjpeg's C code: nothing may be thrown through it.
  void append(const dcmtk::log4cplus::spi::InternalLoggingEvent& event) override {
    if (!tWarnings) return;
    try {
      tWarnings->messages.emplace_back(event.getMessage().c_str());
    } catch (...) {
      tWarnings->lost = true;
    }
  }
};

void collectDcmjpegWarnings() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLogger logger = OFLog::getLogger("dcmtk.dcmjpeg");
    logger.setAdditivity(false);
    logger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
    logger.addAppender(dcmtk::log4cplus::SharedAppenderPtr(new WarningCollector));
  });
}

// Warnings about the stream's headers that change nothing decoded (pydicom's
// JPEG-lossy.dcm has the first); every other warning means damaged data.
bool harmless(const std::string& warning) {
  static const char* const kHarmless[] = {"Invalid SOS parameters for sequential JPEG",
                                          "Unknown Adobe color transform code",
                                          "Warning: unknown JFIF revision number"};
  for (const char* prefix : kHarmless)
    if (warning.rfind(prefix, 0) == 0) return true;
  return false;
}

template <class Decoder>
Result<DecodedJpegFrame> run(const DJCodecParameter& parameters, std::vector<Uint8>& input,
                             std::uint64_t samples, bool isSigned) {
  Decoder decoder(parameters, OFFalse);
  DecodedJpegFrame out;
  out.bytesPerSample = decoder.bytesPerSample();
  const std::uint64_t bytes = samples * static_cast<std::uint64_t>(out.bytesPerSample);
  if (bytes > std::numeric_limits<Uint32>::max())
    return Error{StatusCode::kUnsupported, "a JPEG frame of over 4 GiB cannot be decoded"};
  out.samples.resize(bytes);
  Warnings warnings;
  // Collects for this decode only, also when DCMTK throws std::bad_alloc.
  struct Collecting {
    explicit Collecting(Warnings* w) { tWarnings = w; }
    ~Collecting() { tWarnings = nullptr; }
  };
  OFCondition status;
  {
    const Collecting collecting(&warnings);
    status = decoder.init();
    if (status.good()) {
      status = decoder.decode(input.data(), static_cast<Uint32>(input.size()),
                              reinterpret_cast<Uint8*>(out.samples.data()),
                              static_cast<Uint32>(bytes), isSigned ? OFTrue : OFFalse);
    }
  }
  if (status == EJ_Suspension)
    return Error{StatusCode::kCorruptData, "the JPEG data end before the last row of the image"};
  if (status.bad())
    return Error{StatusCode::kCorruptData, std::string("libjpeg stopped: ") + status.text()};
  if (warnings.lost)
    return Error{StatusCode::kResourceExhausted, "not enough memory to check the JPEG frame"};
  for (const std::string& warning : warnings.messages)
    if (!harmless(warning))
      return Error{StatusCode::kCorruptData, "the JPEG data are damaged (" + warning + ")"};
  return out;
}

}  // namespace

Result<DecodedJpegFrame> decodeJpegFrame(const unsigned char* data, std::size_t size,
                                         const FrameLayout& layout, int precision, bool isSigned) {
  collectDcmjpegWarnings();
  if (size > std::numeric_limits<Uint32>::max())
    return Error{StatusCode::kUnsupported, "a JPEG frame of over 4 GiB cannot be decoded"};
  if (precision < 2 || precision > 16)
    return Error{StatusCode::kCorruptData,
                 "the JPEG frame header gives " + std::to_string(precision) + "-bit samples"};
  const std::uint64_t samples =
      static_cast<std::uint64_t>(layout.rows) * static_cast<std::uint64_t>(layout.columns);
  try {
    // The decoders read the buffer through a non-const pointer: a copy keeps
    // the parsed file read-only.
    std::vector<Uint8> input(data, data + size);
    const DJCodecParameter parameters(ECC_lossyYCbCr, EDC_photometricInterpretation, EUC_never,
                                      EPC_default);
    if (precision <= 8) return run<DJDecompressIJG8Bit>(parameters, input, samples, isSigned);
    if (precision <= 12) return run<DJDecompressIJG12Bit>(parameters, input, samples, isSigned);
    return run<DJDecompressIJG16Bit>(parameters, input, samples, isSigned);
  } catch (const std::bad_alloc&) {
    return Error{StatusCode::kResourceExhausted, "not enough memory to decode the JPEG frame"};
  }
}

}  // namespace tessera::imaging::dicom
