// vfo_bench_ports: the ops API against a real vfod, once per VF provider:
// software VFs (a macvlan + af_packet uplink per port and member) and shared
// uplinks (one af_packet uplink per member for every port, no kernel work
// per port).
//  1. CreatePort + DeletePort, N rounds each (default 200), twice: the same
//     port again (a restarted VM: same MAC) and a new port each round (new
//     MAC). The first CreatePort makes two macvlans and opens two af_packet
//     uplinks; DeletePort parks both (vfod keeps them for reuse), so later
//     rounds reuse them: same MAC = settings record only, new MAC = one MAC
//     move per macvlan. Every call also registers or removes the vhost-user
//     socket and writes the desired state with fsync.
//  2. Filling vfod with ports one by one until it refuses (or --max-ports):
//     CreatePort latency as the port count grows, and the first refusal's
//     error (Debian's DPDK is built with RTE_MAX_ETHPORTS=32: with software
//     VFs two uplinks a port make 16 ports the ceiling of one vfod; shared
//     uplinks have no such ceiling), then DeletePort of every one of them.
//  Baseline, same run: GetPort of an existing port (gRPC round trip, access
//  check, one control-thread hop, no kernel or DPDK work).
// Prints p50/p99/max in ms and the ratio to the baseline. Target of the
// issue: CreatePort/DeletePort p99 <= 5 ms with the software-VF provider.
// Usage: vfo_bench_ports [--rounds N] [--max-ports N] [--provider software|shared|both]
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "vfo/testing/lab.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using namespace vfo::testing;
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

void row(const std::string& what, const std::vector<double>& ms, double base_p50) {
  fmt::print(
      "  {:<44} n={:<4} p50 {:7.3f} ms  p99 {:7.3f} ms  max {:7.3f} ms  ({:.0f}x baseline)\n", what,
      ms.size(), percentile(ms, 0.5), percentile(ms, 0.99),
      ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()),
      base_p50 > 0 ? percentile(ms, 0.5) / base_p50 : 0.0);
}

std::string mac(int i) {
  return fmt::format("52:54:00:b0:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff);
}

int runProvider(vfo::testing::Lab& lab, const std::string& kind, int rounds, int max_ports);

}  // namespace

int main(int argc, char** argv) {
  int rounds = 200, max_ports = 512;
  std::string provider = "both";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--max-ports" && i + 1 < argc) {
      max_ports = std::atoi(argv[++i]);
    } else if (a == "--provider" && i + 1 < argc &&
               (std::string(argv[i + 1]) == "software" || std::string(argv[i + 1]) == "shared" ||
                std::string(argv[i + 1]) == "both")) {
      provider = argv[++i];
    } else {
      fmt::print(stderr,
                 "usage: vfo_bench_ports [--rounds N] [--max-ports N] "
                 "[--provider software|shared|both]\n");
      return 2;
    }
  }
  Lab lab;
  int rc = 0;
  for (const std::string kind : {"software", "shared"})
    if (rc == 0 && (provider == "both" || provider == kind))
      rc = runProvider(lab, kind, rounds, max_ports);
  return rc;
}

namespace {

int runProvider(Lab& lab, const std::string& kind, int rounds, int max_ports) {
  const bool shared = kind == "shared";
  const std::string dir = makeTempDir("vfo-bench-ports-");
  const std::string prefix = uniqueName("vfbp");
  const std::string config = dir + "/vfod.textproto";
  const std::string api = "unix://" + dir + "/api.sock";
  {
    std::ofstream f(config);
    f << "eal { main_lcore: 0 worker_lcores: 1 file_prefix: \"" << prefix << "\" }\n"
      << "memory { hugepages: HUGEPAGES_NEVER size_mb: 1024 mbufs: 65536 }\n"
      << "sockets { dir: \"" << dir << "/sock\" }\nstate_dir: \"" << dir << "/state\"\n"
      << "api { listen: \"" << api << "\" }\nlibvirt { uri: \"none\" }\n"
      << "lag { primary: \"pf0\" "
      << (shared ? "vf_provider: VF_PROVIDER_SHARED\n"
                 : "vf_provider: VF_PROVIDER_SOFTWARE software_vf_capacity: 1024\n")
      << "  members { name: \"pf0\" netdev: \"" << lab.pf(0) << "\" }\n"
      << "  members { name: \"pf1\" netdev: \"" << lab.pf(1) << "\" } }\n";
  }
  int rc = 0;
  {
    Process vfod({binaryDir() + "/vhost-backend/vfod", "--config", config}, dir + "/vfod.log");
    auto stub = vfo::v1::Vfo::NewStub(grpc::CreateChannel(api, grpc::InsecureChannelCredentials()));
    auto create = [&](int i, std::string* err) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      vfo::v1::CreatePortRequest req;
      req.mutable_spec()->set_port_id(fmt::format("vm{}", i));
      req.mutable_spec()->set_mac(mac(i));
      vfo::v1::Port resp;
      grpc::Status s = stub->CreatePort(&ctx, req, &resp);
      if (!s.ok() && err)
        *err = fmt::format("{} (code {})", s.error_message(), int(s.error_code()));
      return s.ok();
    };
    auto del = [&](int i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      vfo::v1::DeletePortRequest req;
      req.set_port_id(fmt::format("vm{}", i));
      vfo::v1::DeletePortResponse resp;
      return stub->DeletePort(&ctx, req, &resp).ok();
    };
    auto get = [&](int i) {
      grpc::ClientContext ctx;
      vfo::v1::GetPortRequest req;
      req.set_port_id(fmt::format("vm{}", i));
      vfo::v1::Port resp;
      return stub->GetPort(&ctx, req, &resp).ok();
    };
    auto ms = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    auto version = [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 1s);
      vfo::v1::GetVersionRequest req;
      vfo::v1::Version resp;
      return stub->GetVersion(&ctx, req, &resp).ok();
    };
    const bool up = waitFor([&] { return !vfod.running() || version(); }, 60s, 20ms);
    if (!up || !vfod.running()) {
      fmt::print(stderr, "vfod did not start:\n{}\n", vfod.log());
      rc = 1;
    }
    std::vector<double> c_ms, d_ms, g_ms, fill_ms, c2_ms, d2_ms, empty_ms;
    std::string refusal;
    int filled = 0;
    // Round r: port `id` with MAC mac(mac_index(r)). Series 1 creates the
    // same port again (a VM restarted: same MAC, the parked software VF is
    // reused as is); series 2 a new VM each time (another MAC: the parked VF
    // moves to it).
    auto series = [&](std::vector<double>& cm, std::vector<double>& dm, auto mac_index) {
      for (int r = 0; rc == 0 && r < rounds; ++r) {
        const int i = mac_index(r);
        auto t0 = Clock::now();
        std::string err;
        if (!create(i, &err)) {
          fmt::print(stderr, "CreatePort failed: {}\n", err);
          rc = 1;
          break;
        }
        auto t1 = Clock::now();
        for (int k = 0; k < 5; ++k) {
          auto g0 = Clock::now();
          get(i);
          g_ms.push_back(ms(g0, Clock::now()));
        }
        auto t2 = Clock::now();
        if (!del(i)) {
          fmt::print(stderr, "DeletePort failed\n");
          rc = 1;
          break;
        }
        cm.push_back(ms(t0, t1));
        dm.push_back(ms(t2, Clock::now()));
      }
    };
    series(c_ms, d_ms, [](int) { return 0; });
    series(c2_ms, d2_ms, [](int r) { return 1000 + r; });
    for (int i = 1; rc == 0 && i <= max_ports; ++i) {
      auto t0 = Clock::now();
      if (!create(i, &refusal)) break;
      fill_ms.push_back(ms(t0, Clock::now()));
      filled = i;
    }
    for (int i = 1; i <= filled; ++i) {
      auto t0 = Clock::now();
      if (del(i)) empty_ms.push_back(ms(t0, Clock::now()));
    }
    if (rc == 0) {
      const double base = percentile(g_ms, 0.5);
      fmt::print("ops API against vfod with {} ({} rounds):\n",
                 shared ? "shared uplinks" : "software VFs", rounds);
      row("baseline: GetPort (round trip, no work)", g_ms, base);
      row("CreatePort, same VM again (same MAC)", c_ms, base);
      row("DeletePort, same VM", d_ms, base);
      row("CreatePort, a new VM each time (new MAC)", c2_ms, base);
      row("DeletePort, new VMs", d2_ms, base);
      row(fmt::format("CreatePort while filling 1..{} ports", filled), fill_ms, base);
      row(fmt::format("DeletePort while emptying {}..1 ports", filled), empty_ms, base);
      fmt::print("  ports on one vfod: {}{}\n", filled,
                 filled < max_ports ? fmt::format("; port {} refused: {}", filled + 1, refusal)
                                    : std::string());
      const double p99 = std::max({percentile(c_ms, 0.99), percentile(d_ms, 0.99),
                                   percentile(c2_ms, 0.99), percentile(d2_ms, 0.99)});
      fmt::print("  target p99 <= 5 ms: {} ({:.3f} ms)\n", p99 <= 5.0 ? "met" : "NOT met", p99);
    }
    vfod.stop(60s);
  }
  removeTree(dir);
  removeTree("/var/run/dpdk/" + prefix);
  return rc;
}

}  // namespace
