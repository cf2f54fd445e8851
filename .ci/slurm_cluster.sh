#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine, for the cluster tests (make slurm-up).
# Debian's slurm 22.05: munged, MariaDB, slurmdbd, slurmctld and slurmd, each started by hand
# (no systemd needed) and stopped by its pid file. Runs as root. A real cluster needs none of this.
#   .ci/slurm_cluster.sh install|configure|start|stop|status|up
# `up` = install (only what is missing) + configure + start, and waits for the node to be idle.
set -euo pipefail

STATE=${SLURM_TEST_STATE:-/var/lib/fpam-slurm}   # spool, logs, pid files, the database
CLUSTER=fpam
PARTITION=debug
PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"

say() { echo "slurm_cluster: $*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { say "run as root (it installs packages and starts daemons)"; exit 2; }; }

install() {
  need_root
  local missing=()
  for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && { say "packages already installed"; return; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d: the packages' postinst must not try to start services (no systemd here).
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

configure() {
  need_root
  local cpus mem host
  cpus=$(nproc)
  mem=$(( $(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo) - 1024 ))  # a margin for the daemons
  host=$(hostname -s)
  mkdir -p "$STATE"/{ctld,d,log,mysql} /etc/slurm /run/munge /run/mysqld
  chown munge:munge /run/munge; chown mysql:mysql /run/mysqld "$STATE/mysql"
  chown slurm:slurm "$STATE"/{ctld,log} 2>/dev/null || true
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  cat >/etc/slurm/slurm.conf <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s)
AuthInfo=cred_expire=30
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
KillWait=30
MinJobAge=300
JobRequeue=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
# A partition with a 20-minute limit, for the tests of requests above a partition's limits
PartitionName=short Nodes=$host MaxTime=20 State=UP OverSubscribe=NO
EOF
  cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 0600 /etc/slurm/slurmdbd.conf
  if [ ! -d "$STATE/mysql/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$STATE/mysql" --skip-test-db >/dev/null
  fi
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  say "timed out waiting for $what"; return 1
}

start() {
  need_root
  mkdir -p /run/munge /run/mysqld; chown munge:munge /run/munge; chown mysql:mysql /run/mysqld
  pid_alive /run/munge/munged.pid || su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
  wait_for 20 munged munge -n
  if ! pid_alive "$STATE/mysql/mysqld.pid"; then
    # pid file in the database folder (owned by mysql), not in a root-owned folder
    (setsid mariadbd --user=mysql --datadir="$STATE/mysql" --bind-address=127.0.0.1 \
      --socket=/run/mysqld/mysqld.sock --pid-file="$STATE/mysql/mysqld.pid" \
      --log-error="$STATE/log/mariadb.log" </dev/null >/dev/null 2>&1 &)
    wait_for 60 MariaDB mariadb --socket=/run/mysqld/mysqld.sock -e 'select 1'
  fi
  mariadb --socket=/run/mysqld/mysqld.sock -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  pid_alive "$STATE/slurmdbd.pid" || slurmdbd
  wait_for 30 slurmdbd sacctmgr -n list cluster
  sacctmgr -i -n list cluster format=cluster | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
  pid_alive "$STATE/slurmctld.pid" || slurmctld
  wait_for 30 slurmctld scontrol ping
  pid_alive "$STATE/slurmd.pid" || slurmd
  # the node reads `unk` for a few seconds after slurmctld starts
  wait_for 60 "the node to be idle" sh -c "sinfo -h -o %t | grep -qx idle"
  scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
  say "up: $(sinfo -h -o '%P %D %c CPUs %m MB %t')"
}

stop() {
  need_root
  scancel --state=RUNNING --full 2>/dev/null || true
  local f
  for f in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/slurmdbd.pid" \
    "$STATE/mysql/mysqld.pid" /run/munge/munged.pid; do
    if pid_alive "$f"; then
      local pid; pid=$(cat "$f"); kill "$pid"
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
  done
  say "stopped"
}

status() {
  local f
  for f in /run/munge/munged.pid "$STATE/mysql/mysqld.pid" "$STATE/slurmdbd.pid" \
    "$STATE/slurmctld.pid" "$STATE/slurmd.pid"; do
    if pid_alive "$f"; then echo "running  $f"; else echo "stopped  $f"; fi
  done
  command -v sinfo >/dev/null && sinfo 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  configure) configure ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  up) install; configure; start ;;
  *) echo "usage: $0 install|configure|start|stop|status|up" >&2; exit 2 ;;
esac
