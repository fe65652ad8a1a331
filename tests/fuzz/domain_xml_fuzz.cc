// libFuzzer target for the libvirt hook's domain XML parser.
//
// Besides the sanitizers' memory and UB checks, the harness checks that a
// parse either fails with INVALID_ARGUMENT or yields only interfaces the
// hook may act on: a unicast MAC, 1..16 queues, a socket path directly in the
// socket directory with no "..", no two interfaces on one socket or one MAC,
// and a VLAN in 0..4094.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "vfo/hooks/domain_xml.h"

#define check(cond)                                          \
  do {                                                       \
    if (!(cond)) {                                           \
      std::fprintf(stderr, "invariant failed: %s\n", #cond); \
      std::abort();                                          \
    }                                                        \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vfo::hooks::DomainXmlLimits limits;
  limits.max_bytes = 64 * 1024;
  auto r = vfo::hooks::parseDomainXml(std::string_view(reinterpret_cast<const char*>(data), size),
                                      limits);
  if (!r.isOk()) {
    check(r.status().code() == vfo::StatusCode::kInvalidArgument);
    check(!r.status().message().empty());
    return 0;
  }
  std::set<std::string> sockets, macs;
  for (const auto& i : r->interfaces) {
    check(!i.mac.isMulticast() && !i.mac.isZero());
    check(i.queues >= 1 && i.queues <= 16);
    check(i.vlan <= 4094);
    check(i.socket_path.rfind(limits.socket_dir + "/", 0) == 0);
    // One plain component after the directory, never "." or "..".
    const std::string name = i.socket_path.substr(limits.socket_dir.size() + 1);
    check(name.find('/') == std::string::npos);
    check(!name.empty() && name != "." && name != "..");
    check(sockets.insert(i.socket_path).second);
    check(macs.insert(i.mac.toString()).second);
    for (const auto& m : i.allowed_macs) check(!m.isMulticast());
  }
  return 0;
}
