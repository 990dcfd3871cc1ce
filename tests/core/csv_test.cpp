// CSV fields (RFC 4180 quoting) and locale-independent numbers.
#include "core/csv.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

namespace tessera {
namespace {

// Splits one CSV record back into fields by RFC 4180's grammar, so that
// the tests check what a reader recovers, not the exact bytes alone.
std::vector<std::string> parseRecord(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      EXPECT_NE(c, '"') << "a bare quote inside an unquoted field: " << line;
      EXPECT_NE(c, '\n') << "an unquoted line break: " << line;
      fields.back() += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field: " << line;
  return fields;
}

TEST(Csv, PlainFieldsAreWrittenAsTheyAre) {
  EXPECT_EQ(csvField("liver"), "liver");
  EXPECT_EQ(csvField(""), "");
  EXPECT_EQ(csvField(" padded "), " padded ");
  EXPECT_EQ(csvField("k_min;k_max"), "k_min;k_max");
}

TEST(Csv, SpecialCharactersAreQuotedAndQuotesDoubled) {
  EXPECT_EQ(csvField("a,b"), "\"a,b\"");
  EXPECT_EQ(csvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csvField("\""), "\"\"\"\"");
  EXPECT_EQ(csvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csvField("cr\rhere"), "\"cr\rhere\"");
}

TEST(Csv, RowsRoundTripThroughAnRfc4180Reader) {
  const std::vector<std::string> fields = {"p02, \"odd\"",     "",       "plain", "\"leading quote",
                                           "trailing quote\"", "a\r\nb", ",",     "x"};
  const std::string row = csvRow(fields);
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.back(), '\n');
  // Line breaks inside quoted fields belong to the field: parse the whole record.
  EXPECT_EQ(parseRecord(row.substr(0, row.size() - 1)), fields) << row;
  EXPECT_EQ(csvRow({"1", "two", "3.5"}), "1,two,3.5\n");
}

// csvNumber keeps the digits summaries have always had ("%.10g" in the C
// locale), so existing tables stay byte-identical.
TEST(Csv, NumbersMatchTenSignificantDigits) {
  std::mt19937_64 random(20240611);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-12, 12);
  for (int i = 0; i < 2000; ++i) {
    const double v = mantissa(random) * std::pow(10.0, exponent(random));
    char expected[32];
    std::snprintf(expected, sizeof expected, "%.10g", v);
    ASSERT_EQ(csvNumber(v), expected) << "value " << v << " (seed 20240611, draw " << i << ")";
  }
  EXPECT_EQ(csvNumber(1.0 / 3.0), "0.3333333333");
  EXPECT_EQ(csvNumber(56), "56");
  EXPECT_EQ(csvNumber(-0.0), "-0");
  EXPECT_EQ(csvNumber(1e21), "1e+21");
  EXPECT_EQ(csvNumber(std::numeric_limits<double>::quiet_NaN()), "");
  EXPECT_EQ(csvNumber(std::numeric_limits<double>::infinity()), "");
  EXPECT_EQ(csvInteger(-1234567890123), "-1234567890123");
}

TEST(Csv, NumbersIgnoreTheProcessLocale) {
  const std::string before = std::setlocale(LC_NUMERIC, nullptr);
  const char* found = nullptr;
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"})
    if ((found = std::setlocale(LC_NUMERIC, name))) break;
  if (!found) GTEST_SKIP() << "no locale with a decimal comma is installed";
  char printed[32];
  std::snprintf(printed, sizeof printed, "%.10g", 1.5);
  const std::string number = csvNumber(1.5);
  std::setlocale(LC_NUMERIC, before.c_str());
  EXPECT_EQ(std::string(printed), "1,5") << "the locale " << found << " has a decimal comma";
  EXPECT_EQ(number, "1.5");
}

}  // namespace
}  // namespace tessera
