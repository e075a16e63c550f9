#include "base/status.h"

#include <gtest/gtest.h>

namespace stagebridge {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd value " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  SB_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("table X");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "Not found: table X");
  EXPECT_EQ(s.WithContext("load").message(), "load: table X");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd value 3");
}

}  // namespace
}  // namespace stagebridge
