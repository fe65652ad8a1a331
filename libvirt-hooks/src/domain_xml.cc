#include "vfo/hooks/domain_xml.h"

#include <fmt/format.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <memory>
#include <set>

namespace vfo::hooks {

namespace {

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtDeleter {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

bool isElement(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

const xmlNode* child(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c; c = c->next)
    if (isElement(c, name)) return c;
  return nullptr;
}

std::optional<std::string> attr(const xmlNode* n, const char* name) {
  if (!n) return std::nullopt;
  xmlChar* v = xmlGetNoNsProp(const_cast<xmlNode*>(n), BAD_CAST name);
  if (!v) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

std::string text(const xmlNode* n) {
  if (!n) return {};
  xmlChar* v = xmlNodeGetContent(n);
  if (!v) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

StatusOr<uint32_t> parseNumber(const std::string& s, const std::string& field, uint32_t lo,
                               uint32_t hi) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < lo || v > hi)
    return invalidArgument(fmt::format("{}: '{}' is not a number in {}..{}", field, s, lo, hi));
  return v;
}

bool validSocketName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return name != "." && name != "..";
}

struct MetaPort {
  std::optional<MacAddress> mac;
  std::string alias;
  uint16_t vlan = 0;
  std::string lag_pin;
  std::vector<MacAddress> allowed;
  bool used = false;
};

StatusOr<std::vector<MetaPort>> parseMetadata(const xmlNode* domain) {
  std::vector<MetaPort> out;
  const xmlNode* md = child(domain, "metadata");
  if (!md) return out;
  for (const xmlNode* ns_el = md->children; ns_el; ns_el = ns_el->next) {
    if (ns_el->type != XML_ELEMENT_NODE || !ns_el->ns || !ns_el->ns->href) continue;
    if (xmlStrcmp(ns_el->ns->href, BAD_CAST kVfoMetadataNamespace.data()) != 0) continue;
    for (const xmlNode* p = ns_el->children; p; p = p->next) {
      if (p->type != XML_ELEMENT_NODE) continue;
      if (!isElement(p, "port"))
        return invalidArgument(fmt::format("metadata: unknown element <{}> in the vfo namespace",
                                           reinterpret_cast<const char*>(p->name)));
      MetaPort mp;
      if (auto m = attr(p, "mac")) {
        auto mac = MacAddress::parseUnicast(*m);
        if (!mac.isOk()) return mac.status().withContext("metadata port mac");
        mp.mac = *mac;
      }
      mp.alias = attr(p, "alias").value_or("");
      if (!mp.mac && mp.alias.empty())
        return invalidArgument("metadata: <vfo:port> needs a mac or an alias attribute");
      const std::string who = mp.mac ? mp.mac->toString() : mp.alias;
      if (auto v = attr(p, "vlan")) {
        auto n = parseNumber(*v, fmt::format("metadata port {} vlan", who), 1, 4094);
        if (!n.isOk()) return n.status();
        mp.vlan = uint16_t(*n);
      }
      mp.lag_pin = attr(p, "lag-pin").value_or("");
      for (const xmlNode* a = p->children; a; a = a->next) {
        if (a->type != XML_ELEMENT_NODE) continue;
        if (!isElement(a, "allowed-mac"))
          return invalidArgument(fmt::format("metadata port {}: unknown element <{}>", who,
                                             reinterpret_cast<const char*>(a->name)));
        auto addr = attr(a, "address");
        if (!addr)
          return invalidArgument(fmt::format("metadata port {}: allowed-mac without address", who));
        auto mac = MacAddress::parseUnicast(*addr);
        if (!mac.isOk())
          return mac.status().withContext(fmt::format("metadata port {} allowed-mac", who));
        mp.allowed.push_back(*mac);
      }
      out.push_back(std::move(mp));
    }
  }
  return out;
}

}  // namespace

std::string_view vhostRoleName(VhostRole r) {
  return r == VhostRole::kVfodServer ? "vfod-server" : "vfod-client";
}

StatusOr<std::string> normaliseSocketPath(std::string_view path) {
  if (path.empty() || path[0] != '/')
    return invalidArgument(fmt::format("socket path '{}' is not absolute", path));
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..") return invalidArgument(fmt::format("socket path '{}' contains '..'", path));
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? std::string("/") : out;
}

StatusOr<DomainInfo> parseDomainXml(std::string_view xml, const DomainXmlLimits& limits) {
  if (xml.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return invalidArgument("domain XML is empty");
  if (xml.size() > limits.max_bytes)
    return invalidArgument(
        fmt::format("domain XML is more than the limit of {} bytes", limits.max_bytes));
  VFO_ASSIGN_OR_RETURN(const std::string socket_dir, normaliseSocketPath(limits.socket_dir));

  std::unique_ptr<xmlParserCtxt, CtxtDeleter> ctxt(xmlNewParserCtxt());
  if (!ctxt) return internalError("libxml2: cannot allocate a parser context");
  // No network, no entity substitution, no DTD loading; errors are read from
  // the context instead of being printed.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlDoc, DocDeleter> doc(
      xmlCtxtReadMemory(ctxt.get(), xml.data(), int(xml.size()), "domain.xml", nullptr, options));
  if (!doc) {
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    std::string msg = e && e->message ? e->message : "unknown error";
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return invalidArgument(
        fmt::format("domain XML is malformed at line {}: {}", e ? e->line : 0, msg));
  }
  if (doc->intSubset || doc->extSubset)
    return invalidArgument("domain XML must not carry a DOCTYPE (libvirt never sends one)");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || !isElement(root, "domain"))
    return invalidArgument("domain XML: the root element is not <domain>");

  DomainInfo info;
  info.name = text(child(root, "name"));
  info.uuid = text(child(root, "uuid"));
  if (info.name.empty()) return invalidArgument("domain XML: <name> is missing");

  VFO_ASSIGN_OR_RETURN(auto meta, parseMetadata(root));

  const xmlNode* devices = child(root, "devices");
  std::set<std::string> paths, macs;
  int index = 0;
  for (const xmlNode* n = devices ? devices->children : nullptr; n; n = n->next) {
    if (!isElement(n, "interface")) continue;
    ++index;
    if (attr(n, "type").value_or("") != "vhostuser") continue;
    DomainInterface ifc;
    ifc.alias = attr(child(n, "alias"), "name").value_or("");
    const std::string who = ifc.alias.empty() ? fmt::format("interface #{}", index)
                                              : fmt::format("interface {}", ifc.alias);
    const xmlNode* src = child(n, "source");
    if (!src) return invalidArgument(who + ": <source> is missing");
    if (attr(src, "type").value_or("unix") != "unix")
      return invalidArgument(who + ": <source type> must be 'unix'");
    auto raw_path = attr(src, "path");
    if (!raw_path || raw_path->empty()) return invalidArgument(who + ": <source path> is missing");
    auto norm = normaliseSocketPath(*raw_path);
    if (!norm.isOk()) return norm.status().withContext(who);
    if (norm->rfind(socket_dir + "/", 0) != 0) {
      info.ignored.push_back(fmt::format("{} ({} is outside {})", who, *norm, socket_dir));
      continue;
    }
    const std::string name = norm->substr(socket_dir.size() + 1);
    if (name.find('/') != std::string::npos || !validSocketName(name))
      return invalidArgument(
          fmt::format("{}: socket '{}' must be a plain file name directly in {} ([A-Za-z0-9._-])",
                      who, *norm, socket_dir));
    ifc.socket_path = *norm;

    const std::string mode = attr(src, "mode").value_or("");
    if (mode == "client")
      ifc.role = VhostRole::kVfodServer;
    else if (mode == "server")
      ifc.role = VhostRole::kVfodClient;
    else
      return invalidArgument(
          fmt::format("{}: <source mode> must be 'client' or 'server', not '{}'", who, mode));

    auto mac_text = attr(child(n, "mac"), "address");
    if (!mac_text) return invalidArgument(who + ": <mac address> is missing");
    auto mac = MacAddress::parseUnicast(*mac_text);
    if (!mac.isOk()) return mac.status().withContext(who + " mac");
    ifc.mac = *mac;

    if (auto q = attr(child(n, "driver"), "queues")) {
      auto nq = parseNumber(*q, who + " driver queues", 1, limits.max_queues);
      if (!nq.isOk()) return nq.status();
      ifc.queues = *nq;
    }
    if (const xmlNode* t = child(n, "teaming")) {
      const std::string type = attr(t, "type").value_or("");
      if (type != "persistent")
        return invalidArgument(fmt::format(
            "{}: <teaming type='{}'> on a vhost-user interface (only 'persistent' is valid)", who,
            type));
      ifc.teaming = Teaming::kPersistent;
    }
    if (!paths.insert(ifc.socket_path).second)
      return invalidArgument(
          fmt::format("{}: socket {} is used by two interfaces", who, ifc.socket_path));
    if (!macs.insert(ifc.mac.toString()).second)
      return invalidArgument(
          fmt::format("{}: mac {} is used by two interfaces", who, ifc.mac.toString()));
    info.interfaces.push_back(std::move(ifc));
  }

  // net_failover partners: <interface type='hostdev'><teaming type='transient'
  // persistent='ALIAS'/>.
  for (const xmlNode* n = devices ? devices->children : nullptr; n; n = n->next) {
    if (!isElement(n, "interface")) continue;
    const xmlNode* t = child(n, "teaming");
    if (!t || attr(t, "type").value_or("") != "transient") continue;
    const std::string persistent = attr(t, "persistent").value_or("");
    for (auto& ifc : info.interfaces)
      if (!ifc.alias.empty() && ifc.alias == persistent)
        ifc.teaming_partner_alias = attr(child(n, "alias"), "name").value_or("(unnamed)");
  }

  for (auto& mp : meta) {
    for (auto& ifc : info.interfaces) {
      bool match = (mp.mac && *mp.mac == ifc.mac) || (!mp.alias.empty() && mp.alias == ifc.alias);
      if (!match) continue;
      if (mp.used)
        return invalidArgument(
            fmt::format("metadata: one <vfo:port> matches two interfaces ({})", ifc.alias));
      mp.used = true;
      ifc.vlan = mp.vlan;
      ifc.lag_pin = mp.lag_pin;
      ifc.allowed_macs = mp.allowed;
    }
    if (!mp.used)
      info.ignored.push_back(fmt::format("metadata port {} matches no vfod interface",
                                         mp.mac ? mp.mac->toString() : mp.alias));
  }
  return info;
}

}  // namespace vfo::hooks
