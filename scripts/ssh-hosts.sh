#!/usr/bin/env bash
# The tests' `ssh` testbed: two plain hosts on this machine, tessera-h1 and tessera-h2, each a
# network namespace joined to the root namespace by a veth pair, with its own sshd (key-only root
# login, pinned host key, its own hostname) and its own tools first on PATH: tessera-h1 has two
# fake H100s (a fake nvidia-smi), tessera-h2 no GPU. The addresses (10.231.0.0/24) exist only on
# this machine: while a host is down its traffic goes to a sink that drops it, never out.
#   ssh-hosts.sh             set up (idempotent: what already runs with this config is left alone)
#   ssh-hosts.sh down HOST   take HOST's link down (a lost host: connections to it time out)
#   ssh-hosts.sh up HOST     bring it back
#   ssh-hosts.sh remove      stop the sshds, delete the namespaces and links (keys are kept)
# The tests read STATE/hosts.json: each host's name, address, port, user and host key, and the
# client key.
set -euo pipefail

STATE=${TESSERA_SSH_HOSTS_STATE:-/var/lib/tessera-ssh-hosts}
HOSTS=(1 2)
NET=10.231.0.0/24
SINK=tshvoid  # veth pair tshvoid/tshvoidp: the /24's fallback route, which drops what it gets

have() { command -v "$1" >/dev/null 2>&1; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
}
# Writes stdin to FILE when it differs; succeeds only when it changed the file.
changed() {
  local tmp; tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  install -m "${2:-644}" "$tmp" "$1"; rm -f "$tmp"
}
die() { echo "ssh-hosts: $*" >&2; exit 1; }

ns_of() { echo "tessera-h$1"; }
link_of() { echo "tsh$1"; }
addr_of() { echo "10.231.0.$((4 * $1 - 2))"; }  # host 1: 10.231.0.2, host 2: 10.231.0.6
peer_of() { echo "10.231.0.$((4 * $1 - 3))"; }  # its root side: 10.231.0.1, 10.231.0.5
gpus_of() { if [ "$1" = 1 ]; then echo 2; else echo 0; fi; }
# host_index tessera-h1|h1|1 -> 1
host_index() {
  local i
  for i in "${HOSTS[@]}"; do
    case $1 in "tessera-h$i" | "h$i" | "$i") echo "$i"; return ;; esac
  done
  die "unknown host '$1' (one of: tessera-h1 tessera-h2)"
}

install_packages() {
  if have ip && have ssh-keygen && have unshare && [ -x /usr/sbin/sshd ]; then return; fi
  echo "ssh-hosts: installing iproute2 openssh-server openssh-client util-linux"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 openssh-server openssh-client util-linux >/dev/null
}

check_privileges() {
  [ "$(id -u)" = 0 ] || die "must run as root (it makes network namespaces and veth links)"
}

setup_sink() {
  if ! ip link show "$SINK" >/dev/null 2>&1; then
    ip link add "$SINK" type veth peer name "${SINK}p" 2>/dev/null \
      || die "cannot create veth links (needs CAP_NET_ADMIN): $(ip link add "$SINK" type veth peer name "${SINK}p" 2>&1)"
    echo "net: $SINK started (drops $NET while a host is down)"
  fi
  # No ARP and no address on the far end: what reaches it is dropped, silently (a timeout).
  ip link set "$SINK" arp off up
  ip link set "${SINK}p" arp off up
  ip route replace "$NET" dev "$SINK"
}

setup_net() {  # setup_net I
  local ns link; ns=$(ns_of "$1"); link=$(link_of "$1")
  if [ ! -e "/run/netns/$ns" ]; then
    local err
    err=$(ip netns add "$ns" 2>&1) \
      || die "cannot create network namespace $ns (needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN): $err"
    echo "netns: $ns started"
  fi
  # A root-side link whose peer is not this namespace's eth0 (the namespace was remade) goes.
  if ip link show "$link" >/dev/null 2>&1 && ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip link del "$link"
  fi
  if ! ip link show "$link" >/dev/null 2>&1; then
    ip link add "$link" type veth peer name eth0 netns "$ns"
    echo "net: $link <-> $ns eth0 started"
  fi
  ip addr replace "$(peer_of "$1")/30" dev "$link"
  if ! ip -o link show "$link" | grep -q '[<,]UP[,>]'; then
    ip link set "$link" up
    echo "net: $link up (it was down)"
  fi
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$(addr_of "$1")/30" dev eth0
  ip -n "$ns" link set eth0 up
}

keys() {
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  if [ ! -s "$STATE/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -C tessera-ssh-hosts-client -f "$STATE/id_ed25519" <<<y >/dev/null
  fi
  [ -s "$STATE/id_ed25519.pub" ] || ssh-keygen -y -f "$STATE/id_ed25519" >"$STATE/id_ed25519.pub"
  changed "$STATE/authorized_keys" 600 <"$STATE/id_ed25519.pub" || true
}

# Host I's own tools: a fake nvidia-smi where it has GPUs, none where it has not.
tools() {  # tools I
  local bin; bin="$STATE/h$1/bin"
  mkdir -p "$bin"
  if [ "$(gpus_of "$1")" = 0 ]; then rm -f "$bin/nvidia-smi"; return; fi
  changed "$bin/nvidia-smi" 755 <<'EOF' || true
#!/bin/sh
# Fake nvidia-smi of the tessera-h1 test host: two NVIDIA H100 80GB HBM3, with the values of
# tests/fixtures/hwinfo/nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv (one real H100), and
# made-up distinct UUIDs and bus ids. Knows --query-gpu=FIELDS --format=csv[,noheader][,nounits]
# and -L; anything else prints a one-line summary.
query='' format=csv list='' prev=''
for arg in "$@"; do
  case $prev in
    --query-gpu) query=$arg ;;
    --format) format=$arg ;;
  esac
  case $arg in
    --query-gpu=*) query=${arg#--query-gpu=} ;;
    --format=*) format=${arg#--format=} ;;
    -L | --list-gpus) list=1 ;;
  esac
  prev=$arg
done

field() {  # field NAME GPU: sets v (the value) and u (its unit); fails for an unknown field
  u=
  case $1 in
    index) v=$2 ;;
    count) v=2 ;;
    name | gpu_name) v="NVIDIA H100 80GB HBM3" ;;
    uuid | gpu_uuid)
      if [ "$2" = 0 ]; then v=GPU-3b9d2f6e-8a41-4c57-9e03-1d5c7a2b4f60
      else v=GPU-3b9d2f6e-8a41-4c57-9e03-1d5c7a2b4f61; fi ;;
    pci.bus_id | gpu_bus_id)
      if [ "$2" = 0 ]; then v=00000000:00:09.0; else v=00000000:00:0A.0; fi ;;
    driver_version) v=590.48.01 ;;
    memory.total) v=81559 u=MiB ;;
    memory.reserved) v=479 u=MiB ;;
    memory.used) v=0 u=MiB ;;
    memory.free) v=81081 u=MiB ;;
    compute_cap) v=9.0 ;;
    utilization.gpu | utilization.memory) v=0 u=% ;;
    temperature.gpu) v=41 ;;
    power.draw) v=69.85 u=W ;;
    power.limit) v=700.00 u=W ;;
    pstate) v=P0 ;;
    *) return 1 ;;
  esac
}

if [ -n "$query" ]; then
  fields=$(echo "$query" | tr -d ' ' | tr ',' ' ')
  for f in $fields; do
    field "$f" 0 || { echo "Field \"$f\" is not a valid field to query." >&2; exit 2; }
  done
  case ,$format, in *,noheader,*) ;; *)
    line=
    for f in $fields; do
      field "$f" 0; h=$f; [ -z "$u" ] || h="$f [$u]"
      line=${line:+$line, }$h
    done
    echo "$line" ;;
  esac
  for gpu in 0 1; do
    line=
    for f in $fields; do
      field "$f" "$gpu"
      case ,$format, in *,nounits,*) ;; *) [ -z "$u" ] || v="$v $u" ;; esac
      line=${line:+$line, }$v
    done
    echo "$line"
  done
  exit 0
fi
if [ -n "$list" ]; then
  for gpu in 0 1; do field uuid "$gpu"; echo "GPU $gpu: NVIDIA H100 80GB HBM3 (UUID: $v)"; done
  exit 0
fi
echo "nvidia-smi (fake, tessera-h1): 2 x NVIDIA H100 80GB HBM3, driver 590.48.01"
EOF
}

sshd_running() {  # sshd_running I: its sshd is alive, in its namespace
  local pidfile; pidfile="$STATE/h$1/sshd.pid"
  alive "$pidfile" && [ "$(ip netns identify "$(cat "$pidfile")" 2>/dev/null)" = "$(ns_of "$1")" ]
}
listening() { timeout 2 bash -c "</dev/tcp/$1/22"; }

start_sshd() {  # start_sshd I
  local i=$1 ns dir addr; ns=$(ns_of "$1"); dir="$STATE/h$1"; addr=$(addr_of "$1")
  mkdir -p "$dir" /run/sshd
  if [ ! -s "$dir/host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$ns" -f "$dir/host_ed25519_key" <<<y >/dev/null
  fi
  [ -s "$dir/host_ed25519_key.pub" ] || ssh-keygen -y -f "$dir/host_ed25519_key" >"$dir/host_ed25519_key.pub"
  local new=0
  changed "$dir/sshd_config" <<EOF && new=1
ListenAddress $addr
Port 22
HostKey $dir/host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $STATE/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
UsePAM no
StrictModes no
MaxSessions 20
MaxStartups 100:30:200
SetEnv PATH=$dir/bin:/usr/local/bin:/usr/bin:/bin
Subsystem sftp internal-sftp
EOF
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "$ns: sshd rejects $dir/sshd_config"
  local restart=0
  if alive "$dir/sshd.pid" && { [ "$new" = 1 ] || ! sshd_running "$i"; }; then
    local pid; pid=$(cat "$dir/sshd.pid")
    kill "$pid"; wait_for 10 sh -c "! kill -0 $pid" || die "$ns: sshd $pid did not stop"
    rm -f "$dir/sshd.pid"
    restart=1
  fi
  if ! sshd_running "$i"; then
    # Its own UTS namespace too, so that `hostname` on the host says tessera-hN.
    # shellcheck disable=SC2016 # $1..$3 are the inner sh's arguments
    ip netns exec "$ns" unshare --uts sh -c \
      'echo "$1" >/proc/sys/kernel/hostname && exec /usr/sbin/sshd -f "$2" -E "$3"' \
      sh "$ns" "$dir/sshd_config" "$dir/sshd.log"
    wait_for 10 sshd_running "$i" || die "$ns: sshd did not start (see $dir/sshd.log)"
    if [ "$restart" = 1 ]; then echo "sshd: $ns restarted on $addr:22"
    else echo "sshd: $ns started on $addr:22"; fi
  fi
  wait_for 10 listening "$addr" || die "$ns: nothing answers on $addr:22 (see $dir/sshd.log)"
}

json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

write_state() {
  local i entries="" known="" key
  for i in "${HOSTS[@]}"; do
    key=$(cut -d' ' -f1,2 "$STATE/h$i/host_ed25519_key.pub")
    known+="$(addr_of "$i") $key"$'\n'
    entries+="${entries:+,
}    {\"name\": $(json_str "$(ns_of "$i")"), \"host\": \"$(addr_of "$i")\", \"port\": 22, \"user\": \"root\", \"host_key\": $(json_str "$key")}"
  done
  printf '%s' "$known" | changed "$STATE/known_hosts" || true
  changed "$STATE/hosts.json" <<EOF || true
{
  "hosts": [
$entries
  ],
  "client_key": $(json_str "$STATE/id_ed25519"),
  "known_hosts": $(json_str "$STATE/known_hosts")
}
EOF
}

setup() {
  check_privileges
  install_packages
  local i
  for i in "${HOSTS[@]}"; do setup_net "$i"; done
  setup_sink
  keys
  for i in "${HOSTS[@]}"; do
    tools "$i"
    start_sshd "$i"
  done
  write_state
}

set_link() {  # set_link HOST up|down
  local i link; i=$(host_index "$1"); link=$(link_of "$i")
  check_privileges
  ip link show "$link" >/dev/null 2>&1 || die "$(ns_of "$i") is not set up (run $0 first)"
  ip link set "$link" "$2"
  echo "$(ns_of "$i"): $2 ($link)"
}

remove() {
  check_privileges
  local i ns link pid
  for i in "${HOSTS[@]}"; do
    ns=$(ns_of "$i"); link=$(link_of "$i")
    if alive "$STATE/h$i/sshd.pid"; then
      pid=$(cat "$STATE/h$i/sshd.pid")
      kill "$pid"; wait_for 10 sh -c "! kill -0 $pid" || die "$ns: sshd $pid did not stop"
      echo "sshd: $ns stopped"
    fi
    rm -f "$STATE/h$i/sshd.pid"
    if [ -e "/run/netns/$ns" ]; then
      # What is left in it: this sshd's sessions.
      for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns"
      echo "netns: $ns removed"
    fi
    if ip link show "$link" >/dev/null 2>&1; then ip link del "$link"; fi
  done
  if ip link show "$SINK" >/dev/null 2>&1; then ip link del "$SINK"; echo "net: $SINK removed"; fi
  rm -f "$STATE/hosts.json"
}

case ${1:-} in
  "" | setup) setup ;;
  down | up) [ $# = 2 ] || die "usage: $0 $1 HOST"; set_link "$2" "$1" ;;
  remove) remove ;;
  *) die "usage: $0 [setup | down HOST | up HOST | remove]" ;;
esac
