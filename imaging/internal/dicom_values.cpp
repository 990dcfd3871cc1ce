#include "imaging/internal/dicom_values.h"

#include <gdcmUIDGenerator.h>

#include <cstdio>
#include <cstring>
#include <ctime>

namespace tessera::imaging::dicom {

std::string decimalString(double value) {
  if (value == 0.0) return "0";
  char buffer[64];
  for (int precision = 15; precision > 0; --precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strlen(buffer) <= 16) return buffer;
  }
  return "0";
}

std::string decimalStrings(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) out += (out.empty() ? "" : "\\") + decimalString(v);
  return out;
}

std::string newUid() {
  gdcm::UIDGenerator generator;
  return generator.Generate();
}

std::string localNow(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, format, &local);
  return buffer;
}

}  // namespace tessera::imaging::dicom
