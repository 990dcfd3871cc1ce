#include "core/json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <system_error>

namespace tessera {

std::string jsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void JsonWriter::newline() {
  if (!pretty_) return;
  out_ += '\n';
  out_.append(stack_.size() * 2, ' ');
}

void JsonWriter::beforeValue() {
  if (afterKey_) {
    afterKey_ = false;
    return;
  }
  if (stack_.empty()) return;
  assert(!stack_.back().isObject && "JSON object members need a key");
  if (stack_.back().count++ > 0) out_ += ',';
  newline();
}

JsonWriter& JsonWriter::beginObject() {
  beforeValue();
  out_ += '{';
  stack_.push_back({true, 0});
  return *this;
}

JsonWriter& JsonWriter::endObject() {
  assert(!stack_.empty() && stack_.back().isObject);
  const bool empty = stack_.back().count == 0;
  stack_.pop_back();
  if (!empty) newline();
  out_ += '}';
  return *this;
}

JsonWriter& JsonWriter::beginArray() {
  beforeValue();
  out_ += '[';
  stack_.push_back({false, 0});
  return *this;
}

JsonWriter& JsonWriter::endArray() {
  assert(!stack_.empty() && !stack_.back().isObject);
  const bool empty = stack_.back().count == 0;
  stack_.pop_back();
  if (!empty) newline();
  out_ += ']';
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  assert(!stack_.empty() && stack_.back().isObject && !afterKey_);
  if (stack_.back().count++ > 0) out_ += ',';
  newline();
  out_ += '"';
  out_ += jsonEscape(name);
  out_ += pretty_ ? "\": " : "\":";
  afterKey_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  beforeValue();
  out_ += '"';
  out_ += jsonEscape(text);
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  beforeValue();
  if (!std::isfinite(number)) {
    out_ += "null";
    return *this;
  }
  // As printf's "%.10g" in the C locale, whatever the process's locale.
  char buffer[32];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::general, 10);
  assert(error == std::errc());
  out_.append(buffer, end);
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  beforeValue();
  char buffer[24];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number);
  assert(error == std::errc());
  out_.append(buffer, end);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  beforeValue();
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  beforeValue();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  beforeValue();
  out_ += json;
  return *this;
}

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}
JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_ = d;
  return v;
}
JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_ = std::move(s);
  return v;
}
JsonValue JsonValue::array(Array items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.array_ = std::make_shared<Array>(std::move(items));
  return v;
}
JsonValue JsonValue::object(Object members) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.object_ = std::make_shared<Object>(std::move(members));
  return v;
}

const std::string& JsonValue::asString() const {
  static const std::string kEmpty;
  return type_ == Type::kString ? string_ : kEmpty;
}
const JsonValue::Array& JsonValue::items() const {
  static const Array kEmpty;
  return type_ == Type::kArray ? *array_ : kEmpty;
}
const JsonValue::Object& JsonValue::members() const {
  static const Object kEmpty;
  return type_ == Type::kObject ? *object_ : kEmpty;
}
const JsonValue* JsonValue::find(std::string_view name) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [k, v] : *object_)
    if (k == name) return &v;
  return nullptr;
}
std::string JsonValue::getString(std::string_view name, const std::string& fallback) const {
  const JsonValue* v = find(name);
  return v && v->isString() ? v->asString() : fallback;
}
double JsonValue::getNumber(std::string_view name, double fallback) const {
  const JsonValue* v = find(name);
  return v && v->isNumber() ? v->asNumber() : fallback;
}

void JsonValue::set(const std::string& name, JsonValue v) {
  assert(type_ == Type::kObject);
  // Copy on write: values share containers after copies.
  if (object_.use_count() > 1) object_ = std::make_shared<Object>(*object_);
  for (auto& [k, existing] : *object_) {
    if (k == name) {
      existing = std::move(v);
      return;
    }
  }
  object_->emplace_back(name, std::move(v));
}

void JsonValue::push(JsonValue v) {
  assert(type_ == Type::kArray);
  if (array_.use_count() > 1) array_ = std::make_shared<Array>(*array_);
  array_->push_back(std::move(v));
}

void JsonValue::write(JsonWriter& w) const {
  switch (type_) {
    case Type::kNull:
      w.null();
      break;
    case Type::kBool:
      w.value(bool_);
      break;
    case Type::kNumber:
      if (std::abs(number_) < 9e15 && number_ == std::floor(number_))
        w.value(static_cast<std::int64_t>(number_));
      else
        w.value(number_);
      break;
    case Type::kString:
      w.value(string_);
      break;
    case Type::kArray:
      w.beginArray();
      for (const JsonValue& item : *array_) item.write(w);
      w.endArray();
      break;
    case Type::kObject:
      w.beginObject();
      for (const auto& [k, v] : *object_) {
        w.key(k);
        v.write(w);
      }
      w.endObject();
      break;
  }
}

std::string JsonValue::dump(bool pretty) const {
  JsonWriter w(pretty);
  write(w);
  return w.str();
}

namespace {

using Sax = nlohmann::json_sax<nlohmann::ordered_json>;

constexpr int kMaxDepth = 512;

// 1-based line and column of byte `offset` (columns count bytes).
std::string describePosition(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  std::size_t lineStart = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - lineStart + 1);
}

Status invalid(std::string_view text, std::size_t offset, const std::string& what) {
  return Status(StatusCode::kCorruptData,
                "invalid JSON: " + what + " at " + describePosition(text, offset));
}

// nlohmann's message without its "[json.exception...] parse error at line
// L, column C: " prefix (parseJson states the position itself), with bytes
// that are not printable ASCII (the input is untrusted) written as \xNN.
std::string describeError(const std::string& message) {
  std::string_view m = message;
  if (const std::size_t at = m.find("] "); m.rfind("[json.exception.", 0) == 0 && at != m.npos)
    m.remove_prefix(at + 2);
  if (m.rfind("parse error", 0) == 0) {
    if (const std::size_t at = m.find(": "); at != m.npos) m.remove_prefix(at + 2);
  }
  std::string out;
  for (unsigned char c : m) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// Offset of the bracket that opens level kMaxDepth + 1, in a text whose
// prefix up to there is valid JSON.
std::size_t tooDeepAt(std::string_view text) {
  int depth = 0;
  bool inString = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return text.size();
}

// Builds JsonValues from nlohmann's SAX events with an explicit stack:
// nlohmann's own parser is iterative too, so no nesting reaches the call
// stack, and refusing level kMaxDepth + 1 bounds the recursion of
// JsonValue's destructor, write() and dump().
class Builder final : public Sax {
 public:
  bool null() override { return add(JsonValue()); }
  bool boolean(bool b) override { return add(JsonValue::boolean(b)); }
  bool number_integer(number_integer_t n) override {
    return add(JsonValue::number(static_cast<double>(n)));
  }
  bool number_unsigned(number_unsigned_t n) override {
    return add(JsonValue::number(static_cast<double>(n)));
  }
  bool number_float(number_float_t d, const string_t&) override {
    return add(JsonValue::number(d));
  }
  bool string(string_t& s) override { return add(JsonValue::string(std::move(s))); }
  bool binary(binary_t&) override { return false; }  // not produced by JSON text
  bool start_object(std::size_t) override { return open(true); }
  bool key(string_t& name) override {
    stack_.back().key = std::move(name);
    return true;
  }
  bool end_object() override {
    JsonValue v = JsonValue::object(std::move(stack_.back().members));
    stack_.pop_back();
    return add(std::move(v));
  }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override {
    JsonValue v = JsonValue::array(std::move(stack_.back().items));
    stack_.pop_back();
    return add(std::move(v));
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    // `position` counts the bytes read, the offending one included.
    errorOffset_ = position > 0 ? position - 1 : 0;
    error_ = describeError(error.what());
    return false;
  }

  bool tooDeep() const { return tooDeep_; }
  std::size_t errorOffset() const { return errorOffset_; }
  const std::string& error() const { return error_; }
  JsonValue& root() { return root_; }

 private:
  struct Level {
    bool isObject;
    std::string key;
    JsonValue::Array items;
    JsonValue::Object members;
  };

  bool open(bool isObject) {
    if (stack_.size() >= kMaxDepth) {
      tooDeep_ = true;
      return false;
    }
    stack_.push_back({isObject, {}, {}, {}});
    return true;
  }
  bool add(JsonValue v) {
    if (stack_.empty()) {
      root_ = std::move(v);
    } else if (stack_.back().isObject) {
      stack_.back().members.emplace_back(std::move(stack_.back().key), std::move(v));
    } else {
      stack_.back().items.push_back(std::move(v));
    }
    return true;
  }

  std::vector<Level> stack_;
  JsonValue root_;
  bool tooDeep_ = false;
  std::size_t errorOffset_ = 0;
  std::string error_;
};

}  // namespace

Result<JsonValue> parseJson(std::string_view text) {
  // RFC 8259 lets parsers accept a byte order mark; Tessera never wrote one
  // and refuses it, as before.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return invalid(text, 0, "byte order mark");
  Builder builder;
  bool ok = false;
  try {
    ok = nlohmann::ordered_json::sax_parse(text.begin(), text.end(), &builder,
                                           nlohmann::ordered_json::input_format_t::json,
                                           /*strict=*/true, /*ignore_comments=*/false);
  } catch (const nlohmann::ordered_json::exception& e) {
    return Status(StatusCode::kCorruptData,
                  std::string("invalid JSON: ") + describeError(e.what()));
  }
  // nlohmann's lexer reads a NUL byte as the end of the input, so a value
  // followed by NUL and anything else would parse.
  if (const std::size_t nul = text.find('\0'); ok && nul != text.npos)
    return invalid(text, nul, "NUL byte after the value");
  if (ok) return std::move(builder.root());
  if (builder.tooDeep())
    return invalid(text, tooDeepAt(text),
                   "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  return invalid(text, builder.errorOffset(), builder.error());
}

}  // namespace tessera
