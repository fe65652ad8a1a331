// End to end with a real libvirt: a private libvirtd (vfo::testing::
// LibvirtDaemon) starts a transient TCG domain whose vhost-user interface is a
// vfod port, and the guest reaches the lab's remote host through vfod.
//
//   virsh create ── libvirtd (own namespace, own dirs) ── QEMU TCG, direct kernel boot
//        │ hooks/qemu.d/vfo (vfo-hook)                     │ vhost-user, QEMU = client
//        └──── ops API ────> vfod (server) <──────────────┘
//                            ├── af_packet on a software VF (macvlan) on <lab>-pf0 (active)
//                            └── af_packet on a software VF (macvlan) on <lab>-pf1 (standby)
//   <lab>-pf0/pf1 ── wires ── ToR br0 ── <lab>-rem 198.18.0.100
//
// Two ways to get the port:
//  - config: vfod's config file names port vm1 with uplinks on macvlans the
//    test made; libvirt only starts QEMU.
//  - hook: vfo-hook, installed as hooks/qemu.d/vfo with its /etc/vfo/hook.conf
//    (a private directory of libvirtd's namespace), creates the port at
//    `prepare begin` through vfod's API (vfod makes the software VFs),
//    records the owner, keeps it across a libvirtd restart (`reconnect`)
//    and deletes it at `release end` after `virsh destroy`. vfod's libvirt
//    reconciliation is on against the private libvirtd: it must not delete
//    the port while libvirtd restarts, and it must recreate the port when
//    vfod loses it under the running domain (QEMU then reconnects).
//
// The domain XML carries what LAB.md says a vhost-user guest needs under
// libvirt 9.0 / QEMU 7.2 TCG: memfd-backed shared memory and the
// qemu:override setting vectors=0 on the virtio-net device. A recording hook
// (hooks/qemu.d/10-record, run before "vfo") logs every call libvirt makes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../integration/vfod_lab.h"
#include "guest_lab.h"
#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"
#include "vfo/testing/libvirt_daemon.h"

namespace vfo::e2e {
namespace {

using namespace std::chrono_literals;
using vfo::testing::LibvirtDaemon;
using vfo::testing::LibvirtDaemonOptions;
using vfo::vhost::itest::Vfod;

constexpr const char* kGuestIp = "198.18.0.10";
constexpr const char* kGuestCidr = "198.18.0.10/24";
constexpr const char* kGuestMac = "52:54:00:18:00:0b";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool processAlive(pid_t pid) {
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::string cmdlineOf(pid_t pid) {
  std::string s = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A transient domain: TCG, direct kernel boot of the test guest (its
// kernel command line as run-qemu-guest builds it, the script in
// vfo.script, held after it), memfd-backed shared memory (vhost-user maps
// it), the console in `console_path`, and, unless `socket` is empty, one
// vhost-user interface with QEMU as client and vectors=0 on its virtio-net
// device (QEMU 7.2 TCG crashes with MSI-X vectors). With `reconnect` QEMU
// reconnects every second after losing the socket; only the case that takes
// the socket away uses it (without it, a socket missing at start fails
// `virsh create` at once with QEMU's message).
std::string domainXml(const std::string& name, const vfo::testing::GuestImage& image,
                      const std::string& socket, const std::string& console_path,
                      const std::string& script, bool reconnect = false) {
  const std::string b64 = vfo::testing::run({"base64", "-w0"}, 10s, script).out;
  std::string xml =
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
      "  <name>" +
      name +
      "</name>\n"
      "  <memory unit='MiB'>256</memory>\n"
      "  <vcpu>1</vcpu>\n"
      "  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n"
      "  <os>\n"
      "    <type arch='x86_64' machine='pc'>hvm</type>\n"
      "    <kernel>" +
      image.kernel + "</kernel>\n    <initrd>" + image.initrd +
      "</initrd>\n"
      "    <cmdline>console=ttyS0 panic=-1 quiet loglevel=3 vfo.ip=" +
      kGuestCidr + " vfo.mac=" + kGuestMac + " vfo.hold=1 vfo.script=" + b64 +
      "</cmdline>\n"
      "  </os>\n"
      "  <on_reboot>destroy</on_reboot>\n"
      "  <devices>\n";
  if (!socket.empty())
    xml += "    <interface type='vhostuser'>\n      <mac address='" + std::string(kGuestMac) +
           "'/>\n      <source type='unix' path='" + socket + "' mode='client'>\n" +
           (reconnect ? "        <reconnect enabled='yes' timeout='1'/>\n" : "") +
           "      </source>\n"
           "      <model type='virtio'/>\n"
           "      <alias name='ua-net0'/>\n"
           "    </interface>\n";
  xml += "    <serial type='file'><source path='" + console_path +
         "'/><target port='0'/></serial>\n"
         "  </devices>\n";
  if (!socket.empty())
    xml +=
        "  <qemu:override>\n"
        "    <qemu:device alias='ua-net0'>\n"
        "      <qemu:frontend>\n"
        "        <qemu:property name='vectors' type='unsigned' value='0'/>\n"
        "      </qemu:frontend>\n"
        "    </qemu:device>\n"
        "  </qemu:override>\n";
  return xml + "</domain>\n";
}

class LibvirtE2eTest : public vfo::e2e::GuestLabTest {
 protected:
  void SetUp() override {
    if (std::string why = LibvirtDaemon::unavailableReason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_NO_FATAL_FAILURE(setUpGuestLab("vfo-lv-e2e-"));
    domain_ = vfo::testing::uniqueName("vfo-lv-");
    hook_log_ = dir_ + "/hook-calls.log";
    // A hook that records each call: "<domain> <op> <sub-op> <extra>".
    const std::string hook = dir_ + "/10-record";
    std::ofstream(hook) << "#!/bin/sh\ncat >/dev/null\necho \"$1 $2 $3 $4\" >> " << hook_log_
                        << "\n";
    ASSERT_EQ(::chmod(hook.c_str(), 0755), 0);
    libvirt_options_.qemu_hooks = {hook};
  }
  void TearDown() override {
    // Destroys the domain (if the test did not) before vfod and the lab go.
    if (libvirt_) libvirt_->stop();
    libvirt_.reset();
    vfod_.reset();
    GuestLabTest::TearDown();
  }

  std::string socket() const { return dir_ + "/sock/vm1.sock"; }
  std::string console() const { return readFile(dir_ + "/console.log"); }
  std::string hookCalls() const { return readFile(hook_log_); }

  // vfod serving port vm1 on socket() from its config file: QEMU connects
  // (libvirt mode='client'); uplinks on makeSoftwareVfs()'s macvlans.
  std::unique_ptr<Vfod> makeConfigVfod() {
    const std::string port =
        std::string("ports {\n  id: \"vm1\"\n  mac: \"") + kGuestMac +
        "\"\n  role: SOCKET_ROLE_SERVER\n  uplinks { member: \"pf0\" devargs: "
        "\"net_af_packet_e0,iface=" +
        vfName(0) +
        "\" }\n  uplinks { member: \"pf1\" devargs: \"net_af_packet_e1,iface=" + vfName(1) +
        "\" }\n}\n";
    return std::make_unique<Vfod>(lab_->name(), lab_->pf(0), lab_->pf(1), dir_, port);
  }

  // vfod with no ports and its API on; API ports get software VFs (one
  // macvlan per member, made and removed by vfod).
  std::unique_ptr<Vfod> makeApiVfod() {
    return std::make_unique<Vfod>(lab_->name(), lab_->pf(0), lab_->pf(1), dir_, "", "", "",
                                  "  vf_provider: VF_PROVIDER_SOFTWARE\n  primary: \"pf0\"\n");
  }

  // Installs vfo-hook as hooks/qemu.d/vfo, as `cmake --install` does, with
  // its default config file /etc/vfo/hook.conf pointing at this vfod.
  void installVfoHook(const Vfod& vfod) {
    const std::string etc_vfo = dir_ + "/etc-vfo";
    ASSERT_EQ(::mkdir(etc_vfo.c_str(), 0755), 0);
    std::ofstream(etc_vfo + "/hook.conf") << "api_socket = " << vfod.apiTarget() << "\n"
                                          << "socket_dir = " << dir_ << "/sock\n"
                                          << "log = " << hookRunLog() << "\n";
    libvirt_options_.private_dirs = {{"/etc/vfo", etc_vfo}};
    const std::string hook = vfo::testing::binaryDir() + "/libvirt-hooks/vfo-hook";
    ASSERT_TRUE(std::filesystem::exists(hook)) << "build the vfo-hook target";
    // Copied under its installed name before libvirtd starts.
    const std::string staged = dir_ + "/vfo";
    std::filesystem::copy_file(hook, staged);
    libvirt_options_.qemu_hooks.push_back(staged);
  }
  std::string hookRunLog() const { return dir_ + "/vfo-hook.log"; }

  // Turns vfod's libvirt reconciliation on against the private libvirtd
  // (vfod_lab.h writes `libvirt { uri: "none" }`), with a 1 s grace so that
  // a port wrongly taken for orphaned would be deleted within the test.
  void reconcileWithThisLibvirt(const Vfod& vfod) {
    std::string config = readFile(vfod.config());
    const std::string off = "libvirt { uri: \"none\" }";
    const size_t at = config.find(off);
    ASSERT_NE(at, std::string::npos) << config;
    config.replace(at, off.size(),
                   "libvirt { uri: \"" + libvirt_->uri() + "\" grace { seconds: 1 } }");
    std::ofstream(vfod.config(), std::ios::trunc) << config;
  }

  // vfoctl against this test's vfod.
  vfo::testing::RunResult vfoctl(const std::vector<std::string>& args) const {
    return vfod_->vfoctl(args);
  }
  // Macvlans on the lab's ports (the software VFs, whoever made them);
  // vfod parks a released port's VFs for reuse ("vfo-swvf parked"), which
  // `in_use` leaves out.
  int macvlansOnLab(bool in_use = false) const {
    auto r = vfo::testing::sh(
        "ip -o link show type macvlan | grep -E '@(" + lab_->pf(0) + "|" + lab_->pf(1) + "):' | " +
        (in_use ? "grep -vc 'alias vfo-swvf parked'" : "grep -c .") + " || true");
    return std::atoi(r.out.c_str());
  }

  enum class PortSource {
    kConfig,  // vfod's config file
    kHook,    // vfo-hook through vfod's API
  };
  void runLifecycle(PortSource source);

  std::string domainXml(const std::string& script, bool reconnect) const {
    return vfo::e2e::domainXml(domain_, image_, socket(), dir_ + "/console.log", script, reconnect);
  }

  // Whether the hook log has a line "<domain_> <op> <sub>".
  bool hookCalled(const std::string& op, const std::string& sub) const {
    return hookCalls().find(domain_ + " " + op + " " + sub + " ") != std::string::npos;
  }

  std::string diagnostics() const {
    return "\n--- console ---\n" + console() + "\n--- hook calls ---\n" + hookCalls() +
           "\n--- qemu log ---\n" + (libvirt_ ? libvirt_->qemuLog(domain_) : "") +
           "\n--- libvirtd ---\n" + (libvirt_ ? libvirt_->libvirtdLog() : "") + "\n--- vfod ---\n" +
           (vfod_ ? vfod_->log() : "") + "\n--- vfo-hook log ---\n" + readFile(hookRunLog());
  }

  LibvirtDaemonOptions libvirt_options_;
  std::string domain_;
  std::string hook_log_;
  std::unique_ptr<Vfod> vfod_;
  std::unique_ptr<LibvirtDaemon> libvirt_;
};

// virsh create / libvirtd restart / virsh destroy of a vhost-user domain on
// a vfod port, with traffic to the remote host checked at each stage.
void LibvirtE2eTest::runLifecycle(PortSource source) {
  const bool via_hook = source == PortSource::kHook;
  if (via_hook) {
    vfod_ = makeApiVfod();
  } else {
    ASSERT_NO_FATAL_FAILURE(makeSoftwareVfs(kGuestMac));
    vfod_ = makeConfigVfod();
  }
  if (via_hook) {
    ASSERT_NO_FATAL_FAILURE(installVfoHook(*vfod_));
  }
  libvirt_ = std::make_unique<LibvirtDaemon>(libvirt_options_);

  auto t0 = std::chrono::steady_clock::now();
  Status started = libvirt_->start();
  ASSERT_TRUE(started.isOk()) << started.toString();
  const double libvirtd_start_s = secondsSince(t0);
  std::printf("libvirtd answered after %.1f s\n", libvirtd_start_s);
  RecordProperty("libvirtd_start_ms", int(libvirtd_start_s * 1000));
  if (via_hook) {
    ASSERT_NO_FATAL_FAILURE(reconcileWithThisLibvirt(*vfod_));
  }
  ASSERT_TRUE(vfod_->start());
  if (via_hook) {
    EXPECT_FALSE(std::filesystem::exists(socket())) << "no port before the domain starts";
    EXPECT_EQ(vfoctl({"port", "show", "vm1"}).exit_code, 3) << "NOT_FOUND";
    EXPECT_EQ(macvlansOnLab(), 0);
  }

  // --- virsh create: the guest pings the remote host through vfod ----------
  const std::string xml_path = dir_ + "/domain.xml";
  std::ofstream(xml_path) << domainXml(std::string("wait_carrier || result carrier timeout\n") +
                                           "ping_stats out " + vfo::testing::Lab::kRemoteIp +
                                           " -c 5 -i 0.2 -W 3\n",
                                       /*reconnect=*/via_hook);
  t0 = std::chrono::steady_clock::now();
  auto created = libvirt_->virsh({"create", xml_path}, 60s);
  ASSERT_TRUE(created.ok()) << created.describe() << diagnostics();
  const std::optional<pid_t> qemu = libvirt_->qemuPid(domain_);
  ASSERT_TRUE(qemu.has_value()) << diagnostics();
  // libvirt turned the XML into what the guest needs.
  const std::string cmd = cmdlineOf(*qemu);
  EXPECT_THAT(cmd, ::testing::HasSubstr("\"vectors\":0")) << cmd;
  EXPECT_THAT(cmd, ::testing::HasSubstr("memory-backend-memfd")) << cmd;
  EXPECT_THAT(cmd, ::testing::HasSubstr("\"share\":true")) << cmd;
  EXPECT_THAT(cmd, ::testing::HasSubstr("-accel tcg")) << cmd;
  EXPECT_TRUE(hookCalled("prepare", "begin")) << hookCalls();
  EXPECT_TRUE(hookCalled("start", "begin")) << hookCalls();
  EXPECT_TRUE(hookCalled("started", "begin")) << hookCalls();
  if (via_hook) {
    // prepare created the port (vfod serves its socket, one software VF per
    // member); started recorded the owner.
    EXPECT_TRUE(std::filesystem::exists(socket()));
    EXPECT_EQ(macvlansOnLab(), 2) << "one software VF per member";
    auto show = vfoctl({"--json", "port", "show", "vm1"});
    ASSERT_TRUE(show.ok()) << show.describe() << diagnostics();
    EXPECT_THAT(show.out, ::testing::HasSubstr(domain_)) << "owner recorded";
    EXPECT_THAT(show.out, ::testing::HasSubstr(kGuestMac));
  }

  ASSERT_TRUE(vfo::testing::waitFor(
      [&] { return vfo::testing::parseGuestDone(console()).has_value(); }, 120s, 100ms))
      << "the guest did not finish its script" << diagnostics();
  const double boot_s = secondsSince(t0);
  std::printf("virsh create to VFO-DONE: %.1f s\n", boot_s);
  RecordProperty("guest_boot_ms", int(boot_s * 1000));
  EXPECT_EQ(vfo::testing::parseGuestDone(console()), 0) << diagnostics();
  auto results = vfo::testing::parseGuestResults(console());
  EXPECT_EQ(results.count("carrier"), 0u) << console();
  EXPECT_EQ(results["out.tx"], "5") << console();
  EXPECT_EQ(results["out.rx"], "5") << console();
  ASSERT_TRUE(vfo::testing::waitFor([&] { return console().find("VFO-HOLD") != std::string::npos; },
                                    10s, 50ms))
      << console();

  auto s = vfod_->stats();
  EXPECT_EQ(s["port vm1 event vhost_connects"], 1u);
  EXPECT_TRUE(vfod_->guestRunning("vm1"));
  // 5 echo requests and replies, at least one ARP each way.
  EXPECT_GE(s["port vm1 guest_tx_packets"], 6u);
  EXPECT_GE(s["port vm1 guest_rx_packets"], 6u);
  EXPECT_EQ(s["port vm1 member pf0 tx_packets"], s["port vm1 guest_tx_packets"]);
  EXPECT_EQ(s["port vm1 member pf1 tx_packets"], 0u) << "pf1 is standby";
  EXPECT_EQ(s["port vm1 drop_spoofed_source"], 0u);
  EXPECT_EQ(lab_->fdbPortOf(kGuestMac).value_or("none"), lab_->torPort(0));

  // --- libvirtd restart: QEMU keeps running and keeps its vfod session ----
  const uint64_t rx_before = s["port vm1 guest_rx_packets"];
  Status stopped = libvirt_->stopLibvirtd();
  ASSERT_TRUE(stopped.isOk()) << stopped.toString();
  EXPECT_TRUE(processAlive(*qemu)) << "QEMU ended with libvirtd" << diagnostics();
  // The guest works without libvirtd.
  auto in = lab_->ping(lab_->remoteNs(), kGuestIp, 3);
  EXPECT_TRUE(in.allReceived()) << in.run.describe() << diagnostics();

  t0 = std::chrono::steady_clock::now();
  Status restarted = libvirt_->startLibvirtd();
  ASSERT_TRUE(restarted.isOk()) << restarted.toString();
  std::printf("libvirtd restart answered after %.1f s\n", secondsSince(t0));
  auto state = libvirt_->virsh({"domstate", domain_});
  EXPECT_EQ(state.out.substr(0, state.out.find('\n')), "running") << state.describe();
  // A failing reconnect hook would have made libvirt kill the VM.
  EXPECT_EQ(libvirt_->qemuPid(domain_), qemu) << "libvirt did not reconnect to the same QEMU";
  EXPECT_TRUE(hookCalled("reconnect", "begin")) << hookCalls();
  in = lab_->ping(lab_->remoteNs(), kGuestIp, 3);
  EXPECT_TRUE(in.allReceived()) << in.run.describe() << diagnostics();
  EXPECT_EQ(in.run.out.find("DUP!"), std::string::npos) << in.run.out;
  s = vfod_->stats();
  EXPECT_EQ(s["port vm1 event vhost_connects"], 1u) << "the vhost-user session was re-made";
  EXPECT_EQ(s["port vm1 event vhost_disconnects"], 0u);
  EXPECT_GE(s["port vm1 guest_rx_packets"], rx_before + 6) << "6 echo requests to the guest";
  if (via_hook) {
    // vfod's reconciler lost libvirt with the restart and found it again;
    // meanwhile it changed nothing, and afterwards the running domain owns
    // the port (in use, not orphaned).
    EXPECT_TRUE(vfo::testing::waitFor(
        [&] {
          return vfod_->log().find("libvirt reachable again; reconciliation resumes") !=
                 std::string::npos;
        },
        45s, 100ms))
        << vfod_->log();
    in = lab_->ping(lab_->remoteNs(), kGuestIp, 3);
    EXPECT_TRUE(in.allReceived()) << in.run.describe() << diagnostics();
    EXPECT_TRUE(vfoctl({"port", "show", "vm1"}).ok()) << "the port survives the restart";
    EXPECT_EQ(macvlansOnLab(), 2);
    EXPECT_EQ(vfod_->log().find("deleted: owner"), std::string::npos) << vfod_->log();
    // The port lost while the domain runs (vfod restarted from a corrupt
    // state file, an operator's mistake): the next libvirt event makes the
    // reconciler create it again, and QEMU (reconnect every 1 s) comes back.
    auto del = vfoctl({"port", "delete", "vm1"});
    ASSERT_TRUE(del.ok()) << del.describe();
    ASSERT_FALSE(std::filesystem::exists(socket()));
    ASSERT_TRUE(libvirt_->virsh({"suspend", domain_}).ok());
    ASSERT_TRUE(libvirt_->virsh({"resume", domain_}).ok());
    EXPECT_TRUE(vfo::testing::waitFor(
        [&] {
          return vfoctl({"port", "show", "vm1"}).ok();
        },
        20s, 200ms))
        << vfod_->log();
    EXPECT_THAT(vfod_->log(), ::testing::HasSubstr("[port vm1] created: domain " + domain_ +
                                                   " runs and needs it"));
    EXPECT_TRUE(vfo::testing::waitFor([&] { return vfod_->guestRunning("vm1"); }, 30s, 200ms))
        << diagnostics();
    const bool answered = vfo::testing::waitFor(
        [&] { return lab_->ping(lab_->remoteNs(), kGuestIp, 1).allReceived(); }, 30s, 200ms);
    EXPECT_TRUE(answered) << diagnostics();
    in = lab_->ping(lab_->remoteNs(), kGuestIp, 3);
    EXPECT_TRUE(in.allReceived()) << in.run.describe() << diagnostics();
    std::istringstream lines(vfod_->log());
    for (std::string line; std::getline(lines, line);)
      if (line.find("reconcil") != std::string::npos || line.find("libvirt") != std::string::npos)
        std::printf("vfod: %s\n", line.c_str());
  }

  // --- virsh destroy: QEMU ends, libvirt says stopped/release -------------
  auto destroyed = libvirt_->virsh({"destroy", domain_}, 60s);
  ASSERT_TRUE(destroyed.ok()) << destroyed.describe() << diagnostics();
  EXPECT_TRUE(vfo::testing::waitFor([&] { return !processAlive(*qemu); }, 20s, 20ms));
  EXPECT_TRUE(hookCalled("stopped", "end")) << hookCalls();
  EXPECT_TRUE(hookCalled("release", "end")) << hookCalls();
  auto all = libvirt_->virsh({"list", "--all", "--name"});
  EXPECT_EQ(all.out.find(domain_), std::string::npos) << "a transient domain is gone";
  if (via_hook) {
    // release deleted the port: socket, software VFs and API record gone.
    EXPECT_EQ(vfoctl({"port", "show", "vm1"}).exit_code, 3) << "NOT_FOUND" << diagnostics();
    EXPECT_FALSE(std::filesystem::exists(socket()));
    EXPECT_EQ(macvlansOnLab(/*in_use=*/true), 0) << "software VFs returned (parked)";
  } else {
    EXPECT_TRUE(vfo::testing::waitFor([&] { return !vfod_->guestRunning("vm1"); }, 10s, 100ms));
    EXPECT_EQ(vfod_->stat("port vm1 event vhost_disconnects"), 1u);
  }
  EXPECT_EQ(vfod_->stop(), 0) << vfod_->log();
  if (via_hook) {
    EXPECT_EQ(macvlansOnLab(), 0) << "vfod's clean stop deletes every software VF";
  }
}

// The port from vfod's config file; libvirt only starts and stops QEMU.
TEST_F(LibvirtE2eTest, ConfigPortVirshCreatePingRestartDestroy) {
  runLifecycle(PortSource::kConfig);
}

// The port made and removed by vfo-hook through vfod's API.
TEST_F(LibvirtE2eTest, HookPortVirshCreatePingRestartDestroy) {
  runLifecycle(PortSource::kHook);
}

// What vfo-hook relies on, shown with real libvirt and no vfod: a qemu.d hook
// that exits non-zero at "prepare begin" aborts `virsh create`, and libvirt
// shows the hook's stderr to the caller; no QEMU is started. A hook added to
// qemu.d while libvirtd runs is used (libvirtd rescans the directory on each
// call once qemu.d had an executable when it started). After the failed
// prepare libvirt still calls "stopped end" and "release end".
TEST(LibvirtHookE2eTest, FailingPrepareHookAbortsCreate) {
  if (std::string why = LibvirtDaemon::unavailableReason(); !why.empty()) GTEST_SKIP() << why;
  auto img = vfo::testing::ensureGuestImage();
  ASSERT_TRUE(img.isOk()) << img.status().toString();
  const std::string dir = vfo::testing::makeTempDir("vfo-lv-hook-");
  struct Cleanup {
    std::string dir;
    ~Cleanup() { vfo::testing::removeTree(dir); }
  } cleanup{dir};
  const std::string calls = dir + "/hook-calls.log";
  const std::string record = dir + "/10-record";
  std::ofstream(record) << "#!/bin/sh\ncat >/dev/null\necho \"$1 $2 $3 $4\" >> " << calls << "\n";
  ASSERT_EQ(::chmod(record.c_str(), 0755), 0);
  // The refusing hook reads its message from /etc/vfo, a private directory
  // of the daemons' namespace (as vfo-hook reads /etc/vfo/hook.conf).
  ASSERT_EQ(::mkdir((dir + "/etc-vfo").c_str(), 0755), 0);
  std::ofstream(dir + "/etc-vfo/reason") << "vfo test hook: no port for";
  LibvirtDaemonOptions o;
  o.qemu_hooks = {record};
  o.private_dirs = {{"/etc/vfo", dir + "/etc-vfo"}};
  const bool had_etc_vfo = std::filesystem::exists("/etc/vfo");
  LibvirtDaemon libvirt(o);
  Status started = libvirt.start();
  ASSERT_TRUE(started.isOk()) << started.toString();

  const std::string refuse = dir + "/refuse";
  std::ofstream(refuse) << "#!/bin/sh\ncat >/dev/null\n"
                           "[ \"$2 $3\" = \"prepare begin\" ] || exit 0\n"
                           "echo \"$(cat /etc/vfo/reason) $1\" >&2\nexit 1\n";
  ASSERT_EQ(::chmod(refuse.c_str(), 0755), 0);
  ASSERT_TRUE(libvirt.installQemuHook(refuse, "20-refuse").isOk());
  EXPECT_EQ(libvirt.installQemuHook(refuse, "../x").code(), StatusCode::kInvalidArgument);

  const std::string name = vfo::testing::uniqueName("vfo-lv-");
  const std::string xml_path = dir + "/domain.xml";
  std::ofstream(xml_path) << domainXml(name, *img, "", dir + "/console.log", "true\n");
  auto created = libvirt.virsh({"create", xml_path}, 60s);
  EXPECT_FALSE(created.ok()) << created.describe();
  EXPECT_THAT(created.err, ::testing::HasSubstr("vfo test hook: no port for " + name))
      << created.describe();
  EXPECT_FALSE(libvirt.qemuPid(name).has_value());
  EXPECT_THAT(readFile(calls), ::testing::HasSubstr(name + " prepare begin -"));
  EXPECT_THAT(readFile(calls), ::testing::Not(::testing::HasSubstr(name + " started begin")));
  // libvirt cleans up after the failed prepare: the hook is called with
  // "release end" for a domain whose "prepare begin" failed, so releasing a
  // port that was never made must succeed.
  EXPECT_THAT(readFile(calls), ::testing::HasSubstr(name + " release end -"));
  auto all = libvirt.virsh({"list", "--all", "--name"});
  EXPECT_EQ(all.out.find(name), std::string::npos) << all.describe();
  std::printf("virsh create: %shook calls:\n%s", created.err.c_str(), readFile(calls).c_str());
  libvirt.stop();
  EXPECT_EQ(std::filesystem::exists("/etc/vfo"), had_etc_vfo) << "the mount point is left";
}

}  // namespace
}  // namespace vfo::e2e
