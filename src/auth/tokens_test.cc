// tokens_test.cc — uuid, token shapes, token hashing.
#include "auth/tokens.h"

#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace stagebridge::auth {
namespace {

TEST(TokensTest, UuidIsLowerCaseRfc4122Version4) {
  const std::regex uuid_re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string uuid = NewUuid();
    EXPECT_TRUE(std::regex_match(uuid, uuid_re)) << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TokensTest, SessionTokenIsUnderscoresAndUuid) {
  const std::regex session_re("^___[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::string token = NewSessionToken();
  EXPECT_TRUE(std::regex_match(token, session_re)) << token;
  EXPECT_NE(token, NewSessionToken());
}

TEST(TokensTest, SecurityTokenIsAtAndBase64Of32Bytes) {
  const std::regex security_re("^@[A-Za-z0-9+/]+=*$");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string token = NewSecurityToken();
    EXPECT_TRUE(std::regex_match(token, security_re)) << token;
    EXPECT_EQ(token.size(), 1u + 44u) << token;  // 32 bytes → 44 base64 characters with padding
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(TokensTest, HashIsStableHexAndDiffersPerToken) {
  const std::regex hex_re("^[0-9a-f]{64}$");
  std::string a = HashToken("___5e71f4bf-0000-4000-8000-000000000000");
  EXPECT_TRUE(std::regex_match(a, hex_re)) << a;
  EXPECT_EQ(a, HashToken("___5e71f4bf-0000-4000-8000-000000000000"));
  EXPECT_NE(a, HashToken("___5e71f4bf-0000-4000-8000-000000000001"));
  EXPECT_TRUE(std::regex_match(HashToken(""), hex_re));
}

TEST(TokensTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

}  // namespace
}  // namespace stagebridge::auth
