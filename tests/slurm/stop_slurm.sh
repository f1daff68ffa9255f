#!/usr/bin/env bash
# Stop the daemons tests/slurm/start_slurm.sh started (by their pid files under $SLURM_TEST_DIR, nothing else).
set -uo pipefail
BASE=${SLURM_TEST_DIR:?set SLURM_TEST_DIR to the folder start_slurm.sh used}
RUN=$BASE/run
export PATH=/usr/sbin:/sbin:$PATH

stop() {  # stop PIDFILE COMM: TERM, wait up to 20 s, then KILL
  local p
  [ -s "$1" ] && p=$(cat "$1") || return 0
  if [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then
    kill "$p" 2>/dev/null
    for _ in $(seq 1 80); do [ -d "/proc/$p" ] || break; sleep 0.25; done
    [ -d "/proc/$p" ] && kill -9 "$p" 2>/dev/null
    echo "stopped $2 ($p)"
  fi
  rm -f "$1"
}

if [ -s "$RUN/slurmctld.pid" ] && [ "$(cat "/proc/$(cat "$RUN/slurmctld.pid")/comm" 2>/dev/null)" = slurmctld ]; then
  ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')  # jobs of this private cluster only
  [ -n "${ids// }" ] && scancel $ids && sleep 1
fi
stop "$RUN/slurmd.pid" slurmd
stop "$RUN/slurmctld.pid" slurmctld
stop "$RUN/munge/munged.pid" munged
if [ "$(head -1 /etc/slurm/slurm.conf 2>/dev/null)" = "# Written by tests/slurm/start_slurm.sh" ]; then
  rm -f /etc/slurm/slurm.conf  # ours, pointing at the daemons just stopped
fi
