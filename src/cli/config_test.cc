#include "cli/config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace stagebridge::cli {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string WriteToml(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() / ("sbconfig_" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path_) << text;
    return path_.string();
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  std::filesystem::path path_;
};

TEST_F(ConfigTest, DefaultsAreTheEmbeddedSqlite) {
  Result<Config> c = LoadConfig("", {}, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Get("local_db"), "sqlite:data/local.db");
  EXPECT_EQ(c->Get("cloud_db"), "sqlite:data/cloud.db");
  EXPECT_EQ(c->Get("listen"), "127.0.0.1:8080");
  EXPECT_EQ(c->Get("replicate_schedule"), "every 1h");
  EXPECT_EQ(c->origins.at("listen"), "default");
}

TEST_F(ConfigTest, FileThenEnvThenFlags) {
  std::string path = WriteToml(
      "local_db = \"sqlite:/tmp/a.db\"\nlisten = \"127.0.0.1:9000\"\nthreads = 3\n"
      "replicate_schedule = \"every 30s\"\n");
  Result<Config> c =
      LoadConfig(path, {{"listen", "127.0.0.1:9100"}},
                 {{"STAGEBRIDGE_LOCAL_DB", "sqlite:/tmp/b.db"}, {"STAGEBRIDGE_LISTEN", "127.0.0.1:9050"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Get("local_db"), "sqlite:/tmp/b.db");  // env beats file
  EXPECT_EQ(c->origins.at("local_db"), "env STAGEBRIDGE_LOCAL_DB");
  EXPECT_EQ(c->Get("listen"), "127.0.0.1:9100");  // flag beats env
  EXPECT_EQ(c->origins.at("listen"), "flag --listen");
  EXPECT_EQ(c->GetInt("threads"), 3);  // integers in the file
  EXPECT_EQ(c->Get("replicate_schedule"), "every 30s");
}

TEST_F(ConfigTest, UnknownFileKeyIsAnError) {
  std::string path = WriteToml("lcoal_db = \"sqlite:x.db\"\n");
  Result<Config> c = LoadConfig(path, {}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown key 'lcoal_db'"), std::string::npos);
}

TEST_F(ConfigTest, MalformedTomlNamesTheFile) {
  std::string path = WriteToml("listen = \n");
  Result<Config> c = LoadConfig(path, {}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(path), std::string::npos);
}

TEST_F(ConfigTest, BadValuesNameKeyAndOrigin) {
  auto c = LoadConfig("", {}, {{"STAGEBRIDGE_LOCAL_DB", "mysql://x"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("local_db (env STAGEBRIDGE_LOCAL_DB)"), std::string::npos)
      << c.status().message();
  c = LoadConfig("", {{"listen", "nowhere"}}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("listen (flag --listen)"), std::string::npos);
  c = LoadConfig("", {{"threads", "-1"}}, {});
  EXPECT_FALSE(c.ok());
  c = LoadConfig("", {{"log_level", "loud"}}, {});
  EXPECT_FALSE(c.ok());
  c = LoadConfig("", {{"cleanup_schedule", "daily 25:00"}}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cleanup_schedule"), std::string::npos);
  c = LoadConfig("", {{"max_connections", "-3"}}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("max_connections (flag --max-connections)"), std::string::npos);
  c = LoadConfig("", {{"max_inflight_body_bytes", "100000"}, {"max_body_bytes", "200000"}}, {});
  ASSERT_FALSE(c.ok()) << "a budget smaller than one largest body";
  EXPECT_NE(c.status().message().find("max_inflight_body_bytes (flag --max-inflight-body-bytes): 100000 is below "
                                      "max_body_bytes (200000)"),
            std::string::npos)
      << c.status().message();
  EXPECT_TRUE(LoadConfig("", {{"max_inflight_body_bytes", "200000"}, {"max_body_bytes", "200000"}}, {}).ok());
}

TEST_F(ConfigTest, RateLimitIsOffByDefault) {
  auto c = LoadConfig("", {}, {});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->GetInt("rate_limit_calls"), 0);
  EXPECT_EQ(c->GetInt("rate_limit_burst"), 0);
  c = LoadConfig("", {}, {{"STAGEBRIDGE_RATE_LIMIT_CALLS", "50"}, {"STAGEBRIDGE_RATE_LIMIT_BURST", "200"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->GetInt("rate_limit_calls"), 50);
  EXPECT_EQ(c->GetInt("rate_limit_burst"), 200);
  c = LoadConfig("", {{"rate_limit_calls", "-1"}}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("rate_limit_calls (flag --rate-limit-calls)"), std::string::npos);
  EXPECT_FALSE(LoadConfig("", {{"rate_limit_burst", "ten"}}, {}).ok());
  EXPECT_FALSE(LoadConfig("", {{"rate_limit_calls", "1000001"}}, {}).ok());
}

TEST(ScheduleTest, Forms) {
  for (const char* ok : {"every 1s", "every 30s", "every 5m", "every 1h", "every 2d", "hourly", "daily 04:00", "off"}) {
    EXPECT_TRUE(ValidateSchedule("k", ok).ok()) << ok;
  }
  for (const char* bad : {"", "every", "every 0s", "every 5", "every 5x", "daily 4:00", "daily 24:00", "weekly"}) {
    EXPECT_FALSE(ValidateSchedule("k", bad).ok()) << bad;
  }
}

TEST(NamesTest, EnvAndFlagNames) {
  EXPECT_EQ(EnvName("local_db"), "STAGEBRIDGE_LOCAL_DB");
  EXPECT_EQ(FlagName("replicate_schedule"), "--replicate-schedule");
}

}  // namespace
}  // namespace stagebridge::cli
