#!/usr/bin/env bash
# Start a private single-node SLURM on localhost for the integration test (no systemd, no cgroups).
#
#   SLURM_TEST_DIR=/scratch/dir tests/slurm/start_slurm.sh
#
# State, logs, pid files and a munge key and socket of its own live under $SLURM_TEST_DIR (which user munge
# must be able to reach). The one file outside it is /etc/slurm/slurm.conf, the path every SLURM command and
# job step reads (the executor plugin drops SLURM_* variables, SLURM_CONF included, inside jobs); it is written
# only when absent or written by this script before. No daemon of the host is touched, and
# tests/slurm/stop_slurm.sh stops exactly the daemons this script started (their pid files).
# Installs the Debian packages (munge, slurmctld, slurmd, slurm-client) with apt-get when they are missing.
# No accounting daemon: `sacct` answers "accounting storage is disabled", so run Snakemake with
# `--slurm-status-command squeue` (finished jobs stay in `squeue --states=all` for MinJobAge = 300 s).
# Exit 3 (the reason on stderr) where this machine cannot run it: not root, no packages and no apt, or a
# SLURM configuration of the host's own in /etc/slurm.
set -euo pipefail

BASE=${SLURM_TEST_DIR:?set SLURM_TEST_DIR to a scratch folder}
PORT=${SLURM_TEST_PORT:-16817}          # slurmctld; slurmd listens on PORT+1
PARTITION=${SLURM_TEST_PARTITION:-debug}
RUN=$BASE/run LOG=$BASE/log STATE=$BASE/state ETC=$BASE/etc
HOST=$(hostname -s)
export PATH=/usr/sbin:/sbin:$PATH
CONF=/etc/slurm/slurm.conf MARK="# Written by tests/slurm/start_slurm.sh"
T0=$SECONDS

say() { echo "[start_slurm +$((SECONDS - T0))s] $*"; }
die() { echo "start_slurm: ERROR: $*" >&2; exit 1; }
unusable() { echo "start_slurm: UNUSABLE: $*" >&2; exit 3; }

[ "$(id -u)" = 0 ] || unusable "needs root (slurmd and munged), running as uid $(id -u)"
if [ -e "$CONF" ] && [ "$(head -1 "$CONF")" != "$MARK" ]; then
  unusable "$CONF belongs to this host's own SLURM; not touching it"
fi

alive() {  # alive PIDFILE COMM: the pid in PIDFILE runs and is named COMM
  local p
  [ -s "$1" ] && p=$(cat "$1") && [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]
}

wait_for() {  # wait_for SECONDS WHAT CMD...: retry CMD every 0.25 s
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "timed out after ${secs}s waiting for $what (logs in $LOG)"
}

# ------------------------------------------------------------------ packages
missing=0
for b in munged slurmctld slurmd sinfo sbatch squeue scancel; do command -v "$b" >/dev/null || missing=1; done
if [ $missing = 1 ]; then
  command -v apt-get >/dev/null || unusable "SLURM/munge are not installed and there is no apt-get"
  say "installing munge slurmctld slurmd slurm-client"
  mkdir -p "$LOG"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client; } \
    >"$LOG/apt.log" 2>&1 || { tail -20 "$LOG/apt.log" >&2; unusable "apt-get install failed (see $LOG/apt.log)"; }
  say "installed $(dpkg-query -W -f='${Package}=${Version} ' munge slurmctld slurmd slurm-client)"
fi

mkdir -p "$RUN/munge" "$LOG/munge" "$STATE/slurmctld" "$STATE/slurmd" "$ETC"
chown munge:munge "$RUN/munge" "$LOG/munge"
runuser -u munge -- test -x "$RUN/munge" || die "user munge cannot reach $RUN/munge: make $BASE and its parents traversable"

# ------------------------------------------------------------------ munge (a private key and socket)
KEY=$ETC/munge.key SOCKET=$RUN/munge/munge.socket
if [ ! -s "$KEY" ]; then
  dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
  chown munge:munge "$KEY"; chmod 0400 "$KEY"
fi
if ! alive "$RUN/munge/munged.pid" munged; then
  rm -f "$SOCKET" "$SOCKET.lock"
  runuser -u munge -- munged --key-file="$KEY" --socket="$SOCKET" --pid-file="$RUN/munge/munged.pid" \
    --log-file="$LOG/munge/munged.log" --seed-file="$RUN/munge/munged.seed" || die "munged failed, see $LOG/munge"
  wait_for 20 munged sh -c "munge -S '$SOCKET' -n | unmunge -S '$SOCKET'"
  say "munged started (pid $(cat "$RUN/munge/munged.pid"))"
fi

# ------------------------------------------------------------------ slurm.conf
NODE=$(slurmd -C | head -1)
get() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$NODE"; }
CPUS=$(get CPUs) MEM=$(( $(get RealMemory) * 90 / 100 ))
cat >"$ETC/slurm.conf.new" <<EOC
$MARK
# One node, no accounting, no cgroups; daemons' files under $BASE.
ClusterName=rdmtest
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( MEM / CPUS / 2 > 1024 ? 1024 : MEM / CPUS / 2 ))
ReturnToService=2
MinJobAge=300
KillWait=5
SlurmctldTimeout=120
SlurmdTimeout=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Boards=$(get Boards) SocketsPerBoard=$(get SocketsPerBoard) CoresPerSocket=$(get CoresPerSocket) ThreadsPerCore=$(get ThreadsPerCore) RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOC
if ! cmp -s "$ETC/slurm.conf.new" "$CONF"; then
  mkdir -p /etc/slurm
  mv "$ETC/slurm.conf.new" "$CONF"
  for d in slurmd slurmctld; do  # a changed config under running daemons of ours: restart them
    if alive "$RUN/$d.pid" "$d"; then kill "$(cat "$RUN/$d.pid")"; sleep 1; fi
  done
else
  rm -f "$ETC/slurm.conf.new"
fi

# ------------------------------------------------------------------ slurmctld + slurmd
if ! alive "$RUN/slurmctld.pid" slurmctld; then
  slurmctld || die "slurmctld failed, see $LOG/slurmctld.log"
  wait_for 60 slurmctld scontrol ping
  say "slurmctld started (pid $(cat "$RUN/slurmctld.pid"), port $PORT)"
fi
if ! alive "$RUN/slurmd.pid" slurmd; then
  slurmd || die "slurmd failed, see $LOG/slurmd.log"
  wait_for 20 slurmd alive "$RUN/slurmd.pid" slurmd
  say "slurmd started (pid $(cat "$RUN/slurmd.pid"))"
fi
node_ok() { sinfo -h -n "$HOST" -o %T | grep -Eqx 'idle|mixed|allocated|completing'; }
for _ in $(seq 1 240); do
  node_ok && break
  case $(sinfo -h -n "$HOST" -o %T 2>/dev/null) in  # left down/drained by an earlier run
    down*|drain*|fail*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.25
done
node_ok || die "node $HOST not usable: $(sinfo -h -N -o '%N %T %E' 2>&1)"
say "ready: node $HOST, $CPUS cpus, ${MEM} MB, partition $PARTITION, config $CONF"
