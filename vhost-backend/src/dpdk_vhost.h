// Includes DPDK's rte_vhost.h from C++.
//
// In C++ rte_vhost.h skips the Linux uapi headers (they are not C++-clean),
// which leaves VHOST_F_LOG_ALL (used by RTE_VHOST_NEED_LOG) and the
// VIRTIO_NET_F_* bits undefined. Define them first, from the values in
// linux/vhost_types.h and linux/virtio_net.h (mirrored in
// vfo/vhost/virtio_features.h and checked below).
#pragma once

#include "vfo/vhost/virtio_features.h"

#ifndef VHOST_F_LOG_ALL
#define VHOST_F_LOG_ALL 26
#endif
#ifndef VIRTIO_NET_F_CSUM
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GSO 6
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ 22
#endif

#include <rte_vhost.h>

static_assert(VHOST_F_LOG_ALL == vfo::vhost::kVhostFLogAll);
static_assert(VIRTIO_NET_F_MRG_RXBUF == vfo::vhost::kVirtioNetFMrgRxbuf);
static_assert(VIRTIO_NET_F_MQ == vfo::vhost::kVirtioNetFMq);
static_assert(VIRTIO_NET_F_GUEST_ANNOUNCE == vfo::vhost::kVirtioNetFGuestAnnounce);
static_assert(VHOST_USER_F_PROTOCOL_FEATURES == vfo::vhost::kVhostUserFProtocolFeatures);
