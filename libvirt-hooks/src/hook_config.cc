#include "vfo/hooks/hook_config.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "vfo/hooks/domain_xml.h"

namespace vfo::hooks {

namespace {

constexpr int64_t kMaxTimeoutMs = 60000;

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

StatusOr<int64_t> number(std::string_view where, std::string_view value, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size())
    return invalidArgument(fmt::format("{}: '{}' is not a whole number", where, value));
  if (v < lo || v > hi)
    return invalidArgument(fmt::format("{}: {} is out of range {}..{}", where, v, lo, hi));
  return v;
}

// Sets one setting; `where` names the source for messages ("hook.conf:3 budget_ms").
Status set(std::string_view key, std::string_view value, std::string_view where, HookSettings* s) {
  if (key == "api_socket") {
    if (value.rfind("unix:", 0) != 0)
      return invalidArgument(fmt::format(
          "{}: '{}' is not a unix: target (e.g. unix:///run/vfo/vfo.sock)", where, value));
    s->api_target = value;
  } else if (key == "socket_dir") {
    auto dir = normaliseSocketPath(value);
    if (!dir) return invalidArgument(fmt::format("{}: {}", where, dir.status().message()));
    s->socket_dir = *dir;
  } else if (key == "call_timeout_ms") {
    VFO_ASSIGN_OR_RETURN(int64_t v, number(where, value, 1, kMaxTimeoutMs));
    s->call_timeout = std::chrono::milliseconds(v);
  } else if (key == "budget_ms") {
    VFO_ASSIGN_OR_RETURN(int64_t v, number(where, value, 1, kMaxTimeoutMs));
    s->budget = std::chrono::milliseconds(v);
  } else if (key == "ready_timeout_ms") {
    VFO_ASSIGN_OR_RETURN(int64_t v, number(where, value, 1, kMaxTimeoutMs));
    s->ready_timeout = std::chrono::milliseconds(v);
  } else if (key == "max_xml_bytes") {
    VFO_ASSIGN_OR_RETURN(int64_t v, number(where, value, 1024, int64_t(64) << 20));
    s->max_xml_bytes = size_t(v);
  } else if (key == "log") {
    if (value != "syslog" && value != "none" && (value.empty() || value.front() != '/'))
      return invalidArgument(
          fmt::format("{}: '{}' must be syslog, none or an absolute file path", where, value));
    s->log = value;
  } else {
    return invalidArgument(fmt::format(
        "{}: unknown setting; one of: api_socket, socket_dir, call_timeout_ms, budget_ms, "
        "ready_timeout_ms, max_xml_bytes, log",
        where));
  }
  return okStatus();
}

StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return errnoStatus(errno, "cannot read the hook config " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Status applyHookConf(std::string_view text, std::string_view source, HookSettings* settings) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (const size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return invalidArgument(
          fmt::format("{}:{}: '{}' is not 'key = value'", source, line_no, line));
    const std::string_view key = trim(line.substr(0, eq));
    VFO_RETURN_IF_ERROR(set(key, trim(line.substr(eq + 1)),
                            fmt::format("{}:{} {}", source, line_no, key), settings));
  }
  return okStatus();
}

StatusOr<HookSettings> loadHookSettings(std::vector<std::string>* args,
                                        const std::function<const char*(const char*)>& getenv,
                                        const std::string& default_config) {
  // Leading --name=value flags.
  std::vector<std::pair<std::string, std::string>> flags;
  while (!args->empty() && args->front().rfind("--", 0) == 0 &&
         args->front().find('=') != std::string::npos) {
    const std::string& a = args->front();
    const size_t eq = a.find('=');
    flags.emplace_back(a.substr(2, eq - 2), a.substr(eq + 1));
    args->erase(args->begin());
  }

  HookSettings s;
  std::string config = default_config;
  bool explicit_config = false;
  if (const char* e = getenv("VFO_HOOK_CONFIG"); e && *e) {
    config = e;
    explicit_config = true;
  }
  for (const auto& [k, v] : flags)
    if (k == "config") {
      config = v;
      explicit_config = true;
    }
  if (!config.empty()) {
    auto text = readFile(config);
    if (text) {
      VFO_RETURN_IF_ERROR(applyHookConf(*text, config, &s));
      s.config_path = config;
    } else if (explicit_config || text.status().code() != StatusCode::kNotFound) {
      return text.status();
    }
  }

  const std::pair<const char*, const char*> env[] = {
      {"VFO_SOCKET", "api_socket"}, {"VFO_SOCKET_DIR", "socket_dir"}, {"VFO_HOOK_LOG", "log"}};
  for (const auto& [var, key] : env)
    if (const char* e = getenv(var); e && *e)
      VFO_RETURN_IF_ERROR(set(key, e, fmt::format("${}", var), &s));

  for (const auto& [k, v] : flags) {
    if (k == "config") continue;
    const std::string key = k == "socket" ? "api_socket" : k == "socket-dir" ? "socket_dir" : k;
    if (key != "api_socket" && key != "socket_dir" && key != "log")
      return invalidArgument(
          fmt::format("--{}: unknown flag; one of --config=, --socket=, --socket-dir=, --log=", k));
    VFO_RETURN_IF_ERROR(set(key, v, "--" + k, &s));
  }

  if (s.ready_timeout > s.budget)
    return invalidArgument(fmt::format(
        "ready_timeout_ms: {} is longer than budget_ms {}; the readiness wait must fit the budget",
        s.ready_timeout.count(), s.budget.count()));
  return s;
}

}  // namespace vfo::hooks
