// StateStore: round trip, SIGKILL of a writer at random moments, stale temp
// files, corrupt files set aside and reported, newer formats refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "vfo/api/state_store.h"
#include "vfo/base/atomic_file.h"
#include "vfo/testing/names.h"
#include "vfo/v1/state.pb.h"

namespace vfo::api {
namespace {

DesiredState stateWith(int ports) {
  DesiredState s;
  for (int i = 0; i < ports; ++i) {
    PortSpec p;
    p.port_id = "vm" + std::to_string(i) + "/net0";
    p.socket_path = "/run/vfo/sockets/vm" + std::to_string(i) + "-net0.sock";
    p.mac = MacAddress({0x52, 0x54, 0, 0, uint8_t(i >> 8), uint8_t(i)});
    p.vlan = uint16_t(i % 4094);
    p.queues = uint16_t(1 + i % 16);
    s.ports.push_back(p);
  }
  // The store keeps ports sorted by id ("vm10/net0" < "vm2/net0").
  std::sort(s.ports.begin(), s.ports.end(),
            [](const PortSpec& a, const PortSpec& b) { return a.port_id < b.port_id; });
  LagSettings lag;
  lag.updelay = std::chrono::milliseconds(ports);
  s.lag = lag;
  if (ports > 0) s.learned[s.ports[0].port_id] = {{s.ports[0].mac, 0, "198.18.0.1", {}}};
  return s;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir = vfo::testing::makeTempDir("vfo-state-"); }
  void TearDown() override { vfo::testing::removeTree(dir); }
  std::string dir;
};

TEST_F(StateStoreTest, Crc32cKnownAnswer) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);
}

TEST_F(StateStoreTest, NoFileIsAnEmptyState) {
  StateStore store(dir);
  auto l = store.load();
  ASSERT_TRUE(l.isOk());
  EXPECT_EQ(l->state, DesiredState{});
  EXPECT_TRUE(l->problem.empty());
}

TEST_F(StateStoreTest, RoundTripIsExact) {
  StateStore store(dir);
  for (int n : {0, 1, 7}) {
    const DesiredState s = stateWith(n);
    ASSERT_TRUE(store.save(s).isOk());
    auto l = store.load();
    ASSERT_TRUE(l.isOk()) << l.status().toString();
    EXPECT_EQ(l->state, s) << n;
  }
  struct stat st;
  ASSERT_EQ(stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StateStoreTest, StaleTempFilesAreRemovedAtLoad) {
  StateStore store(dir);
  ASSERT_TRUE(store.save(stateWith(2)).isOk());
  ASSERT_TRUE(writeFileAtomically(dir + "/.api-state.pb.tmp.4242", "half").isOk());
  auto l = store.load();
  ASSERT_TRUE(l.isOk());
  EXPECT_EQ(l->stale_temp_files, 1);
  EXPECT_FALSE(std::filesystem::exists(dir + "/.api-state.pb.tmp.4242"));
  EXPECT_EQ(l->state, stateWith(2));
}

TEST_F(StateStoreTest, CorruptFilesAreSetAsideAndReported) {
  StateStore store(dir);
  const std::string good = StateStore::encode(stateWith(3));
  std::vector<std::pair<std::string, std::string>> cases = {
      {"flipped bit", good},
      {"truncated", good.substr(0, good.size() / 2)},
      {"empty", ""},
      {"foreign", "port vm1 state active\n"},
  };
  cases[0].second[good.size() - 10] ^= 0x04;
  for (const auto& [what, bytes] : cases) {
    ASSERT_TRUE(writeFileAtomically(store.path(), bytes).isOk());
    auto l = store.load();
    ASSERT_TRUE(l.isOk()) << what << ": " << l.status().toString();
    EXPECT_EQ(l->state, DesiredState{}) << what;
    EXPECT_NE(l->problem.find("is corrupt"), std::string::npos) << what << ": " << l->problem;
    ASSERT_FALSE(l->set_aside_path.empty()) << what;
    EXPECT_NE(l->problem.find(l->set_aside_path), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(store.path())) << what;
    auto kept = readWholeFile(l->set_aside_path);
    ASSERT_TRUE(kept.isOk()) << what;
    EXPECT_EQ(*kept, bytes) << what;  // kept byte for byte
    std::filesystem::remove(l->set_aside_path);
  }
  // A bit flip is caught by the CRC, not by luck of the parser.
  EXPECT_NE(StateStore::decode(cases[0].second).status().message().find("CRC-32C"),
            std::string::npos);
}

TEST_F(StateStoreTest, InvalidContentWithAValidCrcIsCorruptToo) {
  v1::DesiredState d;
  d.add_ports()->set_port_id("vm 1");  // not a valid id
  v1::StateFile f;
  f.set_format_version(1);
  f.set_desired(d.SerializeAsString());
  f.set_crc32c(crc32c(f.desired()));
  auto s = StateStore::decode(f.SerializeAsString());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("ports[0].port_id"), std::string::npos)
      << s.status().message();
}

TEST_F(StateStoreTest, ANewerFormatIsRefusedAndLeftInPlace) {
  StateStore store(dir);
  v1::StateFile f;
  f.set_format_version(2);
  f.set_desired("");
  f.set_crc32c(0);
  ASSERT_TRUE(writeFileAtomically(store.path(), f.SerializeAsString()).isOk());
  auto l = store.load();
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("newer vfod"), std::string::npos) << l.status().message();
  EXPECT_TRUE(std::filesystem::exists(store.path()));
}

// A writer killed with SIGKILL at random moments never leaves a file that
// does not load: the reader sees one complete generation, and the stale
// temp file is cleaned up.
TEST_F(StateStoreTest, SigkillDuringSavesNeverLeavesAnUnloadableFile) {
  StateStore store(dir);
  ASSERT_TRUE(store.save(stateWith(0)).isOk());
  std::mt19937 rng(7);
  for (int round = 0; round < 25; ++round) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(pipefd[0]);
      StateStore child(dir);
      for (int gen = 1;; ++gen) {
        if (!child.save(stateWith(gen % 60)).isOk()) _exit(3);
        (void)!write(pipefd[1], "x", 1);
      }
    }
    close(pipefd[1]);
    const int wait_gens = 1 + int(rng() % 20);
    char c;
    for (int i = 0; i < wait_gens; ++i) ASSERT_EQ(read(pipefd[0], &c, 1), 1);
    kill(pid, SIGKILL);
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    auto l = store.load();
    ASSERT_TRUE(l.isOk()) << l.status().toString();
    ASSERT_TRUE(l->problem.empty()) << round << ": " << l->problem;
    // One complete generation: its size matches its own LAG updelay marker.
    EXPECT_EQ(l->state, stateWith(int(l->state.ports.size()))) << round;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(".api-state.pb.tmp."), std::string::npos);
  }
}

}  // namespace
}  // namespace vfo::api
