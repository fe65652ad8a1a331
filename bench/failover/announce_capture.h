// AnnounceCapture: what the ToR sees of a failover's announce, with kernel
// timestamps, next to when the carrier notification arrived.
//
// A packet socket opened inside the ToR's namespace on one ToR port (the
// surviving member's wire) records every RARP, gratuitous ARP and unsolicited
// Neighbor Advertisement whose Ethernet source starts with `mac_prefix`
// (SO_TIMESTAMPNS, CLOCK_REALTIME). An rtnetlink socket in the caller's
// namespace records, on the same clock, when the first RTM_NEWLINK showing
// `watched_netdev` without IFF_LOWER_UP arrived: the notification vfod's
// LagRuntime reacts to (both sockets are woken by the same broadcast, so the
// two receipt times differ by scheduling only).
//
// Frames the ToR sends out of the port (PACKET_OUTGOING) are ignored.
//
// Threads: start() spawns a packet reader and a netlink watcher (SCHED_FIFO,
// so its receipt time does not wait for a core); frames()/notifiedAt() may
// be called from any thread (copies under a lock); stop() joins both. Errors:
// start() returns the errno of the failing step (setns, socket, bind, ...)
// naming it; nothing is left open on error.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vfo/base/status.h"

namespace vfo::bench {

// Kind of an announce frame seen on the wire.
enum class WireKind : uint8_t {
  kRarp,  // RARP request (EtherType 0x8035)
  kGarp,  // ARP with sender IP == target IP (gratuitous)
  kNa,    // ICMPv6 Neighbor Advertisement
};

struct WireFrame {
  std::chrono::nanoseconds at{0};     // kernel RX time, CLOCK_REALTIME since the epoch
  WireKind kind = WireKind::kRarp;    // what it announces
  std::array<uint8_t, 6> mac{};       // Ethernet source (the port's MAC)
  std::array<uint8_t, 16> address{};  // GARP: IPv4 in the first 4 bytes; NA: target; RARP: zero
};

class AnnounceCapture {
 public:
  // `tor_ns`: network namespace name (ip netns) holding `tor_port`.
  AnnounceCapture(std::string tor_ns, std::string tor_port, std::string watched_netdev,
                  std::array<uint8_t, 4> mac_prefix);
  ~AnnounceCapture();  // stop()
  AnnounceCapture(const AnnounceCapture&) = delete;
  AnnounceCapture& operator=(const AnnounceCapture&) = delete;

  // Opens both sockets (the packet socket with a 64 MiB receive buffer) and
  // starts the reader. Call before the cut.
  Status start();
  // Stops the reader and closes the sockets. Idempotent.
  void stop();

  std::vector<WireFrame> frames() const;
  size_t frameCount() const { return count_.load(); }
  // CLOCK_REALTIME receipt of the carrier-loss notification, if seen.
  std::optional<std::chrono::nanoseconds> notifiedAt() const;
  // Frames the packet socket dropped (PACKET_STATISTICS), read by stop().
  uint64_t socketDrops() const { return drops_; }

 private:
  void readPackets();
  void readNetlink();
  void onPacket(const uint8_t* data, size_t len, std::chrono::nanoseconds at);
  void onNetlink(const uint8_t* data, size_t len, std::chrono::nanoseconds at);

  std::string tor_ns_;
  std::string tor_port_;
  std::string watched_;
  std::array<uint8_t, 4> prefix_;
  int watched_index_ = 0;  // ifindex of watched_ in the caller's namespace
  int packet_fd_ = -1;
  int netlink_fd_ = -1;
  int stop_fd_ = -1;       // eventfd that wakes the reader
  std::thread reader_;     // readPackets()
  std::thread watcher_;    // readNetlink()
  mutable std::mutex mu_;  // guards frames_, notified_
  std::vector<WireFrame> frames_;
  std::optional<std::chrono::nanoseconds> notified_;
  std::atomic<size_t> count_{0};
  uint64_t drops_ = 0;
};

}  // namespace vfo::bench
