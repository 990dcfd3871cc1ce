// CSV text for Tessera's tables (summary.csv, per-label statistics CSV).
// Fields follow RFC 4180: a field holding a comma, a double quote, CR or LF
// is enclosed in double quotes, with each double quote inside doubled; any
// other field is written as is. Rows end in LF. Numbers are formatted in the
// C locale whatever the process locale, so a table written under de_DE still
// has '.' as its decimal separator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

// One field, quoted when RFC 4180 requires it.
std::string csvField(std::string_view text);

// Up to 10 significant digits, exactly as printf's "%.10g" in the C locale
// (the digits JsonWriter writes, so CSV and JSON agree to the last digit);
// empty for NaN and infinities.
std::string csvNumber(double value);
std::string csvInteger(std::int64_t value);

// The fields (raw text; each quoted as needed) joined by commas, plus LF.
std::string csvRow(const std::vector<std::string>& fields);

}  // namespace tessera
