#include "vfo/api/vfoctl.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <map>
#include <ostream>

#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::api::cli {
namespace {

constexpr const char* kDefaultSocket = "unix:///run/vfo/vfo.sock";

// Request field paths the daemon names in INVALID_ARGUMENT -> vfoctl option.
const std::map<std::string, std::string> kFieldOptions = {
    {"spec.port_id", "PORT"},
    {"port_id", "PORT"},
    {"spec.mac", "--mac"},
    {"spec.allowed_macs", "--allowed-mac"},
    {"spec.vlan", "--vlan"},
    {"spec.queues", "--queues"},
    {"spec.socket_path", "--socket-path"},
    {"spec.pinned_member", "--pin"},
    {"spec.role", "--role"},
    {"member", "MEMBER"},
    {"settings.updelay", "--updelay-ms"},
    {"settings.downdelay", "--downdelay-ms"},
    {"settings.failback_delay", "--failback-delay-ms"},
    {"settings.primary", "--primary"},
    {"settings.announce.count", "--announce-count"},
    {"settings.announce.interval", "--announce-interval-ms"},
    {"settings.announce_rate_limit", "--announce-rate-limit"},
    {"resume_token", "--since"}};

struct Globals {
  std::string socket = kDefaultSocket;  // --socket
  bool json = false;                    // --json
  double timeout_s = 5;                 // --timeout
};

// Calls one unary RPC and prints its answer, or the error and what to fix.
class Runner {
 public:
  Runner(const Globals& g, std::ostream& out, std::ostream& err) : g_(g), out_(out), err_(err) {}

  v1::Vfo::Stub& stub() {
    if (!stub_)
      stub_ = v1::Vfo::NewStub(grpc::CreateChannel(g_.socket, grpc::InsecureChannelCredentials()));
    return *stub_;
  }
  void deadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(int64_t(g_.timeout_s * 1000)));
  }

  template <typename Resp>
  int finish(const grpc::Status& st, const Resp& resp, std::string (*human)(const Resp&)) {
    if (!st.ok()) return fail(st);
    out_ << (g_.json ? toJson(resp) : human(resp));
    return kExitOk;
  }

  int fail(const grpc::Status& st) {
    std::string msg = st.error_message();
    std::string hint;
    switch (st.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        hint = fmt::format(
            "is vfod running and listening on {}? choose another daemon with --socket", g_.socket);
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        hint =
            fmt::format("vfod at {} did not answer within {}s; raise --timeout or check vfod's log",
                        g_.socket, g_.timeout_s);
        break;
      case grpc::StatusCode::INVALID_ARGUMENT: {
        const auto colon = msg.find(':');
        if (colon != std::string::npos) {
          std::string field = msg.substr(0, colon);
          if (auto b = field.find('['); b != std::string::npos) field = field.substr(0, b);
          auto it = kFieldOptions.find(field);
          if (it != kFieldOptions.end()) hint = fmt::format("fix {}", it->second);
        }
        break;
      }
      default:
        break;
    }
    err_ << "vfoctl: " << codeName(st.error_code()) << ": " << msg;
    if (!hint.empty()) err_ << " (" << hint << ")";
    err_ << "\n";
    return exitCodeForGrpc(int(st.error_code()));
  }

  static std::string codeName(grpc::StatusCode c) {
    static const char* const kNames[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED"};
    const int i = int(c);
    return i >= 0 && i <= 16 ? kNames[i] : fmt::format("CODE_{}", i);
  }

  const Globals& g_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<v1::Vfo::Stub> stub_;
};

google::protobuf::Duration millis(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(int32_t(ms % 1000) * 1'000'000);
  return d;
}

}  // namespace

int exitCodeForGrpc(int code) {
  switch (grpc::StatusCode(code)) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitUsage;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitPermissionDenied;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return kExitFailedPrecondition;
    default:
      return kExitOther;
  }
}

int runVfoctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Globals g;
  CLI::App app{"vfoctl: control vfod (the vfo virtio-net failover backend) through its ops API",
               "vfoctl"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 other error, 2 usage or invalid argument, 3 not found, 4 already "
      "exists, 5 permission denied, 6 vfod unreachable, 7 failed precondition or resource "
      "exhausted, 8 health: not serving.");
  app.add_option("--socket", g.socket, "vfod's API socket")
      ->envname("VFO_SOCKET")
      ->capture_default_str();
  app.add_flag("--json", g.json, "print protobuf JSON instead of tables (for scripts)");
  app.add_option("--timeout", g.timeout_s, "seconds to wait for vfod")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  Runner r(g, out, err);
  std::function<int()> action;

  // ---- port ----
  auto* port = app.add_subcommand("port", "VM ports")->require_subcommand(1);
  std::string port_id;
  v1::PortSpec spec;
  std::string mac, socket_path, role = "server", pin, domain_name, domain_uuid;
  std::vector<std::string> allowed;
  uint32_t vlan = 0, queues = 1;
  uint64_t disabled = 0;
  bool incoming = false;
  auto* create = port->add_subcommand("create", "create a port (idempotent)");
  create->add_option("PORT", port_id, "port id, e.g. vm1/net0")->required();
  create->add_option("--mac", mac, "guest MAC aa:bb:cc:dd:ee:ff")->required();
  create->add_option("--socket-path", socket_path,
                     "vhost-user socket (default: in vfod's socket dir)");
  create->add_option("--role", role, "server: vfod listens; client: QEMU listens")
      ->check(CLI::IsMember({"server", "client"}))
      ->capture_default_str();
  create->add_option("--allowed-mac", allowed, "extra source MAC the guest may use (repeatable)");
  create->add_option("--vlan", vlan, "802.1Q VLAN 1..4094, 0 = untagged")->capture_default_str();
  create->add_option("--queues", queues, "queue pairs 1..16")->capture_default_str();
  create->add_option("--disabled-features", disabled, "virtio feature bits to withhold");
  create->add_option("--pin", pin, "LAG member to pin the port to (balance-vm)");
  create->add_option("--domain-name", domain_name, "owning libvirt domain");
  create->add_option("--domain-uuid", domain_uuid, "owning libvirt domain UUID");
  create->add_flag("--incoming", incoming, "create for an incoming live migration");
  create->callback([&] {
    action = [&] {
      v1::CreatePortRequest req;
      auto* s = req.mutable_spec();
      s->set_port_id(port_id);
      s->set_mac(mac);
      s->set_socket_path(socket_path);
      s->set_role(role == "client" ? v1::VHOST_ROLE_CLIENT : v1::VHOST_ROLE_SERVER);
      for (const auto& a : allowed) s->add_allowed_macs(a);
      s->set_vlan(vlan);
      s->set_queues(queues);
      s->set_disabled_features(disabled);
      s->set_pinned_member(pin);
      s->set_domain_name(domain_name);
      s->set_domain_uuid(domain_uuid);
      s->set_incoming_migration(incoming);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Port resp;
      return r.finish(r.stub().CreatePort(&ctx, req, &resp), resp, &formatPort);
    };
  });
  auto* del = port->add_subcommand("delete", "delete a port");
  del->add_option("PORT", port_id, "port id")->required();
  del->callback([&] {
    action = [&] {
      v1::DeletePortRequest req;
      req.set_port_id(port_id);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::DeletePortResponse resp;
      grpc::Status st = r.stub().DeletePort(&ctx, req, &resp);
      if (!st.ok()) return r.fail(st);
      out << (g.json ? toJson(resp) : fmt::format("deleted {}\n", port_id));
      return int(kExitOk);
    };
  });
  auto* list = port->add_subcommand("list", "list ports");
  list->callback([&] {
    action = [&] {
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::ListPortsResponse resp;
      return r.finish(r.stub().ListPorts(&ctx, v1::ListPortsRequest(), &resp), resp,
                      &formatPortTable);
    };
  });
  auto* show = port->add_subcommand("show", "show one port");
  show->add_option("PORT", port_id, "port id")->required();
  show->callback([&] {
    action = [&] {
      v1::GetPortRequest req;
      req.set_port_id(port_id);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Port resp;
      return r.finish(r.stub().GetPort(&ctx, req, &resp), resp, &formatPort);
    };
  });

  auto* detach = port->add_subcommand(
      "detach", "mark a port detached: its guest stopped, the port stays (libvirt 'stopped')");
  detach->add_option("PORT", port_id, "port id")->required();
  detach->callback([&] {
    action = [&] {
      v1::DetachPortRequest req;
      req.set_port_id(port_id);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Port resp;
      return r.finish(r.stub().DetachPort(&ctx, req, &resp), resp, &formatPort);
    };
  });

  // ---- lag ----
  auto* lag = app.add_subcommand("lag", "the LAG group")->require_subcommand(1);
  lag->add_subcommand("show", "members, active member, settings")->callback([&] {
    action = [&] {
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Lag resp;
      return r.finish(r.stub().GetLag(&ctx, v1::GetLagRequest(), &resp), resp, &formatLag);
    };
  });
  v1::UpdateLagRequest lag_req;
  std::string mode, primary, reselect, hash, failback;
  int64_t updelay = 0, downdelay = 0, failback_delay = 0, announce_interval = 0;
  uint32_t announce_count = 0, rate = 0;
  auto* set = lag->add_subcommand("set", "change LAG settings (only the options given)");
  auto* o_mode = set->add_option("--mode", mode)
                     ->check(CLI::IsMember(
                         {"active-backup", "balance-vm", "balance-flow", "follow-kernel-bond"}));
  auto* o_primary = set->add_option("--primary", primary, "preferred member ('' = none)");
  auto* o_reselect = set->add_option("--primary-reselect", reselect)
                         ->check(CLI::IsMember({"always", "better", "failure"}));
  auto* o_failback = set->add_option("--failback", failback)->check(CLI::IsMember({"on", "off"}));
  auto* o_up = set->add_option("--updelay-ms", updelay, "milliseconds");
  auto* o_down = set->add_option("--downdelay-ms", downdelay, "milliseconds");
  auto* o_fbd = set->add_option("--failback-delay-ms", failback_delay, "milliseconds, -1 = never");
  auto* o_hash =
      set->add_option("--hash-policy", hash)
          ->check(CLI::IsMember({"layer2", "layer2-3", "layer3-4", "encap2-3", "encap3-4"}));
  auto* o_acount = set->add_option("--announce-count", announce_count, "bursts 1..10");
  auto* o_aint = set->add_option("--announce-interval-ms", announce_interval, "1..1000");
  auto* o_rate = set->add_option("--announce-rate-limit", rate, "frames per second");
  set->callback([&] {
    action = [&] {
      auto* s = lag_req.mutable_settings();
      auto up = [](std::string v) {
        for (auto& c : v) c = c == '-' ? '_' : char(std::toupper(c));
        return v;
      };
      if (o_mode->count()) {
        v1::LagMode m = v1::LAG_MODE_UNSPECIFIED;
        v1::LagMode_Parse("LAG_MODE_" + up(mode), &m);
        s->set_mode(m);
        lag_req.add_update_fields("mode");
      }
      if (o_primary->count()) s->set_primary(primary), lag_req.add_update_fields("primary");
      if (o_reselect->count()) {
        v1::PrimaryReselect p = v1::PRIMARY_RESELECT_UNSPECIFIED;
        v1::PrimaryReselect_Parse("PRIMARY_RESELECT_" + up(reselect), &p);
        s->set_primary_reselect(p);
        lag_req.add_update_fields("primary_reselect");
      }
      if (o_failback->count())
        s->set_failback(failback == "on"), lag_req.add_update_fields("failback");
      if (o_up->count())
        *s->mutable_updelay() = millis(updelay), lag_req.add_update_fields("updelay");
      if (o_down->count())
        *s->mutable_downdelay() = millis(downdelay), lag_req.add_update_fields("downdelay");
      if (o_fbd->count())
        *s->mutable_failback_delay() = millis(failback_delay),
        lag_req.add_update_fields("failback_delay");
      if (o_hash->count()) {
        v1::HashPolicy h = v1::HASH_POLICY_UNSPECIFIED;
        v1::HashPolicy_Parse("HASH_POLICY_" + up(hash), &h);
        s->set_hash_policy(h);
        lag_req.add_update_fields("hash_policy");
      }
      if (o_acount->count() || o_aint->count()) {
        // announce is one field: keep the current value of the part not given.
        grpc::ClientContext gctx;
        r.deadline(gctx);
        v1::Lag current;
        grpc::Status st = r.stub().GetLag(&gctx, v1::GetLagRequest(), &current);
        if (!st.ok()) return r.fail(st);
        *s->mutable_announce() = current.settings().announce();
        if (o_acount->count()) s->mutable_announce()->set_count(announce_count);
        if (o_aint->count()) *s->mutable_announce()->mutable_interval() = millis(announce_interval);
        lag_req.add_update_fields("announce");
      }
      if (o_rate->count())
        s->set_announce_rate_limit(rate), lag_req.add_update_fields("announce_rate_limit");
      if (lag_req.update_fields().empty()) {
        err << "vfoctl: lag set: give at least one setting to change (see vfoctl lag set --help)\n";
        return int(kExitUsage);
      }
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Lag resp;
      return r.finish(r.stub().UpdateLag(&ctx, lag_req, &resp), resp, &formatLag);
    };
  });
  std::string member;
  auto* failover = lag->add_subcommand("failover", "make MEMBER the active member (active-backup)");
  failover->add_option("MEMBER", member, "LAG member name")->required();
  failover->callback([&] {
    action = [&] {
      v1::SetActiveMemberRequest req;
      req.set_member(member);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Lag resp;
      return r.finish(r.stub().SetActiveMember(&ctx, req, &resp), resp, &formatLag);
    };
  });

  // ---- stats, events, health, version ----
  std::string stats_port;
  auto* stats = app.add_subcommand("stats", "counters per port, queue and member");
  stats->add_option("--port", stats_port, "only this port");
  stats->callback([&] {
    action = [&] {
      v1::GetStatsRequest req;
      req.set_port_id(stats_port);
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Stats resp;
      return r.finish(r.stub().GetStats(&ctx, req, &resp), resp, &formatStats);
    };
  });
  bool follow = false;
  std::string since;
  auto* events = app.add_subcommand("events", "buffered events; --follow keeps streaming");
  events->add_flag("--follow,-f", follow, "wait for new events until interrupted");
  events->add_option("--since", since, "resume after this token (printed with every event)");
  events->callback([&] {
    action = [&] {
      v1::WatchEventsRequest req;
      req.set_resume_token(since);
      req.set_from_oldest(since.empty());
      req.set_no_follow(!follow);
      grpc::ClientContext ctx;
      if (!follow) r.deadline(ctx);
      auto reader = r.stub().WatchEvents(&ctx, req);
      v1::Event e;
      while (reader->Read(&e)) {
        out << (g.json ? toJson(e, /*one_line=*/true) : formatEvent(e));
        out.flush();
      }
      grpc::Status st = reader->Finish();
      return st.ok() ? int(kExitOk) : r.fail(st);
    };
  });
  app.add_subcommand("health", "is vfod serving? (exit 8 when not)")->callback([&] {
    action = [&] {
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::HealthResponse resp;
      int rc = r.finish(r.stub().Health(&ctx, v1::HealthRequest(), &resp), resp, &formatHealth);
      return rc == kExitOk && !resp.serving() ? int(kExitNotServing) : rc;
    };
  });
  app.add_subcommand("version", "vfod and API version")->callback([&] {
    action = [&] {
      grpc::ClientContext ctx;
      r.deadline(ctx);
      v1::Version resp;
      return r.finish(r.stub().GetVersion(&ctx, v1::GetVersionRequest(), &resp), resp,
                      &formatVersion);
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    err << "vfoctl: " << e.what() << "\n";
    err << "run 'vfoctl --help' (or 'vfoctl <command> --help') for usage\n";
    return kExitUsage;
  }
  if (!action) {
    err << "vfoctl: nothing to do; run 'vfoctl --help'\n";
    return kExitUsage;
  }
  return action();
}

}  // namespace vfo::api::cli
