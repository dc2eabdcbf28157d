#include "sluice/status.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return invalid_argument("odd");
  return value / 2;
}

Result<int> quarter(int value) {
  SLUICE_ASSIGN_OR_RETURN(int once, half(value));
  return half(once);
}

Status check_even(int value) {
  SLUICE_RETURN_IF_ERROR(half(value).status());
  return {};
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status status = not_found("stream s1");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.to_string(), "NotFound: stream s1");
  EXPECT_TRUE(Status().ok());
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  EXPECT_EQ(*quarter(8), 2);
  Result<int> failed = quarter(6);  // 6 → 3, which is odd
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(check_even(4).ok());
  EXPECT_EQ(check_even(5).message(), "odd");
}

TEST(StatusDeathTest, ValueOfFailedResultAborts) {
  Result<int> failed = half(3);
  EXPECT_DEATH((void)failed.value(), "check failed");
}

}  // namespace
}  // namespace sluice
