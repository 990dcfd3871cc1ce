// core/json: parseJson on arbitrary bytes. What parses must dump as JSON
// that parses again; numbers are written with 10 significant digits, so
// from the second dump on the text must stay the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = tessera::parseJson(text);
  if (!parsed.ok()) return 0;
  const std::string compact = parsed.value().dump(false);
  auto again = tessera::parseJson(compact);
  if (!again.ok()) __builtin_trap();
  const std::string second = again.value().dump(false);
  auto third = tessera::parseJson(second);
  if (!third.ok() || third.value().dump(false) != second) __builtin_trap();
  return 0;
}
