// vfo-hook's settings: defaults, the config file, environment and flags,
// and precise errors for bad values.
#include "vfo/hooks/hook_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "vfo/testing/names.h"

namespace vfo::hooks {
namespace {

using namespace std::chrono_literals;

class HookConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir = vfo::testing::makeTempDir("vfo-hookconf-"); }
  void TearDown() override { vfo::testing::removeTree(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
  StatusOr<HookSettings> load(std::vector<std::string> args, const std::string& default_config) {
    args_ = std::move(args);
    return loadHookSettings(
        &args_,
        [this](const char* n) -> const char* {
          auto it = env.find(n);
          return it == env.end() ? nullptr : it->second.c_str();
        },
        default_config);
  }
  std::string dir;
  std::map<std::string, std::string> env;
  std::vector<std::string> args_;
};

TEST_F(HookConfigTest, DefaultsWhenTheDefaultFileIsMissing) {
  auto s = load({"vm1", "prepare", "begin", "-"}, dir + "/absent.conf");
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->api_target, "unix:///run/vfo/vfo.sock");
  EXPECT_EQ(s->socket_dir, "/run/vfo/sockets");
  EXPECT_EQ(s->budget, 5000ms);
  EXPECT_EQ(s->log, "syslog");
  EXPECT_TRUE(s->config_path.empty());
  EXPECT_EQ(args_.size(), 4u);
}

TEST_F(HookConfigTest, FileThenEnvironmentThenFlags) {
  const std::string conf = write("hook.conf",
                                 "# vfo hook\n"
                                 "api_socket = unix:///srv/vfo/api.sock\n"
                                 "socket_dir = /srv/vfo//sockets/\n"
                                 "budget_ms = 4000   # whole run\n"
                                 "ready_timeout_ms=1500\n"
                                 "call_timeout_ms = 800\n"
                                 "max_xml_bytes = 65536\n"
                                 "log = /var/log/vfo-hook.log\n");
  auto s = load({"vm1", "prepare", "begin", "-"}, conf);
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->api_target, "unix:///srv/vfo/api.sock");
  EXPECT_EQ(s->socket_dir, "/srv/vfo/sockets");
  EXPECT_EQ(s->budget, 4000ms);
  EXPECT_EQ(s->ready_timeout, 1500ms);
  EXPECT_EQ(s->call_timeout, 800ms);
  EXPECT_EQ(s->max_xml_bytes, 65536u);
  EXPECT_EQ(s->log, "/var/log/vfo-hook.log");
  EXPECT_EQ(s->config_path, conf);

  env["VFO_SOCKET"] = "unix:///env/vfo.sock";
  env["VFO_SOCKET_DIR"] = "/env/sockets";
  s = load({"vm1", "prepare", "begin", "-"}, conf);
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->api_target, "unix:///env/vfo.sock");
  EXPECT_EQ(s->socket_dir, "/env/sockets");

  s = load({"--socket=unix:///flag/vfo.sock", "--log=none", "vm1", "prepare", "begin", "-"}, conf);
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->api_target, "unix:///flag/vfo.sock");
  EXPECT_EQ(s->log, "none");
  EXPECT_EQ(args_, (std::vector<std::string>{"vm1", "prepare", "begin", "-"}));
}

TEST_F(HookConfigTest, BadValuesNameSourceLineAndKey) {
  auto s = load({}, write("a.conf", "\nbudget_ms = 5s\n"));
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("a.conf:2 budget_ms: '5s' is not a whole number"),
            std::string::npos)
      << s.status().message();
  s = load({}, write("b.conf", "api_socket = /run/vfo/vfo.sock\n"));
  EXPECT_NE(s.status().message().find("not a unix: target"), std::string::npos);
  s = load({}, write("c.conf", "socket_dir = run/vfo\n"));
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  s = load({}, write("d.conf", "sockets = /x\n"));
  EXPECT_NE(s.status().message().find("d.conf:1 sockets: unknown setting"), std::string::npos)
      << s.status().message();
  s = load({}, write("e.conf", "just words\n"));
  EXPECT_NE(s.status().message().find("is not 'key = value'"), std::string::npos);
  s = load({}, write("f.conf", "budget_ms = 1000\nready_timeout_ms = 3000\n"));
  EXPECT_NE(s.status().message().find("longer than budget_ms"), std::string::npos);
  s = load({}, write("g.conf", "call_timeout_ms = 0\n"));
  EXPECT_NE(s.status().message().find("out of range 1..60000"), std::string::npos);
  s = load({"--frobnicate=1", "vm1"}, dir + "/absent.conf");
  EXPECT_NE(s.status().message().find("--frobnicate: unknown flag"), std::string::npos);
  env["VFO_HOOK_LOG"] = "relative.log";
  s = load({}, dir + "/absent.conf");
  EXPECT_NE(s.status().message().find("$VFO_HOOK_LOG"), std::string::npos) << s.status().message();
}

TEST_F(HookConfigTest, AnExplicitConfigMustExist) {
  env["VFO_HOOK_CONFIG"] = dir + "/missing.conf";
  auto s = load({}, dir + "/absent.conf");
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.status().message().find("missing.conf"), std::string::npos);
  env.clear();
  s = load({"--config=" + dir + "/missing2.conf"}, dir + "/absent.conf");
  EXPECT_FALSE(s.isOk());
}

}  // namespace
}  // namespace vfo::hooks
