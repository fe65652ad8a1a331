// Netlink wire format: a builder that produces one message as bytes, and
// strict readers for messages and attributes.
//
// Wire layout (all integers in host byte order, as the kernel sends them):
//   nlmsghdr (16 bytes) | family header (e.g. ifinfomsg, padded to 4) |
//   attributes: nlattr {u16 nla_len; u16 nla_type} + payload, each padded to 4.
// nla_len counts header + payload without padding; a nested attribute's
// nla_len covers its children including their padding; nlmsg_len covers the
// whole message including the padding of its last attribute.
//
// Contract: builders never fail (they only append); readers never read past
// the span they were given and report the first malformed header as an
// INVALID_ARGUMENT Status naming the offset. Spans handed out by readers point
// into the caller's buffer and are valid only while that buffer lives.
// Nothing here is thread-safe; nothing touches a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/status.h"

namespace vfo::netlink {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline constexpr size_t kNlmsgHeaderSize = 16;         // sizeof(struct nlmsghdr)
inline constexpr size_t kAttrHeaderSize = 4;           // sizeof(struct nlattr)
inline constexpr uint16_t kAttrFlagNested = 0x8000;    // NLA_F_NESTED
inline constexpr uint16_t kAttrFlagNetOrder = 0x4000;  // NLA_F_NET_BYTEORDER
inline constexpr uint16_t kAttrTypeMask = 0x3fff;      // NLA_TYPE_MASK

// NLMSG_ALIGN / NLA_ALIGN: round up to a multiple of 4.
constexpr size_t align4(size_t n) {
  return (n + 3) & ~size_t(3);
}

// Builds one netlink message. Typical use:
//   MessageBuilder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
//   b.family(ifinfomsg{...});
//   size_t li = b.beginNested(IFLA_LINKINFO);
//   b.putString(IFLA_INFO_KIND, "veth");
//   b.endNested(li);
//   Bytes msg = b.finish();
class MessageBuilder {
 public:
  // seq and pid go into the header as given (a socket's send() rewrites seq).
  MessageBuilder(uint16_t type, uint16_t flags, uint32_t seq = 0, uint32_t pid = 0);

  // Appends a fixed family header (ifinfomsg, nlmsgerr, ...) padded to 4.
  // Call at most once, before any attribute.
  template <typename T>
  MessageBuilder& family(const T& header) {
    appendPadded(&header, sizeof(T));
    return *this;
  }
  // Appends raw bytes padded to 4 (for hand-built family headers in tests).
  MessageBuilder& raw(ByteSpan bytes);

  MessageBuilder& put(uint16_t type, ByteSpan payload);
  MessageBuilder& put(uint16_t type, const void* payload, size_t len);
  MessageBuilder& putFlag(uint16_t type);  // zero-length payload
  MessageBuilder& putU8(uint16_t type, uint8_t v);
  MessageBuilder& putU16(uint16_t type, uint16_t v);
  MessageBuilder& putU32(uint16_t type, uint32_t v);
  MessageBuilder& putS32(uint16_t type, int32_t v);
  MessageBuilder& putU64(uint16_t type, uint64_t v);
  // NUL-terminated, as nla_put_string.
  MessageBuilder& putString(uint16_t type, std::string_view s);

  // Opens a nested attribute; returns the token endNested() needs.
  // with_nested_flag sets NLA_F_NESTED in nla_type (nla_nest_start vs
  // nla_nest_start_noflag in the kernel).
  size_t beginNested(uint16_t type, bool with_nested_flag = false);
  MessageBuilder& endNested(size_t token);

  size_t size() const { return buf_.size(); }
  // The message with nlmsg_len set. The builder stays usable.
  Bytes bytes() const;
  Bytes finish() && { return bytes(); }

 private:
  void appendPadded(const void* p, size_t len);
  Bytes buf_;
};

// One attribute as seen by AttrReader.
struct Attr {
  uint16_t type = 0;   // nla_type without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  uint16_t flags = 0;  // the flag bits of nla_type
  ByteSpan payload;    // nla_len - 4 bytes, padding excluded
  size_t offset = 0;   // offset of the header inside the span given to the reader

  // Typed payload access; the payload size must match exactly, otherwise
  // INVALID_ARGUMENT naming `what` (e.g. "IFLA_CARRIER").
  StatusOr<uint8_t> u8(std::string_view what) const;
  StatusOr<uint16_t> u16(std::string_view what) const;
  StatusOr<uint32_t> u32(std::string_view what) const;
  StatusOr<int32_t> s32(std::string_view what) const;
  StatusOr<uint64_t> u64(std::string_view what) const;
  // A NUL-terminated string; the NUL must lie inside the payload.
  StatusOr<std::string> str(std::string_view what) const;
};

// Iterates the attributes of `data` (a message's attribute area or a nested
// attribute's payload). Strict: each header must fit, nla_len >= 4 and
// nla_len <= remaining; bytes left over that cannot hold a header are an
// error too (the kernel warns about them; we reject).
class AttrReader {
 public:
  explicit AttrReader(ByteSpan data) : data_(data) {}
  // Fills *out and returns true, or returns false at the end or on error
  // (then status() says which).
  bool next(Attr* out);
  const Status& status() const { return status_; }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
  Status status_;
};

// The attributes of one level indexed by type (0..max_type); types above
// max_type are skipped (forward compatibility), a repeated type keeps the
// last occurrence (as the kernel's nla_parse).
class AttrTable {
 public:
  static StatusOr<AttrTable> parse(ByteSpan data, uint16_t max_type);
  const Attr* get(uint16_t type) const;
  bool has(uint16_t type) const { return get(type) != nullptr; }

 private:
  std::vector<std::optional<Attr>> attrs_;  // indexed by type
};

// One netlink message inside a datagram.
struct Message {
  uint16_t type = 0;   // nlmsg_type
  uint16_t flags = 0;  // nlmsg_flags
  uint32_t seq = 0;    // nlmsg_seq
  uint32_t pid = 0;    // nlmsg_pid (port id)
  ByteSpan payload;    // after the 16-byte header, nlmsg_len - 16 bytes
  ByteSpan whole;      // header + payload
};

// Splits a datagram into messages. Strict: nlmsg_len >= 16 and within the
// datagram; messages are 4-byte aligned; trailing bytes that cannot hold a
// header are an error.
class MessageReader {
 public:
  explicit MessageReader(ByteSpan datagram) : data_(datagram) {}
  bool next(Message* out);
  const Status& status() const { return status_; }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
  Status status_;
};

// Payload of a message after its fixed family header of `family_size` bytes
// (padded to 4); INVALID_ARGUMENT if the message is shorter.
StatusOr<ByteSpan> attributesAfter(const Message& m, size_t family_size);

// For an NLMSG_ERROR message: OK for an ACK (error 0), otherwise
// errnoStatus(-error, "<what>") with the kernel's extended-ACK text appended
// when present ("...: Device or resource busy (kernel: <msg>)").
// INVALID_ARGUMENT if the message is too short to hold nlmsgerr.
Status statusFromError(const Message& m, std::string_view what);

// Helpers that build the kernel's replies, for fakes and tests.
Bytes buildDone(uint32_t seq, uint32_t pid, int32_t error = 0);
// NLMSG_ERROR with error = -err (0 = ACK) echoing the request's header
// (capped, as with NETLINK_CAP_ACK).
Bytes buildError(const Message& request, int err);

// Overwrites nlmsg_seq / nlmsg_pid / nlmsg_flags of a single built message.
void patchHeader(Bytes& message, uint32_t seq, uint32_t pid);
void addFlags(Bytes& message, uint16_t flags);

// Human name of a netlink message type: "RTM_NEWLINK", "NLMSG_ERROR",
// else "type 123".
std::string messageTypeName(uint16_t type);

}  // namespace vfo::netlink
