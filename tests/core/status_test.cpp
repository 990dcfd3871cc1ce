#include "core/status.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

Result<int> parsePositive(int x) {
  if (x <= 0) return Error{StatusCode::kInvalidArgument, "must be positive", "x"};
  return x * 2;
}

Status useTry(int x, int* out) {
  TESSERA_ASSIGN_OR_RETURN(int doubled, parsePositive(x));
  *out = doubled;
  return Status();
}

TEST(Status, OkAndErrorCarryCodeMessageContext) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), StatusCode::kOk);
  Status bad(StatusCode::kNotFound, "no such file", "/tmp/x.nii");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.toString(), "no such file (/tmp/x.nii)");
}

TEST(Status, WithContextKeepsTheFirstContext) {
  Status s = Status(StatusCode::kIoError, "disk full").withContext("a.nii");
  EXPECT_EQ(s.error().context, "a.nii");
  s = std::move(s).withContext("b.nii");
  EXPECT_EQ(s.error().context, "a.nii");
}

TEST(Result, ValueOrErrorAndEarlyReturn) {
  int out = 0;
  EXPECT_TRUE(useTry(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status failed = useTry(-1, &out);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(failed.error().context, "x");
  EXPECT_EQ(out, 8);
}

TEST(Status, CodeNamesAreDistinct) {
  EXPECT_STREQ(statusCodeName(StatusCode::kCancelled), "cancelled");
  EXPECT_STRNE(statusCodeName(StatusCode::kIoError), statusCodeName(StatusCode::kCorruptData));
}

}  // namespace
}  // namespace tessera
