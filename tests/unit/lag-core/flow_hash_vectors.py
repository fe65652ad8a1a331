#!/usr/bin/env python3
"""Independent model of Linux 6.1 bond_xmit_hash() used to derive the
expected values in flow_hash_test.cc. Run it to print the vectors:

    python3 tests/unit/lag-core/flow_hash_vectors.py

Written from the kernel formulas, not from the C++ under test:
  bond_eth_hash    = h_dest[5] ^ h_source[5] ^ be16_to_cpu(h_proto)
  bond_ip_hash     = h ^= dst ^ src; h ^= h >> 16; h ^= h >> 8; (>> 1 for *3+4)
  addresses/ports are __be32 values read as native little-endian u32 (x86-64)
  IPv6 addresses   = ipv6_addr_hash: XOR of the four 32-bit words
  ICMP id          = memcpy of {u8 type, u8 code, u16 id(host order)} into a u32
"""
import struct


def le32(b):
    return struct.unpack('<I', bytes(b))[0]


def v6fold(a):
    return le32(a[0:4]) ^ le32(a[4:8]) ^ le32(a[8:12]) ^ le32(a[12:16])


def mac(s):
    return bytes(int(x, 16) for x in s.split(':'))


def ip4(s):
    return bytes(int(x) for x in s.split('.'))


def ip6(words):
    return b''.join(struct.pack('>H', w) for w in words)


DST = mac('02:00:00:00:00:0a')
SRC = mac('52:54:00:12:34:56')


def eth(proto, vlan=None, vlan2=None):
    h = DST + SRC
    if vlan is not None:
        h += struct.pack('>HH', 0x8100, vlan)
    if vlan2 is not None:
        h += struct.pack('>HH', 0x8100, vlan2)
    return h + struct.pack('>H', proto)


def ipv4(proto, src, dst, payload, frag=0):
    return struct.pack('>BBHHHBBH', 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0) + \
        ip4(src) + ip4(dst) + payload


def ipv6(nxt, src, dst, payload):
    return struct.pack('>IHBB', 0x60000000, len(payload), nxt, 64) + src + dst + payload


def l4(sport, dport, extra=b'\0' * 16):
    return struct.pack('>HH', sport, dport) + extra


def icmp(type_, code, id_=0, rest=b''):
    return struct.pack('>BBHHH', type_, code, 0, id_, 1) + rest


S6 = ip6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
D6 = ip6([0x2001, 0xdb8, 0, 0, 0, 0, 0xbeef, 2])

# --- model -------------------------------------------------------------------


def eth_hash(f):
    proto = struct.unpack('>H', f[12:14])[0]
    if proto in (0x8100, 0x88a8) and len(f) >= 18:   # out-of-band tag
        proto = struct.unpack('>H', f[16:18])[0]
    return f[5] ^ f[11] ^ proto


def l2info(f):
    proto = struct.unpack('>H', f[12:14])[0]
    off = 14
    if proto in (0x8100, 0x88a8) and len(f) >= 18:
        proto = struct.unpack('>H', f[16:18])[0]
        off = 18
    return proto, off


def ports(f, off, p):
    poff = {6: 0, 17: 0, 33: 0, 50: 0, 132: 0, 136: 0, 51: 4}.get(p)
    if poff is None or off + poff + 4 > len(f):
        return 0
    return le32(f[off + poff:off + poff + 4])


def icmp_key(f, off):
    if off + 8 > len(f):
        return None
    t, c = f[off], f[off + 1]
    if t in (0, 8, 13, 14, 128, 129):
        i = struct.unpack('>H', f[off + 4:off + 6])[0] or 1
    else:
        i = 0
    return t, c, i


def layer(f, l34):
    """bond_flow_dissect (non-encap) -> (ok, src, dst, ports, icmp)"""
    proto, off = l2info(f)
    st = {'src': 0, 'dst': 0, 'ports': 0, 'icmp': (0, 0, 0), 'ipp': -1, 'off': off}

    def flow_ip(st):
        o = st['off']
        if proto == 0x0800:
            if o + 20 > len(f):
                return False
            st['src'], st['dst'] = le32(f[o + 12:o + 16]), le32(f[o + 16:o + 20])
            frag = struct.unpack('>H', f[o + 6:o + 8])[0] & 0x3fff
            st['off'] = o + (f[o] & 15) * 4
            if not frag:
                st['ipp'] = f[o + 9]
        elif proto == 0x86dd:
            if o + 40 > len(f):
                return False
            st['src'], st['dst'] = v6fold(f[o + 8:o + 24]), v6fold(f[o + 24:o + 40])
            st['off'] = o + 40
            st['ipp'] = f[o + 6]
        else:
            return False
        if l34 and st['ipp'] >= 0:
            st['ports'] = ports(f, st['off'], st['ipp'])
        return True

    if not flow_ip(st):
        return None
    if st['ipp'] in (1, 58):
        k = icmp_key(f, st['off'])
        if k:
            st['icmp'] = k
        t = st['icmp'][0]
        if st['ipp'] == 1 and t not in (3, 4, 5, 11, 12):
            return st
        if st['ipp'] == 58 and t not in (1, 2, 3, 4):
            return st
        st['off'] += 8
        if not flow_ip(st):
            return None
    return st


def dissect(f):
    """__skb_flow_dissect with flow_keys_bonding, flags 0 (subset)."""
    proto, off = l2info(f)
    st = {'src': 0, 'dst': 0, 'ports': 0, 'icmp': (0, 0, 0)}
    tags = 0
    while True:
        if proto == 0x0800:
            if off + 20 > len(f) or (f[off] & 15) < 5:
                return None
            st['src'], st['dst'] = le32(f[off + 12:off + 16]), le32(f[off + 16:off + 20])
            ipp = f[off + 9]
            frag = struct.unpack('>H', f[off + 6:off + 8])[0] & 0x3fff
            off += (f[off] & 15) * 4
            if frag:
                return st
        elif proto == 0x86dd:
            if off + 40 > len(f):
                return None
            st['src'], st['dst'] = v6fold(f[off + 8:off + 24]), v6fold(f[off + 24:off + 40])
            ipp = f[off + 6]
            off += 40
        elif proto in (0x8100, 0x88a8):
            if tags:
                return st
            tags += 1
            proto = struct.unpack('>H', f[off + 2:off + 4])[0]
            off += 4
            continue
        elif proto in (0x0806, 0x8035):
            return st
        else:
            return None
        fragment = False
        again = None
        while True:
            if ipp in (0, 43, 60) and proto == 0x86dd:
                ipp = f[off]
                off += (f[off + 1] + 1) * 8
                continue
            if ipp == 44 and proto == 0x86dd:
                ipp = f[off]
                off += 8
                fragment = True
                break
            if ipp == 4:
                again = 0x0800
            elif ipp == 41:
                again = 0x86dd
            elif ipp in (1, 58):
                k = icmp_key(f, off)
                if k:
                    st['icmp'] = k
            break
        if again:
            proto = again
            continue
        if not fragment:
            st['ports'] = ports(f, off, ipp)
        return st


def bond_xmit_hash(policy, f):
    if len(f) < 14:
        return 0
    if policy == 'layer2':
        return eth_hash(f)
    l34 = policy in ('layer3+4', 'encap3+4')
    st = dissect(f) if policy.startswith('encap') else layer(f, l34)
    if st is None:
        return eth_hash(f)
    if l34:
        t, c, i = st['icmp']
        h = (t | c << 8 | i << 16) if i else st['ports']
    else:
        h = eth_hash(f)
    h ^= st['dst'] ^ st['src']
    h ^= h >> 16
    h ^= h >> 8
    return h >> 1 if l34 else h


FRAMES = {
    'ipv4_tcp': eth(0x0800) + ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80)),
    'ipv4_udp': eth(0x0800) + ipv4(17, '198.18.1.7', '198.19.2.9', l4(5353, 4789)),
    'vlan_ipv4_tcp': eth(0x0800, vlan=100) + ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80)),
    'ipv6_tcp': eth(0x86dd) + ipv6(6, S6, D6, l4(33000, 443)),
    'vlan_ipv6_udp': eth(0x86dd, vlan=42) + ipv6(17, S6, D6, l4(546, 547)),
    'ipv4_frag_tcp': eth(0x0800) + ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80), frag=0x2000),
    'ipv4_icmp_echo': eth(0x0800) + ipv4(1, '198.18.0.1', '198.18.0.2', icmp(8, 0, 0x1234)),
    'ipv4_icmp_unreach': eth(0x0800) + ipv4(1, '198.18.0.9', '198.18.0.1', icmp(
        3, 3, 0, ipv4(17, '198.18.0.1', '198.18.0.2', l4(40001, 53)))),
    'ipv6_hbh_udp': eth(0x86dd) + ipv6(0, S6, D6, bytes([17, 0, 5, 2, 0, 0, 1, 0]) + l4(1000, 2000)),
    'ipv6_frag_udp': eth(0x86dd) + ipv6(44, S6, D6, bytes([17, 0, 0, 0, 0, 0, 0, 7]) + l4(1000, 2000)),
    'ipip_tcp': eth(0x0800) + ipv4(4, '198.18.9.1', '198.18.9.2',
                                   ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80))),
    'qinq_ipv4_udp': eth(0x0800, vlan=10, vlan2=20) + ipv4(17, '198.18.0.1', '198.18.0.2', l4(7, 9)),
    'arp': eth(0x0806) + bytes.fromhex('0001080006040001') + SRC + ip4('198.18.0.1') +
           bytes(6) + ip4('198.18.0.2'),
    'ipv6_icmp_echo': eth(0x86dd) + ipv6(58, S6, D6, icmp(128, 0, 0)),
    'ipv4_ah': eth(0x0800) + ipv4(51, '198.18.0.1', '198.18.0.2',
                                  bytes([6, 4, 0, 0]) + bytes.fromhex('0000abcd') + bytes(12)),
    'ipv4_sctp': eth(0x0800) + ipv4(132, '198.18.0.1', '198.18.0.2', l4(2905, 2905)),
    # ihl 4: layer3+4 (bond_flow_ip) does not check ihl, the dissector rejects it.
    'ipv4_ihl4': eth(0x0800) + bytes([0x44]) + ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80))[1:],
    'truncated_ipv4': (eth(0x0800) + ipv4(6, '198.18.0.1', '198.18.0.2', l4(40000, 80)))[:30],
    'runt': eth(0x0800)[:13],
}

POLICIES = ['layer2', 'layer2+3', 'layer3+4', 'encap2+3', 'encap3+4']

if __name__ == '__main__':
    for name, f in FRAMES.items():
        vals = ', '.join('0x%08x' % bond_xmit_hash(p, f) for p in POLICIES)
        print('    {"%s",\n     "%s",\n     {%s}},' % (name, f.hex(), vals))
