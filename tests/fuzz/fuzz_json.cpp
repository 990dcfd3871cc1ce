// core/json: parseJson on arbitrary bytes. What parses must dump and parse
// again to the same document (the writer and parser agree).
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
  if (!again.ok() || again.value().dump(false) != compact) __builtin_trap();
  return 0;
}
