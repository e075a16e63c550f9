#include "staging/values.h"

#include <gtest/gtest.h>

namespace stagebridge::staging {
namespace {
TEST(EnvelopePlaceholder, Builds) { SUCCEED(); }
}  // namespace
}  // namespace stagebridge::staging
