#include "core/json.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstdio>
#include <limits>
#include <locale>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tessera {
namespace {

TEST(Json, WriterProducesCompactAndPrettyDocuments) {
  JsonWriter w(false);
  w.beginObject()
      .field("name", "liver")
      .field("volume_ml", 1523.5)
      .field("voxels", std::int64_t{42});
  w.key("edge").value(true).key("tags").beginArray().value("a").value(1).endArray();
  w.key("empty").beginObject().endObject();
  w.endObject();
  EXPECT_EQ(
      w.str(),
      R"({"name":"liver","volume_ml":1523.5,"voxels":42,"edge":true,"tags":["a",1],"empty":{}})");
  JsonWriter p(true);
  p.beginArray().value(1).value(2).endArray();
  EXPECT_EQ(p.str(), "[\n  1,\n  2\n]");
}

TEST(Json, EscapesControlCharactersAndQuotes) {
  EXPECT_EQ(jsonEscape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
}

TEST(Json, NonFiniteNumbersBecomeNull) {
  JsonWriter w(false);
  w.beginArray().value(std::numeric_limits<double>::quiet_NaN()).value(INFINITY).endArray();
  EXPECT_EQ(w.str(), "[null,null]");
}

TEST(Json, ParsesWhatItWrites) {
  JsonWriter w;
  w.beginObject().field("s", "x\ty \"q\" \xc3\xa9").field("n", -12.5e3).field("b", false);
  w.key("list").beginArray().value(1).null().beginObject().field("k", 2).endObject().endArray();
  w.endObject();
  auto parsed = parseJson(w.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error().toString();
  EXPECT_EQ(parsed->getString("s"), "x\ty \"q\" \xc3\xa9");
  EXPECT_DOUBLE_EQ(parsed->getNumber("n"), -12500.0);
  EXPECT_FALSE(parsed->find("b")->asBool(true));
  ASSERT_EQ(parsed->find("list")->items().size(), 3u);
  EXPECT_TRUE(parsed->find("list")->items()[1].isNull());
  EXPECT_EQ(parsed->find("list")->items()[2].getNumber("k"), 2.0);
  EXPECT_EQ(parseJson(parsed->dump(false))->dump(false), parsed->dump(false));
}

TEST(Json, UnicodeEscapesAndSurrogates) {
  auto v = parseJson(R"("\u00e9\ud83d\ude00")");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->asString(), "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(Json, RejectsMalformedDocumentsWithAPosition) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "tru", "01x", "\"abc", "[1] 2",
                          "{\"a\":1,}", "\"\\q\"", "-", "1.", "1e"}) {
    SCOPED_TRACE(bad);
    auto v = parseJson(bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_NE(v.error().message.find("line"), std::string::npos);
  }
}

TEST(Json, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '[');
  EXPECT_FALSE(parseJson(deep).ok());
}

std::string nested(int levels, const char* open, const char* inner, const char* close) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += open;
  s += inner;
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}

TEST(Json, NestingIsBoundedAt512Levels) {
  auto ok = parseJson(nested(512, "[", "1", "]"));
  ASSERT_TRUE(ok.ok()) << ok.error().toString();
  EXPECT_EQ(parseJson(ok->dump(false))->dump(false), ok->dump(false));
  ASSERT_TRUE(parseJson(nested(512, "{\"a\":", "null", "}")).ok());

  for (const std::string& deep : {nested(513, "[", "", "]"), nested(513, "{\"a\":", "1", "}"),
                                  std::string(1000000, '['), nested(1000000, "[", "", "]")}) {
    SCOPED_TRACE(deep.substr(0, 12) + "... (" + std::to_string(deep.size()) + " bytes)");
    auto v = parseJson(deep);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_NE(v.error().message.find("nesting deeper than 512 levels"), std::string::npos)
        << v.error().message;
  }
  // The position is that of the 513th opening bracket.
  const std::string arrays = nested(513, "[", "", "]");
  EXPECT_NE(parseJson(arrays).error().message.find("line 1, column 513"), std::string::npos)
      << parseJson(arrays).error().message;
}

TEST(Json, ErrorsNameLineAndColumn) {
  const std::pair<const char*, const char*> cases[] = {
      {"[1,\n 2,\n ]", "line 3, column 2"},
      {"{\"a\": 1,\n \"b\": x}", "line 2, column 7"},
      {"[1, 2", "line 1, column 6"},  // the end of the input
      {"", "line 1, column 1"},
      {"[1] 2", "line 1, column 5"},
  };
  for (const auto& [text, where] : cases) {
    SCOPED_TRACE(text);
    auto v = parseJson(text);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_EQ(v.error().message.rfind("invalid JSON: ", 0), 0u) << v.error().message;
    EXPECT_NE(v.error().message.find(where), std::string::npos) << v.error().message;
  }
}

TEST(Json, StrictRfc8259) {
  for (const std::string& bad : std::vector<std::string>{
           "[1] // comment", "/* c */ 1", "[1,]", "{'a': 1}", "[01]", "[+1]", "[.5]", "[1.e5]",
           "[NaN]", "[Infinity]", "\"tab\there\"", "\xEF\xBB\xBF[1]", "[1 2]", "{\"a\"}",
           std::string("[1,\0 2]", 7), "\"\\x41\""}) {
    SCOPED_TRACE(bad);
    auto v = parseJson(bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_NE(v.error().message.find("line"), std::string::npos) << v.error().message;
  }
  for (const char* good : {" \t\r\n[1] \n", "0", "-0.5e-3", "\"\"", "null", "{}", "[[]]"}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(parseJson(good).ok());
  }
}

// Found by tests/fuzz (fuzz_json): text after a NUL byte was ignored.
TEST(Json, NulByteAfterValueIsRefused) {
  for (const std::string& bad :
       {std::string("777777777717777.77777\0\x04", 23), std::string("{\"a\":1}\0", 8),
        std::string("[1]\0[2]", 7), std::string("null\0", 5)}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    auto v = parseJson(bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_NE(v.error().message.find("NUL byte"), std::string::npos) << v.error().message;
    EXPECT_NE(v.error().message.find("line 1"), std::string::npos) << v.error().message;
  }
}

TEST(Json, InvalidUtf8IsRefused) {
  // Stray continuation byte, overlong '/', truncated sequence, a UTF-8
  // encoded surrogate, beyond U+10FFFF, and lone surrogate escapes.
  for (const char* bad :
       {"\"\x80\"", "\"\xC0\xAF\"", "\"\xE2\x82\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"",
        "\"\xFF\"", R"("\ud800")", R"("\udc00x")", R"("\ud800\u0041")"}) {
    SCOPED_TRACE(testing::PrintToString(bad));
    auto v = parseJson(bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    // The message quotes the input only as printable ASCII.
    for (unsigned char c : v.error().message)
      EXPECT_TRUE(c >= 0x20 && c < 0x7F) << v.error().message;
  }
  auto ok = parseJson("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
  ASSERT_TRUE(ok.ok()) << ok.error().toString();
  EXPECT_EQ(ok->asString(), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(Json, HugeNumbers) {
  // Out of double's range: refused rather than read as infinity.
  for (const char* bad : {"1e400", "[-1e400]", "{\"x\": 2e308}"}) {
    SCOPED_TRACE(bad);
    auto v = parseJson(bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, StatusCode::kCorruptData);
    EXPECT_NE(v.error().message.find("line 1"), std::string::npos) << v.error().message;
  }
  // Integers beyond 2^53 and beyond 64 bits round to the nearest double;
  // underflow reads as zero.
  EXPECT_EQ(parseJson("9007199254740993")->asNumber(), 9007199254740992.0);
  EXPECT_EQ(parseJson("18446744073709551615")->asNumber(), 18446744073709551616.0);
  EXPECT_EQ(parseJson("-9223372036854775809")->asNumber(), -9223372036854775808.0);
  EXPECT_EQ(parseJson("123456789012345678901234567890")->asNumber(), 1.2345678901234568e29);
  EXPECT_EQ(parseJson("1e-400")->asNumber(), 0.0);
  EXPECT_EQ(parseJson("1.7976931348623157e308")->asNumber(), 1.7976931348623157e308);
  EXPECT_EQ(parseJson("0.1")->asNumber(), 0.1);
  EXPECT_EQ(parseJson("1" + std::string(300, '0'))->asNumber(), 1e300);
  // The integer -0 has no sign; the number -0.0 keeps it.
  EXPECT_FALSE(std::signbit(parseJson("-0")->asNumber()));
  EXPECT_TRUE(std::signbit(parseJson("-0.0")->asNumber()));
}

TEST(Json, DuplicateKeysKeepBothAndFindTheFirst) {
  auto v = parseJson(R"({"a": 1, "b": 2, "a": 3})");
  ASSERT_TRUE(v.ok()) << v.error().toString();
  ASSERT_EQ(v->members().size(), 3u);
  EXPECT_EQ(v->members()[0].first, "a");
  EXPECT_EQ(v->members()[2].first, "a");
  EXPECT_EQ(v->members()[2].second.asNumber(), 3.0);
  EXPECT_EQ(v->getNumber("a"), 1.0);
  EXPECT_EQ(v->dump(false), R"({"a":1,"b":2,"a":3})");
}

TEST(Json, MembersKeepDocumentOrder) {
  auto v = parseJson(R"({"z": 1, "a": {"y": true, "b": null}, "m": [3, 2, 1]})");
  ASSERT_TRUE(v.ok()) << v.error().toString();
  EXPECT_EQ(v->dump(false), R"({"z":1,"a":{"y":true,"b":null},"m":[3,2,1]})");
}

TEST(Json, NumbersAreWrittenAsPrintfG10InTheCLocale) {
  std::vector<double> values = {0.0,
                                -0.0,
                                0.5,
                                0.1,
                                1.0 / 3,
                                -12.5e3,
                                1523.5,
                                1e-7,
                                2.5e-5,
                                1e21,
                                1e15,
                                123456789012.0,
                                5e-324,
                                1.7976931348623157e308,
                                -2.2250738585072014e-308};
  std::mt19937_64 rng(17);
  for (int i = 0; i < 2000; ++i) {
    const double mantissa = std::ldexp(static_cast<double>(rng() >> 11), -53);
    values.push_back((rng() & 1 ? -1 : 1) * mantissa *
                     std::pow(10.0, static_cast<int>(rng() % 80) - 40));
  }
  for (double x : values) {
    char expected[32];
    std::snprintf(expected, sizeof expected, "%.10g", x);
    JsonWriter w(false);
    w.value(x);
    ASSERT_EQ(w.str(), expected) << "x = " << x << " (seed 17)";
  }
  JsonWriter w(false);
  w.beginArray().value(std::int64_t{-9223372036854775807 - 1}).value(std::int64_t{42}).endArray();
  EXPECT_EQ(w.str(), "[-9223372036854775808,42]");
}

// Switches the C and C++ global locales for one test; restores them after.
class GlobalLocale {
 public:
  explicit GlobalLocale(const char* name) {
    const char* current = std::setlocale(LC_ALL, nullptr);
    previousC_ = current ? current : "C";
    if (!std::setlocale(LC_ALL, name)) return;
    try {
      previousCpp_ = std::locale::global(std::locale(name));
      active_ = true;
    } catch (const std::runtime_error&) {
      std::setlocale(LC_ALL, previousC_.c_str());
    }
  }
  ~GlobalLocale() {
    if (!active_) return;
    std::locale::global(previousCpp_);
    std::setlocale(LC_ALL, previousC_.c_str());
  }
  bool active() const { return active_; }

 private:
  std::string previousC_;
  std::locale previousCpp_;
  bool active_ = false;
};

TEST(Json, NumbersIgnoreTheLocale) {
  GlobalLocale german("de_DE.UTF-8");
  if (!german.active()) GTEST_SKIP() << "locale de_DE.UTF-8 is not installed";
  char probe[16];
  std::snprintf(probe, sizeof probe, "%.1f", 0.5);
  ASSERT_STREQ(probe, "0,5") << "the locale should use a decimal comma";

  JsonWriter w(false);
  w.beginArray().value(0.5).value(-1523.25).value(1e-7).value(std::int64_t{1234567}).endArray();
  EXPECT_EQ(w.str(), "[0.5,-1523.25,1e-07,1234567]");
  auto v = parseJson("[0.5, 1.25e2, -3.75]");
  ASSERT_TRUE(v.ok()) << v.error().toString();
  EXPECT_EQ(v->items()[0].asNumber(), 0.5);
  EXPECT_EQ(v->items()[1].asNumber(), 125.0);
  EXPECT_EQ(v->items()[2].asNumber(), -3.75);
  EXPECT_EQ(v->dump(false), "[0.5,125,-3.75]");
}

TEST(Json, SetReplacesAndCopiesDoNotShareEdits) {
  JsonValue a = JsonValue::object();
  a.set("x", JsonValue::number(1));
  JsonValue b = a;
  b.set("x", JsonValue::number(2));
  b.set("y", JsonValue::string("new"));
  EXPECT_EQ(a.getNumber("x"), 1.0);
  EXPECT_EQ(a.find("y"), nullptr);
  EXPECT_EQ(b.getNumber("x"), 2.0);
  EXPECT_EQ(b.members().size(), 2u);
}

}  // namespace
}  // namespace tessera
