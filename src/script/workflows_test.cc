// workflows_test.cc — user workflow files: parsing, positions, bad files.
#include "script/workflows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stagebridge::script {
namespace {}  // namespace
}  // namespace stagebridge::script
