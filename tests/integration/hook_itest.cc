// The vfo-hook binary as libvirt runs it: argv `vfo <domain> <op> <sub-op> -`,
// the domain XML on stdin, settings from the file named by $VFO_HOOK_CONFIG,
// talking to a real vfod (software VFs: macvlans on the lab's veths) through
// its API socket. The test checks vfod's side through its own gRPC stub,
// independent of the hook's client.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"
#include "vfo/v1/vfo.grpc.pb.h"
#include "vfod_lab.h"

namespace vfo::hooks {
namespace {

using namespace std::chrono_literals;
using vfo::testing::RunResult;
using vfo::vhost::itest::MiniLab;
using vfo::vhost::itest::Vfod;

constexpr const char* kSoftwareVfs = "  vf_provider: VF_PROVIDER_SOFTWARE\n  primary: \"pf0\"\n";

std::string hookBinary() {
  return vfo::testing::binaryDir() + "/libvirt-hooks/vfo-hook";
}

class HookItest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(hookBinary().c_str(), X_OK), 0) << hookBinary();
    ASSERT_TRUE(lab.ok());
    dir = vfo::testing::makeTempDir("vfo-hook-it-");
    vfod = std::make_unique<Vfod>(lab, dir, "", "", "", kSoftwareVfs);
    socket_dir = vfod->socketDir();
    ASSERT_TRUE(vfod->start());
    conf = dir + "/hook.conf";
    std::ofstream(conf) << "# written by hook_itest\n"
                        << "api_socket = " << vfod->apiTarget() << "\n"
                        << "socket_dir = " << socket_dir << "\n"
                        << "log = " << dir << "/hook.log\n"
                        << "budget_ms = 4000\n"
                        << "ready_timeout_ms = 3000\n";
    stub = v1::Vfo::NewStub(
        grpc::CreateChannel(vfod->apiTarget(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    stub.reset();
    if (vfod) {
      if (vfod->pid() > 0) ::kill(vfod->pid(), SIGCONT);  // in case a test stopped it
      vfod->stop();
    }
    vfod.reset();
    vfo::testing::removeTree(dir);
  }

  // A fixture with its socket paths moved into this test's socket directory.
  std::string fixture(const std::string& name) const {
    std::ifstream f(vfo::testing::sourceDir() + "/tests/unit/libvirt-hooks/fixtures/" + name);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string xml = ss.str();
    EXPECT_FALSE(xml.empty()) << name;
    for (size_t at; (at = xml.find("/run/vfo/sockets")) != std::string::npos;)
      xml.replace(at, std::strlen("/run/vfo/sockets"), socket_dir);
    return xml;
  }

  // Runs the hook as libvirt does; `ms` gets its wall time.
  RunResult hook(const std::string& domain, const std::string& op, const std::string& sub,
                 const std::string& xml, int64_t* ms = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    RunResult r = vfo::testing::run(
        {"env", "VFO_HOOK_CONFIG=" + conf, hookBinary(), domain, op, sub, "-"}, 20s, xml);
    if (ms)
      *ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  t0)
                .count();
    return r;
  }

  grpc::Status get(const std::string& id, v1::Port* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::GetPortRequest req;
    req.set_port_id(id);
    v1::Port resp;
    auto st = stub->GetPort(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  int portCount() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::ListPortsResponse resp;
    EXPECT_TRUE(stub->ListPorts(&ctx, v1::ListPortsRequest(), &resp).ok());
    return resp.ports_size();
  }
  std::string hookLog() const {
    std::ifstream f(dir + "/hook.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static bool isSocket(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }

  MiniLab lab;
  std::string dir, socket_dir, conf;
  std::unique_ptr<Vfod> vfod;
  std::unique_ptr<v1::Vfo::Stub> stub;
};

TEST_F(HookItest, PrepareStartedStoppedReleaseManageThePorts) {
  const std::string xml = fixture("several_with_foreign.xml");
  int64_t ms = 0;
  RunResult r = hook("vm3", "prepare", "begin", xml, &ms);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << hookLog();
  EXPECT_EQ(r.out, "") << "prepare is not a filter";
  EXPECT_EQ(r.err, "");
  std::printf("prepare begin of 2 ports: %lld ms wall (process start to exit)\n",
              static_cast<long long>(ms));
  EXPECT_EQ(portCount(), 2) << "the OVS interface is not vfod's";
  v1::Port p;
  ASSERT_TRUE(get("vm3-net0", &p).ok());
  EXPECT_EQ(p.spec().socket_path(), socket_dir + "/vm3-net0.sock");
  EXPECT_EQ(p.spec().role(), v1::VHOST_ROLE_SERVER);
  EXPECT_EQ(p.spec().mac(), "52:54:00:12:34:31");
  EXPECT_EQ(p.state(), v1::PORT_STATE_WAITING);
  EXPECT_TRUE(isSocket(socket_dir + "/vm3-net0.sock"));
  ASSERT_TRUE(get("vm3-net1", &p).ok());
  EXPECT_EQ(p.spec().role(), v1::VHOST_ROLE_CLIENT);
  EXPECT_EQ(p.spec().queues(), 2u);

  // Idempotent: a second prepare changes nothing.
  r = hook("vm3", "prepare", "begin", xml);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(portCount(), 2);

  r = hook("vm3", "started", "begin", xml, &ms);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::printf("started begin of 2 ports: %lld ms wall\n", static_cast<long long>(ms));
  ASSERT_TRUE(get("vm3-net1", &p).ok());
  EXPECT_EQ(p.spec().domain_name(), "vm3");
  EXPECT_EQ(p.spec().domain_uuid(), "11111111-2222-3333-4444-555555555555");

  r = hook("vm3", "stopped", "end", xml, &ms);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::printf("stopped end of 2 ports: %lld ms wall\n", static_cast<long long>(ms));
  EXPECT_EQ(r.err, "");
  ASSERT_TRUE(get("vm3-net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);
  ASSERT_TRUE(get("vm3-net1", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);

  r = hook("vm3", "release", "end", xml, &ms);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::printf("release end of 2 ports: %lld ms wall\n", static_cast<long long>(ms));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(portCount(), 0);
  EXPECT_EQ(get("vm3-net0").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(isSocket(socket_dir + "/vm3-net0.sock"));
  // Again: a missing port is success.
  r = hook("vm3", "release", "end", xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(hookLog().find("port vm3-net0 already gone"), std::string::npos) << hookLog();
}

TEST_F(HookItest, AGuestUsesTheHooksPortAndDetachLastsUntilItComesBack) {
  using vfo::vhost::itest::Testpmd;
  using vfo::vhost::itest::TestpmdOptions;
  const std::string xml = fixture("client_mode.xml");  // vm1-net0, 52:54:00:12:34:01
  const std::string sock = socket_dir + "/vm1-net0.sock";
  auto state = [&] {
    v1::Port p;
    return get("vm1-net0", &p).ok() ? p.state() : v1::PORT_STATE_UNSPECIFIED;
  };
  RunResult r = hook("vm1", "prepare", "begin", xml);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << hookLog() << vfod->log();
  ASSERT_EQ(hook("vm1", "started", "begin", xml).exit_code, 0);
  {
    Testpmd guest(dir, TestpmdOptions(sock).withMac("52:54:00:12:34:01"));
    ASSERT_TRUE(vfo::testing::waitFor([&] { return state() == v1::PORT_STATE_ACTIVE; }, 20s, 100ms))
        << guest.log() << vfod->log();
    auto out = lab.pingUntilAnswered(vfo::vhost::itest::kGuestIp, 3);
    ASSERT_TRUE(out.has_value()) << vfod->log();
    EXPECT_NE(out->find("3 received"), std::string::npos) << *out;
    guest.stop();
  }
  ASSERT_TRUE(vfo::testing::waitFor([&] { return state() == v1::PORT_STATE_WAITING; }, 10s, 50ms))
      << "the guest left: " << v1::PortState_Name(state());
  ASSERT_EQ(hook("vm1", "stopped", "end", xml).exit_code, 0);
  EXPECT_EQ(state(), v1::PORT_STATE_DETACHED);
  // The port, its socket and VFs stay; a guest connecting again ends "detached".
  EXPECT_TRUE(isSocket(sock));
  {
    Testpmd guest(dir, TestpmdOptions(sock).withMac("52:54:00:12:34:01"));
    ASSERT_TRUE(vfo::testing::waitFor([&] { return state() == v1::PORT_STATE_ACTIVE; }, 20s, 100ms))
        << v1::PortState_Name(state()) << guest.log() << vfod->log();
    guest.stop();
  }
  ASSERT_TRUE(vfo::testing::waitFor([&] { return state() == v1::PORT_STATE_WAITING; }, 10s, 50ms))
      << "not detached any more: " << v1::PortState_Name(state());
  ASSERT_EQ(hook("vm1", "release", "end", xml).exit_code, 0);
  EXPECT_EQ(get("vm1-net0").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(isSocket(sock));
  RunResult vfs = vfo::testing::sh("ip -o link show type macvlan | grep -cE '@(" + lab.pf0 + "|" +
                                   lab.pf1 + "):' || true");
  EXPECT_EQ(std::atoi(vfs.out.c_str()), 0) << "the software VFs are released";
}

TEST_F(HookItest, FiltersEchoTheXmlByteForByte) {
  const std::string migrating = fixture("server_mode_multiqueue.xml");
  RunResult r = hook("vm2", "migrate", "begin", migrating);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << hookLog();
  EXPECT_EQ(r.out, migrating);
  EXPECT_EQ(r.err, "");
  v1::Port p;
  ASSERT_TRUE(get("vm2-net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_INCOMING);
  EXPECT_TRUE(p.spec().incoming_migration());
  EXPECT_EQ(p.spec().queues(), 4u);
  // libvirt then runs prepare on the destination: the incoming port is it.
  r = hook("vm2", "prepare", "begin", migrating);
  EXPECT_EQ(r.exit_code, 0) << r.describe() << hookLog();
  EXPECT_EQ(portCount(), 1);

  const std::string restoring = fixture("metadata.xml");
  // vfod runs active-backup and refuses the LAG pin the metadata asks for:
  // the filter fails (libvirt aborts the restore), no XML, nothing created.
  r = hook("vm5", "restore", "begin", restoring);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("port vm5-net0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("balance-vm"), std::string::npos) << r.err;
  EXPECT_EQ(get("vm5-net0").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HookItest, RestoreAppliesTheMetadataOnABalanceVmVfod) {
  // vfod cannot change its LAG mode while ports run: start it in balance-vm.
  vfod->stop();
  vfod = std::make_unique<Vfod>(lab, dir, "", "", "",
                                std::string(kSoftwareVfs) + "  mode: LAG_MODE_BALANCE_VM\n");
  ASSERT_TRUE(vfod->start());
  const std::string restoring = fixture("metadata.xml");
  RunResult r;
  v1::Port p;
  r = hook("vm5", "restore", "begin", restoring);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << hookLog();
  EXPECT_EQ(r.out, restoring);
  ASSERT_TRUE(get("vm5-net0", &p).ok());
  EXPECT_EQ(p.spec().vlan(), 100u);
  EXPECT_EQ(p.spec().pinned_member(), "pf1");
  EXPECT_EQ(p.active_member(), "pf1") << "balance-vm homes the port on its pin";
  ASSERT_EQ(p.spec().allowed_macs_size(), 2);
  ASSERT_TRUE(get("vm5-net1", &p).ok());
  EXPECT_EQ(p.spec().vlan(), 200u);
}

TEST_F(HookItest, ReconnectRecreatesAPortVfodLost) {
  // libvirtd restarted while the VM runs; meanwhile vfod lost the port.
  const std::string xml = fixture("client_mode.xml");
  ASSERT_EQ(hook("vm1", "prepare", "begin", xml).exit_code, 0);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::DeletePortRequest req;
    req.set_port_id("vm1-net0");
    v1::DeletePortResponse resp;
    ASSERT_TRUE(stub->DeletePort(&ctx, req, &resp).ok());
  }
  RunResult r = hook("vm1", "reconnect", "begin", xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "") << "reconnect is not a filter";
  v1::Port p;
  ASSERT_TRUE(get("vm1-net0", &p).ok());
  EXPECT_EQ(p.spec().domain_name(), "vm1");
  EXPECT_TRUE(isSocket(socket_dir + "/vm1-net0.sock"));
  // With the port there, reconnect changes nothing.
  r = hook("vm1", "reconnect", "begin", xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(portCount(), 1);
}

TEST_F(HookItest, VfodDownFailsPrepareClearlyAndLetsReleaseSucceed) {
  const std::string xml = fixture("client_mode.xml");
  vfod->stop();
  int64_t ms = 0;
  RunResult r = hook("vm1", "prepare", "begin", xml, &ms);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_EQ(r.err.rfind("vfo: vfod is not reachable, cannot create vm1: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(vfod->apiTarget()), std::string::npos) << "names the socket: " << r.err;
  EXPECT_LT(ms, 3000) << "a dead vfod is noticed at once";

  r = hook("vm1", "stopped", "end", xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.err, "");
  r = hook("vm1", "release", "end", xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.err, "");
  EXPECT_NE(hookLog().find("or `vfoctl port delete vm1-net0`"), std::string::npos) << hookLog();
  r = hook("vm1", "reconnect", "begin", xml);
  EXPECT_EQ(r.exit_code, 0) << "a running VM is not killed because vfod is down: " << r.describe();
}

TEST_F(HookItest, AHungVfodCostsAtMostTheBudget) {
  // vfod stopped (SIGSTOP): its socket accepts, nothing answers.
  ASSERT_EQ(::kill(vfod->pid(), SIGSTOP), 0);
  const std::string xml = fixture("several_with_foreign.xml");
  int64_t ms = 0;
  RunResult r = hook("vm3", "prepare", "begin", xml, &ms);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("did not answer within 2000 ms"), std::string::npos) << r.err;
  EXPECT_GE(ms, 1900);
  EXPECT_LT(ms, 4000 + 1000) << "budget_ms = 4000";
  r = hook("vm3", "release", "end", xml, &ms);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_LT(ms, 4000 + 1000);
  ASSERT_EQ(::kill(vfod->pid(), SIGCONT), 0);
}

TEST_F(HookItest, TheWatchdogEndsARunWhoseStdinNeverCloses) {
  std::ofstream(conf, std::ios::app) << "budget_ms = 1000\nready_timeout_ms = 500\n";
  // stdin stays open and empty: the hook blocks reading it.
  vfo::testing::Process p(
      {"env", "VFO_HOOK_CONFIG=" + conf, hookBinary(), "vm1", "prepare", "begin", "-"},
      dir + "/stuck.log", /*keep_stdin=*/true);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.waitExit(10s)) << "the hook must end by itself";
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(p.exitCode(), 128 + SIGALRM);
  EXPECT_GE(took, 3500ms) << "1 s budget + 0.5 s ready timeout, rounded up to 2 s, + 2 s";
  EXPECT_LT(took, 6s);
  EXPECT_EQ(portCount(), 0);
}

TEST_F(HookItest, APortVfodHasWithOtherSettingsFailsPrepareNamingTheField) {
  // An operator made vm1-net0 by hand with another VLAN.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::CreatePortRequest req;
  req.mutable_spec()->set_port_id("vm1-net0");
  req.mutable_spec()->set_mac("52:54:00:12:34:01");
  req.mutable_spec()->set_vlan(42);
  v1::Port resp;
  ASSERT_TRUE(stub->CreatePort(&ctx, req, &resp).ok());
  RunResult r = hook("vm1", "prepare", "begin", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("ALREADY_EXISTS"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("another vlan"), std::string::npos) << r.err;
  v1::Port p;
  ASSERT_TRUE(get("vm1-net0", &p).ok()) << "a port the hook did not create is never undone";
  EXPECT_EQ(p.spec().vlan(), 42u);
  // On a running VM (libvirtd restarted) the same conflict kills nothing
  // silently: reconnect fails and says the network cannot work.
  r = hook("vm1", "reconnect", "begin", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("cannot work"), std::string::npos) << r.err;
}

TEST_F(HookItest, BadInputIsAClearErrorAndCreatesNothing) {
  RunResult r = hook("broken", "prepare", "begin", fixture("malformed.xml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("domain broken"), std::string::npos) << r.err;
  r = hook("vm1", "prepare", "begin", "");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  // Larger than the 4 MiB default: refused without parsing.
  std::string huge = fixture("client_mode.xml");
  huge.insert(huge.find("</domain>"), std::string(5u << 20, ' '));
  r = hook("vm1", "prepare", "begin", huge);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("more than the limit of 4194304 bytes"), std::string::npos) << r.err;
  // A socket outside vfod's socket directory.
  std::string outside = fixture("client_mode.xml");
  outside.replace(outside.find(socket_dir), socket_dir.size(), dir);
  r = hook("vm1", "prepare", "begin", outside);
  EXPECT_EQ(r.exit_code, 0) << "not vfod's interface: ignored, not refused: " << r.describe();
  EXPECT_EQ(portCount(), 0);
  // A bad config: prepare fails and says which line; release still succeeds.
  std::ofstream(conf, std::ios::app) << "budget_ms = soon\n";
  r = hook("vm1", "prepare", "begin", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("hook.conf:7 budget_ms: 'soon' is not a whole number"), std::string::npos)
      << r.err;
  r = hook("vm1", "release", "end", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(portCount(), 0);
}

TEST_F(HookItest, InstallPutsAnExecutableHookWhereLibvirtLooks) {
  const std::string dest = dir + "/destdir";
  RunResult r = vfo::testing::run(
      {"env", "DESTDIR=" + dest, "cmake", "--install", vfo::testing::binaryDir()}, 60s);
  ASSERT_TRUE(r.ok()) << r.describe();
  const std::string installed = dest + "/etc/libvirt/hooks/qemu.d/vfo";
  struct stat st;
  ASSERT_EQ(::stat(installed.c_str(), &st), 0) << r.out;
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_NE(r.out.find("/bin/vfoctl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/bin/vfod"), std::string::npos) << r.out;
  // The installed file is the hook: it serves a prepare.
  const std::string xml = fixture("client_mode.xml");
  r = vfo::testing::run(
      {"env", "VFO_HOOK_CONFIG=" + conf, installed, "vm1", "prepare", "begin", "-"}, 20s, xml);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(portCount(), 1);
}

TEST_F(HookItest, OperationsTheHookDoesNotHandleExitZero) {
  for (auto [op, sub] : std::vector<std::pair<std::string, std::string>>{
           {"prepare", "end"}, {"start", "end"}, {"attach", "begin"}, {"release", "begin"}}) {
    RunResult r = hook("vm1", op, sub, fixture("client_mode.xml"));
    EXPECT_EQ(r.exit_code, 0) << op << " " << sub << ": " << r.describe();
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(portCount(), 0);
}

}  // namespace
}  // namespace vfo::hooks
