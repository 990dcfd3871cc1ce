// Small JSON writer and parser for reports, manifests, `--json` output and
// model metadata. Numbers are doubles (integers up to 2^53 exactly); object
// members keep their insertion order so reports read predictably. Parsing
// uses nlohmann-json (privately, in json.cpp); writing and number
// formatting are Tessera's own, and neither depends on the C or C++ locale.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tessera {

// Streaming writer. Misuse (a value where a key is expected, unbalanced
// end*) is a programming error and asserts.
class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  // As printf's "%.10g" in the C locale; NaN and infinities become null.
  JsonWriter& value(double number);
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  // Inserts already-serialised JSON (e.g. a nested document) as one value.
  JsonWriter& raw(std::string_view json);

  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  const std::string& str() const { return out_; }

 private:
  void beforeValue();
  void newline();
  struct Level {
    bool isObject;
    int count;
  };
  bool pretty_;
  std::string out_;
  std::vector<Level> stack_;
  bool afterKey_ = false;
};

std::string jsonEscape(std::string_view text);

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<JsonValue>;
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;
  static JsonValue boolean(bool b);
  static JsonValue number(double d);
  static JsonValue string(std::string s);
  static JsonValue array(Array items = {});
  static JsonValue object(Object members = {});

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::kNull; }
  bool isObject() const { return type_ == Type::kObject; }
  bool isArray() const { return type_ == Type::kArray; }
  bool isString() const { return type_ == Type::kString; }
  bool isNumber() const { return type_ == Type::kNumber; }
  bool isBool() const { return type_ == Type::kBool; }

  bool asBool(bool fallback = false) const { return type_ == Type::kBool ? bool_ : fallback; }
  double asNumber(double fallback = 0.0) const {
    return type_ == Type::kNumber ? number_ : fallback;
  }
  const std::string& asString() const;  // empty when not a string
  const Array& items() const;           // empty when not an array
  const Object& members() const;        // empty when not an object
  // Member by name, or nullptr.
  const JsonValue* find(std::string_view name) const;
  // Member's string/number with a fallback when absent or mistyped.
  std::string getString(std::string_view name, const std::string& fallback = {}) const;
  double getNumber(std::string_view name, double fallback = 0.0) const;

  void set(const std::string& name, JsonValue v);  // objects: replace or append
  void push(JsonValue v);                          // arrays

  std::string dump(bool pretty = true) const;
  void write(JsonWriter& writer) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
};

// Strict RFC 8259 parser for untrusted text; errors (kCorruptData) name
// the line and column (1-based, columns in bytes). Refused: comments,
// trailing commas or text, a byte order mark, invalid UTF-8 (lone
// surrogates included), nesting deeper than 512 arrays/objects, and numbers
// beyond double's range (1e400). Integers beyond 2^53 round to the nearest
// double, underflow reads as 0, and "-0" reads as 0 ("-0.0" keeps its
// sign). Duplicate member names are all kept, in document order: members()
// lists each and find() returns the first.
Result<JsonValue> parseJson(std::string_view text);

}  // namespace tessera
