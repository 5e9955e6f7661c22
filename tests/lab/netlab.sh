#!/bin/bash
# netlab.sh: test hosts as network namespaces on one bridge, for multi-host tests.
#
#   netlab.sh up PREFIX N            N hosts PREFIX-h1..hN on a bridge in namespace PREFIX-sw;
#                                    host K has 127.200.0.K/24 on eth0 (loopback range only)
#   netlab.sh down PREFIX N          kill what runs in them and remove everything (idempotent; also
#                                    the hosts added later)
#   netlab.sh host-add PREFIX K      add host K to a running lab (the lab cloud's "VMs")
#   netlab.sh host-del PREFIX K      remove host K and what runs in it
#   netlab.sh partition PREFIX K     host K drops every packet it sends or receives on eth0 (nftables)
#   netlab.sh heal PREFIX K          undo partition
#   netlab.sh bandwidth PREFIX K MBIT   cap what host K sends on eth0 (tc tbf); 0 removes the cap
#   netlab.sh sshd PREFIX K DIR      start sshd in host K on 127.200.0.K:2222, key login only; keys,
#                                    config and a known_hosts line for it live in DIR (client key:
#                                    DIR/client_ed25519; DIR/known_hosts pins the host key); log in
#                                    as jblab (uid 0, /bin/sh, so no ~/.bashrc runs per command)
#
# Nothing is added to the root namespace (veth pairs are created there and moved out at once).
# Needs root, iproute2 and nftables. 127.x works across veth only with route_localnet and a
# narrowed local route in each host (docs/notes/deps.md §2).
set -euo pipefail
cmd=${1:?usage: netlab.sh up|down|partition|heal|bandwidth PREFIX ...}
P=${2:?PREFIX}

# Host K: namespace $P-hK with 127.200.0.K on eth0, its veth peer on the bridge.
add_host() {
  k=$1
  h="$P-h$k"
  ip netns add "$h"
  ip link add "$P-v$k" type veth peer name "$P-s$k"
  ip link set "$P-v$k" netns "$h" name eth0
  ip link set "$P-s$k" netns "$P-sw"
  ip -n "$P-sw" link set "$P-s$k" master br0 up
  ip -n "$h" link set lo up
  ip netns exec "$h" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
  ip -n "$h" route replace local 127.0.0.0/16 dev lo table local
  ip -n "$h" route del local 127.0.0.0/8 dev lo table local
  ip -n "$h" addr add "127.200.0.$k/24" dev eth0
  ip -n "$h" link set eth0 up
}

case "$cmd" in
up)
  n=${3:?N}
  ip netns add "$P-sw"
  ip -n "$P-sw" link set lo up
  ip -n "$P-sw" link add br0 type bridge
  ip -n "$P-sw" link set br0 up
  for k in $(seq 1 "$n"); do add_host "$k"; done
  ;;
host-add)
  add_host "${3:?K}"
  ;;
host-del)
  k=${3:?K}
  for pid in $(ip netns pids "$P-h$k" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$P-h$k" 2>/dev/null || true
  ip -n "$P-sw" link del "$P-s$k" 2>/dev/null || true
  ;;
down)
  # Every host of the lab, including ones added later (host-add, the lab cloud's VMs).
  for h in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-h[0-9]*$" || true); do
    for pid in $(ip netns pids "$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$h" 2>/dev/null || true
  done
  ip netns del "$P-sw" 2>/dev/null || true
  ;;
partition)
  k=${3:?K}
  ip netns exec "$P-h$k" nft -f - <<NFT
table inet jblab {
  chain in { type filter hook input priority 0; iifname "eth0" drop; }
  chain out { type filter hook output priority 0; oifname "eth0" drop; }
}
NFT
  ;;
heal)
  k=${3:?K}
  ip netns exec "$P-h$k" nft delete table inet jblab 2>/dev/null || true
  ;;
bandwidth)
  k=${3:?K}; mbit=${4:?MBIT}
  ip netns exec "$P-h$k" tc qdisc del dev eth0 root 2>/dev/null || true
  if [ "$mbit" != 0 ]; then
    ip netns exec "$P-h$k" tc qdisc add dev eth0 root tbf rate "${mbit}mbit" burst 32kbit latency 50ms
  fi
  ;;
sshd)
  k=${3:?K}; dir=${4:?DIR}
  mkdir -p "$dir" /run/sshd
  # Log in as "jblab": root's uid with /bin/sh as its shell, so remote commands do not run root's
  # ~/.bashrc (which may do slow or lock-taking work on every ssh command).
  id -u jblab > /dev/null 2>&1 || useradd -o -u 0 -g 0 -M -d /root -s /bin/sh jblab
  grep -q '^jblab:\*:' /etc/shadow || usermod -p '*' jblab  # no password, but not locked (sshd refuses "!")
  [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
  [ -f "$dir/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  chmod 600 "$dir/host_ed25519" "$dir/client_ed25519" "$dir/authorized_keys"
  cat > "$dir/sshd_config_h$k" <<CFG
Port 2222
ListenAddress 127.200.0.$k
HostKey $dir/host_ed25519
PidFile $dir/sshd_h$k.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
LogLevel VERBOSE
CFG
  echo "[127.200.0.$k]:2222 $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >> "$dir/known_hosts"
  ip netns exec "$P-h$k" /usr/sbin/sshd -e -f "$dir/sshd_config_h$k" 2>> "$dir/sshd_h$k.log"
  for _ in $(seq 1 50); do [ -s "$dir/sshd_h$k.pid" ] && exit 0; sleep 0.1; done
  echo "netlab.sh: sshd did not start in $P-h$k; see $dir/sshd_h$k.log" >&2
  exit 1
  ;;
*)
  echo "netlab.sh: unknown command $cmd" >&2
  exit 2
  ;;
esac
