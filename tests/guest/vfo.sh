# Helpers for guest scripts (busybox sh), sourced before the script runs.
# Installed as /lib/vfo.sh by build-initramfs; documented in docs/guests.md.
# $VFO_DEV is the NIC, $VFO_IF the interface carrying the addresses (the VLAN
# sub-interface when vfo.vlan is set); both are empty without a NIC.

# result KEY VALUE...: one result line for the test, "VFO-RESULT KEY=VALUE".
# KEY must not contain '=' or spaces.
result() {
  k="$1"
  shift
  echo "VFO-RESULT $k=$*"
}

# wait_carrier [IFACE] [SECONDS]: waits until IFACE (default $VFO_DEV) has
# carrier, polling every 0.1 s up to SECONDS (default 10). Returns 1 on timeout.
wait_carrier() {
  _i="${1:-$VFO_DEV}"
  _n=$((${2:-10} * 10))
  while [ "$_n" -gt 0 ]; do
    [ "$(cat /sys/class/net/$_i/carrier 2>/dev/null)" = 1 ] && return 0
    sleep 0.1
    _n=$((_n - 1))
  done
  return 1
}

# ping_stats NAME DEST [ping options...]: runs busybox ping (IPv6 when DEST
# contains ':') and reports NAME.tx and NAME.rx (packets sent and received).
# Returns 0 when at least one reply came back.
ping_stats() {
  _name="$1"
  _dst="$2"
  shift 2
  _cmd=ping
  case "$_dst" in *:*) _cmd=ping6 ;; esac
  _out=$($_cmd "$@" "$_dst" 2>&1)
  _line=$(echo "$_out" | grep 'packets transmitted')
  _tx=$(echo "$_line" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
  _rx=$(echo "$_line" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
  result "$_name.tx" "${_tx:-0}"
  result "$_name.rx" "${_rx:-0}"
  [ "${_rx:-0}" -gt 0 ]
}
