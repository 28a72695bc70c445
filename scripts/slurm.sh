#!/usr/bin/env bash
# The tests' SLURM cluster on this host: munge, slurmctld and slurmd (one node with
# Gres=gpu:h100:2 on fake character devices), and an sshd on a loopback port with key-only
# login for the tests' user. Idempotent: what already runs with this config is left alone.
set -euo pipefail

STATE=${TESSERA_SLURM_STATE:-/var/lib/tessera-slurm}
SSH_PORT=${TESSERA_TEST_SSH_PORT:-2222}
TEST_USER=${TESSERA_TEST_SSH_USER:-tessera-ci}
HOST=$(hostname -s)
CONF=/etc/slurm

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

install_packages() {
  if have slurmctld && have munged && [ -x /usr/sbin/sshd ]; then return; fi
  echo "slurm: installing slurm-wlm munge openssh-server"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge openssh-server >/dev/null
}

start_munge() {
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  su munge -s /bin/sh -c /usr/sbin/munged
  wait_for 10 sh -c 'munge -n | unmunge' || { echo "munge did not start" >&2; exit 1; }
  echo "munge: started"
}

write_config() {
  mkdir -p "$STATE/dev" "$CONF" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  for i in 0 1; do
    [ -c "$STATE/dev/fakegpu$i" ] || { rm -f "$STATE/dev/fakegpu$i"; mknod "$STATE/dev/fakegpu$i" c 1 3; }
  done
  local new=0
  changed "$CONF/slurm.conf" <<EOF && new=1
ClusterName=local
SlurmctldHost=$HOST
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
# Batch jobs start when they can: Slurm may otherwise hold them up to 3 s (batch_sched_delay).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MaxJobCount=20000
DefMemPerCPU=256
MinJobAge=600
GresTypes=gpu
NodeName=$HOST CPUs=2 RealMemory=8000 Gres=gpu:h100:2 Features=avx2,cuda State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  changed "$CONF/gres.conf" <<EOF && new=1
NodeName=$HOST Name=gpu Type=h100 File=$STATE/dev/fakegpu[0-1]
EOF
  echo "$new"
}

node_ready() {
  case $(sinfo -h -n "$HOST" -o %T 2>/dev/null) in
    idle*|mixed*|allocated*|completing*) return 0 ;;
    *) return 1 ;;
  esac
}

start_slurm() {
  local new; new=$(write_config)
  if ! alive /run/slurmctld.pid; then
    slurmctld
    wait_for 20 scontrol ping || { echo "slurmctld did not start" >&2; exit 1; }
    echo "slurmctld: started"
    new=1  # a restarted controller may hold the node DOWN until slurmd registers again
  elif [ "$new" = 1 ]; then
    # Node definitions (Gres, CPUs) change only with a controller restart, not a reconfigure.
    local ctld; ctld=$(cat /run/slurmctld.pid)
    kill "$ctld"; wait_for 30 sh -c "! kill -0 $ctld" || { echo "slurmctld did not stop" >&2; exit 1; }
    slurmctld
    wait_for 20 scontrol ping || { echo "slurmctld did not start" >&2; exit 1; }
    echo "slurmctld: restarted"
  fi
  if alive /run/slurmd.pid && [ "$new" = 1 ]; then
    # slurmd can take seconds to stop: a new one started meanwhile would exit at once.
    local pid; pid=$(cat /run/slurmd.pid)
    kill "$pid"; wait_for 30 sh -c "! kill -0 $pid" || { echo "slurmd did not stop" >&2; exit 1; }
  fi
  if ! alive /run/slurmd.pid; then slurmd; echo "slurmd: started"; fi
  if ! wait_for 10 node_ready; then
    scontrol update nodename="$HOST" state=resume 2>/dev/null || true
    wait_for 20 node_ready || { echo "node $HOST not ready: $(sinfo -h -N -o '%T %E')" >&2; exit 1; }
  fi
  echo "slurm: node $HOST $(sinfo -h -n "$HOST" -o %T)"
}

start_sshd() {
  local dir="$STATE/ssh"
  mkdir -p "$dir" /run/sshd
  [ -s "$dir/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C tessera-test-host -f "$dir/host_ed25519_key"
  [ -s "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C tessera-test-client -f "$dir/id_ed25519"
  id "$TEST_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TEST_USER"
  # A locked account ("!" password) may not log in even by key: "*" is no password, unlocked.
  [ "$(getent shadow "$TEST_USER" | cut -d: -f2)" = "*" ] || usermod -p "*" "$TEST_USER"
  local home; home=$(getent passwd "$TEST_USER" | cut -d: -f6)
  install -d -m 700 -o "$TEST_USER" -g "$TEST_USER" "$home/.ssh"
  install -m 600 -o "$TEST_USER" -g "$TEST_USER" "$dir/id_ed25519.pub" "$home/.ssh/authorized_keys"
  local new=0
  changed "$dir/sshd_config" <<EOF && new=1
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519_key
PidFile $dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $TEST_USER
UsePAM no
MaxSessions 10
MaxStartups 100:30:200
Subsystem sftp internal-sftp
EOF
  if alive "$dir/sshd.pid" && [ "$new" = 1 ]; then kill "$(cat "$dir/sshd.pid")"; sleep 0.2; fi
  if ! alive "$dir/sshd.pid"; then
    /usr/sbin/sshd -f "$dir/sshd_config"
    echo "sshd: started on 127.0.0.1:$SSH_PORT"
  fi
}

install_packages
start_munge
start_slurm
start_sshd
