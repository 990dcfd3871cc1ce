#!/usr/bin/env bash
# Starts a real single-node Slurm cluster on this machine (munged, slurmctld
# and slurmd as root, every key, socket, state, log and pid file in a fresh
# temporary folder, random free ports), submits a cohort as a 3-task job
# array plus its merge job through scripts/slurm/tessera-submit, and checks
# that the merged summary equals a single-machine `tessera batch` run over
# the same cohort byte for byte. The daemons it started are always stopped.
# The system's munge key and configuration are never touched.
#
# usage: slurm_test.sh TESSERA COHORT_TOOL SLURM_SCRIPTS_DIR
# Exit code 77 (ctest: skipped) when not root or Slurm/munge are missing.
set -euo pipefail

skip() {
  echo "SKIPPED: $*"
  exit 77
}
[[ $# -eq 3 ]] || { echo "usage: $0 TESSERA COHORT_TOOL SLURM_SCRIPTS_DIR" >&2; exit 2; }
tessera="$1" cohort_tool="$2" scripts="$3"
[[ $EUID -eq 0 ]] || skip "starting slurmctld, slurmd and munged needs root"
export PATH="$PATH:/usr/sbin:/sbin"
for tool in munged munge slurmctld slurmd sbatch sinfo squeue scancel; do
  command -v "$tool" >/dev/null || skip "$tool is missing (Debian packages slurm-wlm and munge)"
done

# munged insists that every folder above its socket is searchable by all.
work="$(mktemp -d /tmp/tessera-slurm.XXXXXX)"
chmod 755 "$work"
mkdir -m 755 "$work/run" "$work/state" "$work/spool" "$work/log"
pids=()

stop_daemons() {
  if [[ -f "$work/slurm.conf" ]]; then
    SLURM_CONF="$work/slurm.conf" scancel --quiet --user=root 2>/dev/null || true
  fi
  local pid i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[i]}"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
on_exit() {
  local status=$?
  stop_daemons
  if [[ $status -ne 0 && $status -ne 77 ]]; then
    for f in "$work"/log/* "$work"/slurm/logs/*; do
      [[ -f "$f" ]] && { echo "---- $f"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=0
for _ in $(seq 50); do
  candidate=$((20000 + RANDOM % 30000))
  if port_free "$candidate" && port_free $((candidate + 1)); then port=$candidate; break; fi
done
((port > 0)) || { echo "no free port pair found" >&2; exit 1; }

# munge: our own key and socket.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge.key"
socket="$work/run/munge.socket"
munged --foreground --socket="$socket" --key-file="$work/munge.key" \
  --pid-file="$work/run/munged.pid" --log-file="$work/log/munged.log" \
  --seed-file="$work/munged.seed" >"$work/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S "$socket" ]] && break; sleep 0.1; done
munge --socket="$socket" --no-input | unmunge --socket="$socket" >/dev/null

host="$(hostname -s)"
cat >"$work/slurm.conf" <<CONF
ClusterName=tessera-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=tessera Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 150); do
  state="$(sinfo --noheader --format=%T 2>/dev/null || true)"
  [[ "$state" == idle ]] && break
  sleep 0.2
done
[[ "$state" == idle ]] || { echo "the Slurm node did not become idle (state '$state')" >&2; exit 1; }

# Six cases, the last one truncated: shards and single run must agree on it too.
"$cohort_tool" "$work/cohort" 6 1
status=0
"$tessera" batch -i "$work/cohort/in" -o "$work/single" --model "$work/cohort/model.onnx" \
  --threads 1 >"$work/log/single.out" 2>&1 || status=$?
[[ $status -eq 3 ]] || { echo "single run: exit code $status, expected 3" >&2; exit 1; }

status=0
timeout 300 "$scripts/tessera-submit" -i "$work/cohort/in" -o "$work/slurm" -n 3 --cpus 1 \
  --model "$work/cohort/model.onnx" --tessera "$tessera" --wait || status=$?
[[ $status -eq 3 ]] || { echo "merge job: exit code $status, expected 3" >&2; exit 1; }

for k in 0 1 2; do
  [[ -f "$work/slurm/shard-$k/summary.json" ]] || { echo "shard $k wrote no summary" >&2; exit 1; }
  grep -q "shard $k/3" "$work/slurm/logs/shard-$k.out" || { echo "shard $k log" >&2; exit 1; }
done
cmp "$work/single/summary.csv" "$work/slurm/summary.csv"
cmp "$work/single/summary.json" "$work/slurm/summary.json"
[[ $(grep -c ',ok,' "$work/slurm/summary.csv") -ge 5 ]]
grep -q '^case_05,failed,' "$work/slurm/summary.csv"
echo "slurm array: 3 shards merged into a summary equal to the single-machine run"
