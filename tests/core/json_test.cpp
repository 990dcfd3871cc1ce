#include "core/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tessera {
namespace {

TEST(Json, WriterProducesCompactAndPrettyDocuments) {
  JsonWriter w(false);
  w.beginObject().field("name", "liver").field("volume_ml", 1523.5).field("voxels", std::int64_t{42});
  w.key("edge").value(true).key("tags").beginArray().value("a").value(1).endArray();
  w.key("empty").beginObject().endObject();
  w.endObject();
  EXPECT_EQ(w.str(),
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
