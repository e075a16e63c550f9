#include "soap/envelope.h"

#include <gtest/gtest.h>

namespace stagebridge::soap {
namespace {
TEST(EnvelopePlaceholder, Builds) { SUCCEED(); }
}  // namespace
}  // namespace stagebridge::soap
