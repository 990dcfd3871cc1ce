#include "core/json.h"

#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tessera {

std::string jsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
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
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", number);
  out_ += buffer;
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  beforeValue();
  out_ += std::to_string(number);
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
    case Type::kNull: w.null(); break;
    case Type::kBool: w.value(bool_); break;
    case Type::kNumber:
      if (std::abs(number_) < 9e15 && number_ == std::floor(number_))
        w.value(static_cast<std::int64_t>(number_));
      else
        w.value(number_);
      break;
    case Type::kString: w.value(string_); break;
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

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<JsonValue> parseDocument() {
    JsonValue v;
    TESSERA_RETURN_IF_ERROR(parseValue(&v, 0));
    skipSpace();
    if (pos_ != text_.size()) return fail("unexpected text after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 256;

  Status fail(const std::string& what) const {
    int line = 1, column = 1;
    for (std::size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return Status(StatusCode::kCorruptData, "invalid JSON: " + what + " at line " +
                                                std::to_string(line) + ", column " +
                                                std::to_string(column));
  }

  void skipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status parseValue(JsonValue* out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    skipSpace();
    if (pos_ >= text_.size()) return fail("unexpected end of input");
    const char c = text_[pos_];
    if (c == '{') return parseObject(out, depth);
    if (c == '[') return parseArray(out, depth);
    if (c == '"') {
      std::string s;
      TESSERA_RETURN_IF_ERROR(parseString(&s));
      *out = JsonValue::string(std::move(s));
      return Status();
    }
    if (consume("true")) {
      *out = JsonValue::boolean(true);
      return Status();
    }
    if (consume("false")) {
      *out = JsonValue::boolean(false);
      return Status();
    }
    if (consume("null")) {
      *out = JsonValue();
      return Status();
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parseNumber(out);
    return fail(std::string("unexpected character '") + c + "'");
  }

  Status parseNumber(JsonValue* out) {
    const std::size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    auto digits = [&] {
      const std::size_t s = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > s;
    };
    if (!digits()) return fail("malformed number");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return fail("malformed number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) return fail("malformed number");
    }
    const std::string number(text_.substr(start, pos_ - start));
    *out = JsonValue::number(std::strtod(number.c_str(), nullptr));
    return Status();
  }

  static void appendUtf8(std::string* s, unsigned code) {
    if (code < 0x80) {
      *s += static_cast<char>(code);
    } else if (code < 0x800) {
      *s += static_cast<char>(0xC0 | (code >> 6));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      *s += static_cast<char>(0xE0 | (code >> 12));
      *s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      *s += static_cast<char>(0xF0 | (code >> 18));
      *s += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      *s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  Status parseHex4(unsigned* code) {
    if (pos_ + 4 > text_.size()) return fail("truncated \\u escape");
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      *code <<= 4;
      if (h >= '0' && h <= '9') *code |= h - '0';
      else if (h >= 'a' && h <= 'f') *code |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') *code |= h - 'A' + 10;
      else return fail("bad \\u escape");
    }
    return Status();
  }

  Status parseString(std::string* out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return Status();
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= text_.size()) return fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          unsigned code = 0;
          TESSERA_RETURN_IF_ERROR(parseHex4(&code));
          if (code >= 0xD800 && code < 0xDC00 && consume("\\u")) {
            unsigned low = 0;
            TESSERA_RETURN_IF_ERROR(parseHex4(&low));
            if (low < 0xDC00 || low > 0xDFFF) return fail("bad surrogate pair");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          appendUtf8(out, code);
          break;
        }
        default: return fail("bad escape in string");
      }
    }
  }

  Status parseArray(JsonValue* out, int depth) {
    ++pos_;
    JsonValue::Array items;
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      *out = JsonValue::array(std::move(items));
      return Status();
    }
    while (true) {
      JsonValue item;
      TESSERA_RETURN_IF_ERROR(parseValue(&item, depth + 1));
      items.push_back(std::move(item));
      skipSpace();
      if (pos_ >= text_.size()) return fail("unterminated array");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        break;
      }
      return fail("expected ',' or ']' in array");
    }
    *out = JsonValue::array(std::move(items));
    return Status();
  }

  Status parseObject(JsonValue* out, int depth) {
    ++pos_;
    JsonValue::Object members;
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      *out = JsonValue::object(std::move(members));
      return Status();
    }
    while (true) {
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a member name");
      std::string name;
      TESSERA_RETURN_IF_ERROR(parseString(&name));
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':' after a name");
      ++pos_;
      JsonValue value;
      TESSERA_RETURN_IF_ERROR(parseValue(&value, depth + 1));
      members.emplace_back(std::move(name), std::move(value));
      skipSpace();
      if (pos_ >= text_.size()) return fail("unterminated object");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        break;
      }
      return fail("expected ',' or '}' in object");
    }
    *out = JsonValue::object(std::move(members));
    return Status();
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<JsonValue> parseJson(std::string_view text) { return Parser(text).parseDocument(); }

}  // namespace tessera
