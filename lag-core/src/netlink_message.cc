#include "vfo/netlink/netlink_message.h"

#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

namespace vfo::netlink {

static_assert(sizeof(nlmsghdr) == kNlmsgHeaderSize);
static_assert(sizeof(nlattr) == kAttrHeaderSize);
static_assert(sizeof(nlmsgerr) == 4 + kNlmsgHeaderSize);

namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace

// ---- builder ---------------------------------------------------------------

MessageBuilder::MessageBuilder(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid) {
  buf_.resize(kNlmsgHeaderSize);
  nlmsghdr h{};
  h.nlmsg_len = kNlmsgHeaderSize;
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = pid;
  std::memcpy(buf_.data(), &h, sizeof(h));
}

void MessageBuilder::appendPadded(const void* p, size_t len) {
  size_t at = buf_.size();
  buf_.resize(at + align4(len), 0);
  if (len) std::memcpy(buf_.data() + at, p, len);
}

MessageBuilder& MessageBuilder::raw(ByteSpan bytes) {
  appendPadded(bytes.data(), bytes.size());
  return *this;
}

MessageBuilder& MessageBuilder::put(uint16_t type, const void* payload, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(kAttrHeaderSize + len);
  a.nla_type = type;
  size_t at = buf_.size();
  buf_.resize(at + align4(kAttrHeaderSize + len), 0);
  std::memcpy(buf_.data() + at, &a, sizeof(a));
  if (len) std::memcpy(buf_.data() + at + kAttrHeaderSize, payload, len);
  return *this;
}

MessageBuilder& MessageBuilder::put(uint16_t type, ByteSpan payload) {
  return put(type, payload.data(), payload.size());
}
MessageBuilder& MessageBuilder::putFlag(uint16_t type) {
  return put(type, nullptr, 0);
}
MessageBuilder& MessageBuilder::putU8(uint16_t type, uint8_t v) {
  return put(type, &v, 1);
}
MessageBuilder& MessageBuilder::putU16(uint16_t type, uint16_t v) {
  return put(type, &v, 2);
}
MessageBuilder& MessageBuilder::putU32(uint16_t type, uint32_t v) {
  return put(type, &v, 4);
}
MessageBuilder& MessageBuilder::putS32(uint16_t type, int32_t v) {
  return put(type, &v, 4);
}
MessageBuilder& MessageBuilder::putU64(uint16_t type, uint64_t v) {
  return put(type, &v, 8);
}
MessageBuilder& MessageBuilder::putString(uint16_t type, std::string_view s) {
  std::string z(s);
  return put(type, z.c_str(), z.size() + 1);
}

size_t MessageBuilder::beginNested(uint16_t type, bool with_nested_flag) {
  size_t at = buf_.size();
  put(type, nullptr, 0);
  if (with_nested_flag) {
    store<uint16_t>(buf_.data() + at + 2, type | kAttrFlagNested);
  }
  return at;
}

MessageBuilder& MessageBuilder::endNested(size_t token) {
  store<uint16_t>(buf_.data() + token, static_cast<uint16_t>(buf_.size() - token));
  return *this;
}

Bytes MessageBuilder::bytes() const {
  Bytes out = buf_;
  store<uint32_t>(out.data(), static_cast<uint32_t>(out.size()));
  return out;
}

// ---- attributes ------------------------------------------------------------

namespace {

template <typename T>
StatusOr<T> fixed(const Attr& a, std::string_view what) {
  if (a.payload.size() != sizeof(T)) {
    return invalidArgument(
        fmt::format("{}: payload is {} bytes, want {}", what, a.payload.size(), sizeof(T)));
  }
  return load<T>(a.payload.data());
}

}  // namespace

StatusOr<uint8_t> Attr::u8(std::string_view what) const {
  return fixed<uint8_t>(*this, what);
}
StatusOr<uint16_t> Attr::u16(std::string_view what) const {
  return fixed<uint16_t>(*this, what);
}
StatusOr<uint32_t> Attr::u32(std::string_view what) const {
  return fixed<uint32_t>(*this, what);
}
StatusOr<int32_t> Attr::s32(std::string_view what) const {
  return fixed<int32_t>(*this, what);
}
StatusOr<uint64_t> Attr::u64(std::string_view what) const {
  return fixed<uint64_t>(*this, what);
}

StatusOr<std::string> Attr::str(std::string_view what) const {
  const void* nul = std::memchr(payload.data(), 0, payload.size());
  if (payload.empty() || nul == nullptr) {
    return invalidArgument(
        fmt::format("{}: string is not NUL-terminated inside its {} bytes", what, payload.size()));
  }
  return std::string(reinterpret_cast<const char*>(payload.data()),
                     static_cast<const uint8_t*>(nul) - payload.data());
}

bool AttrReader::next(Attr* out) {
  if (!status_.isOk()) return false;
  size_t remaining = data_.size() - pos_;
  if (remaining == 0) return false;
  if (remaining < kAttrHeaderSize) {
    status_ = invalidArgument(fmt::format(
        "attribute at offset {}: {} trailing bytes cannot hold a header", pos_, remaining));
    return false;
  }
  uint16_t len = load<uint16_t>(data_.data() + pos_);
  uint16_t type = load<uint16_t>(data_.data() + pos_ + 2);
  if (len < kAttrHeaderSize || len > remaining) {
    status_ =
        invalidArgument(fmt::format("attribute type {} at offset {}: nla_len {} outside 4..{}",
                                    type & kAttrTypeMask, pos_, len, remaining));
    return false;
  }
  out->type = type & kAttrTypeMask;
  out->flags = type & ~kAttrTypeMask;
  out->payload = data_.subspan(pos_ + kAttrHeaderSize, len - kAttrHeaderSize);
  out->offset = pos_;
  pos_ += align4(len);
  if (pos_ > data_.size()) pos_ = data_.size();  // last attribute without padding
  return true;
}

StatusOr<AttrTable> AttrTable::parse(ByteSpan data, uint16_t max_type) {
  AttrTable t;
  t.attrs_.resize(size_t(max_type) + 1);
  AttrReader r(data);
  Attr a;
  while (r.next(&a)) {
    if (a.type <= max_type) t.attrs_[a.type] = a;
  }
  if (!r.status().isOk()) return r.status();
  return t;
}

const Attr* AttrTable::get(uint16_t type) const {
  if (type >= attrs_.size() || !attrs_[type]) return nullptr;
  return &*attrs_[type];
}

// ---- messages --------------------------------------------------------------

bool MessageReader::next(Message* out) {
  if (!status_.isOk()) return false;
  size_t remaining = data_.size() - pos_;
  if (remaining == 0) return false;
  if (remaining < kNlmsgHeaderSize) {
    status_ = invalidArgument(fmt::format(
        "message at offset {}: {} trailing bytes cannot hold a header", pos_, remaining));
    return false;
  }
  nlmsghdr h;
  std::memcpy(&h, data_.data() + pos_, sizeof(h));
  if (h.nlmsg_len < kNlmsgHeaderSize || h.nlmsg_len > remaining) {
    status_ =
        invalidArgument(fmt::format("message {} at offset {}: nlmsg_len {} outside 16..{}",
                                    messageTypeName(h.nlmsg_type), pos_, h.nlmsg_len, remaining));
    return false;
  }
  out->type = h.nlmsg_type;
  out->flags = h.nlmsg_flags;
  out->seq = h.nlmsg_seq;
  out->pid = h.nlmsg_pid;
  out->whole = data_.subspan(pos_, h.nlmsg_len);
  out->payload = out->whole.subspan(kNlmsgHeaderSize);
  pos_ += align4(h.nlmsg_len);
  if (pos_ > data_.size()) pos_ = data_.size();
  return true;
}

StatusOr<ByteSpan> attributesAfter(const Message& m, size_t family_size) {
  size_t skip = align4(family_size);
  if (m.payload.size() < family_size) {
    return invalidArgument(fmt::format("{}: payload of {} bytes is shorter than its {}-byte header",
                                       messageTypeName(m.type), m.payload.size(), family_size));
  }
  if (m.payload.size() < skip) return ByteSpan{};
  return m.payload.subspan(skip);
}

Status statusFromError(const Message& m, std::string_view what) {
  if (m.payload.size() < sizeof(int32_t)) {
    return invalidArgument(fmt::format("{}: NLMSG_ERROR payload of {} bytes has no error code",
                                       what, m.payload.size()));
  }
  int32_t err = load<int32_t>(m.payload.data());
  if (err == 0) return okStatus();
  std::string text(what);
  // Extended ACK TLVs follow the echoed request when NLM_F_ACK_TLVS is set.
  if ((m.flags & NLM_F_ACK_TLVS) && m.payload.size() >= sizeof(nlmsgerr)) {
    size_t off = sizeof(nlmsgerr);
    if (!(m.flags & NLM_F_CAPPED)) {
      uint32_t inner_len = load<uint32_t>(m.payload.data() + 4);
      off = 4 + align4(inner_len);
    }
    if (off <= m.payload.size()) {
      AttrReader r(m.payload.subspan(off));
      Attr a;
      while (r.next(&a)) {
        if (a.type == NLMSGERR_ATTR_MSG) {
          auto s = a.str("NLMSGERR_ATTR_MSG");
          if (s.isOk() && !s->empty()) {
            Status base = errnoStatus(-err, text);
            return Status(base.code(), base.message() + " (kernel: " + *s + ")");
          }
        }
      }
    }
  }
  return errnoStatus(-err, text);
}

Bytes buildDone(uint32_t seq, uint32_t pid, int32_t error) {
  MessageBuilder b(NLMSG_DONE, NLM_F_MULTI, seq, pid);
  b.family(error);
  return b.bytes();
}

Bytes buildError(const Message& request, int err) {
  MessageBuilder b(NLMSG_ERROR, NLM_F_CAPPED, request.seq, request.pid);
  nlmsgerr e{};
  e.error = -err;
  std::memcpy(&e.msg, request.whole.data(), kNlmsgHeaderSize);
  b.family(e);
  return b.bytes();
}

void patchHeader(Bytes& message, uint32_t seq, uint32_t pid) {
  if (message.size() < kNlmsgHeaderSize) return;
  store<uint32_t>(message.data() + 8, seq);
  store<uint32_t>(message.data() + 12, pid);
}

void addFlags(Bytes& message, uint16_t flags) {
  if (message.size() < kNlmsgHeaderSize) return;
  store<uint16_t>(message.data() + 6, load<uint16_t>(message.data() + 6) | flags);
}

std::string messageTypeName(uint16_t type) {
  switch (type) {
    case NLMSG_NOOP:
      return "NLMSG_NOOP";
    case NLMSG_ERROR:
      return "NLMSG_ERROR";
    case NLMSG_DONE:
      return "NLMSG_DONE";
    case NLMSG_OVERRUN:
      return "NLMSG_OVERRUN";
    case RTM_NEWLINK:
      return "RTM_NEWLINK";
    case RTM_DELLINK:
      return "RTM_DELLINK";
    case RTM_GETLINK:
      return "RTM_GETLINK";
    case RTM_SETLINK:
      return "RTM_SETLINK";
    default:
      return fmt::format("type {}", type);
  }
}

}  // namespace vfo::netlink
