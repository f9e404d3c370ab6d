#!/usr/bin/env bash
# A one-node SLURM on this machine, to try the cluster path (hydra/launcher=submitit_slurm)
# without a cluster; the slow tests use it too (tests/test_slurm.py).
#   bash scripts/slurm_local.sh start    install SLURM (Debian's slurm-wlm daemons) and munge
#                                        where missing (as root), write slurm.conf, start munged,
#                                        slurmctld and slurmd, wait until the node is idle
#   bash scripts/slurm_local.sh stop     cancel its jobs, stop its daemons
#   bash scripts/slurm_local.sh status   sinfo and squeue
# Two partitions on the one node: `local` (the default) and `urgent`, whose jobs preempt those
# of `local` (SIGTERM, then requeued): `sbatch -p urgent --exclusive --wrap "sleep 1"`.
# Everything lives in $DL101_SLURM_DIR (default /tmp/dl101-slurm): slurm.conf, the state, the
# spool, the daemons' logs and the job completion log (jobcomp.log: there is no accounting
# database, so no sacct). SLURM's commands find it by SLURM_CONF:
#   export SLURM_CONF=/tmp/dl101-slurm/slurm.conf
# Exit status: 0 done, 1 failed (the daemons' logs say why), 3 cannot run on this machine (not
# root, no apt-get, or the packages did not install): the reason in one line.
set -uo pipefail
export PATH=$PATH:/usr/sbin:/sbin  # the daemons, for a user whose PATH leaves them out
dir=${DL101_SLURM_DIR:-/tmp/dl101-slurm}
conf=$dir/slurm.conf
export SLURM_CONF=$conf
partition=local

cannot() {
    echo "SLURM cannot run here: $*" >&2
    exit 3
}

failed() {  # what did not start, said; what did, stopped
    echo "$*" >&2
    stop > /dev/null
    exit 1
}

install_packages() {
    command -v slurmctld > /dev/null && command -v slurmd > /dev/null \
        && command -v munged > /dev/null && command -v sbatch > /dev/null && return 0
    [ "$(id -u)" = 0 ] || cannot "SLURM (slurm-wlm) and munge are not installed and installing them needs root"
    command -v apt-get > /dev/null || cannot "SLURM (slurm-wlm) and munge are not installed and there is no apt-get"
    echo "installing SLURM and munge (apt-get)" >&2
    local packages=(slurmctld slurmd slurm-client munge)  # slurm-wlm's daemons, without its extras
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${packages[@]}"; } > "$dir/apt.log" 2>&1 \
        || cannot "apt-get install ${packages[*]} failed (see $dir/apt.log)"
}

write_conf() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)  # MB, some left to the OS
    # No cgroups (proctrack/linuxproc, task/none) and no accounting database: the least a
    # container or a laptop needs. cred_expire: a requeued job waits that long before it starts
    # again (120 s by default); sched_interval: jobs start within a second; MinJobAge: `scontrol
    # show job` keeps a finished job 10 minutes (sacct's place here).
    cat > "$conf" << EOF
ClusterName=dl101
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
ReturnToService=2
KillWait=10
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$partition Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=$host MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
EOF
}

running() {  # running NAME: its pid file names a live process
    [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2> /dev/null
}

start() {
    mkdir -p "$dir"
    running slurmctld && { echo "already running (SLURM_CONF=$conf)"; return 0; }
    [ "$(uname -s)" = Linux ] || cannot "SLURM's daemons need Linux"
    [ "$(id -u)" = 0 ] || cannot "not root (its daemons run as root: SlurmUser=root)"
    install_packages
    local begin=$SECONDS
    rm -rf "$dir/state" "$dir/spool" "$dir/jobcomp.log" "$dir"/slurm*.log "$dir/munged.log"
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    chmod 700 "$dir/munge"
    write_conf
    [ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 \
        status=none && chmod 400 "$dir/munge/munge.key"; }
    # --force: munged refuses a socket or key under a world-writable folder such as /tmp
    munged --force --socket="$dir/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
        || failed "munged did not start (see $dir/munged.log)"
    slurmctld -c -f "$conf" || failed "slurmctld did not start (see $dir/slurmctld.log)"
    slurmd -f "$conf" || failed "slurmd did not start (see $dir/slurmd.log)"
    local state=""
    for _ in $(seq 120); do
        state=$(sinfo -h -N -p "$partition" -o %T 2> /dev/null)
        [ "$state" = idle ] && break
        sleep 0.5
    done
    [ "$state" = idle ] \
        || failed "the node is not idle after 60 s (state: ${state:-none}; see $dir/slurmctld.log)"
    echo "SLURM is up in $((SECONDS - begin)) s: partition $partition, $(nproc) CPUs; export SLURM_CONF=$conf"
}

stop() {
    if running slurmctld; then
        squeue -h -o %i | xargs -r scancel
        for _ in $(seq 40); do  # the jobs' steps end before their daemons do
            [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break
            sleep 0.5
        done
    fi
    local name
    for name in slurmd slurmctld munged; do
        running "$name" || continue
        local pid
        pid=$(cat "$dir/$name.pid")
        kill "$pid"
        for _ in $(seq 40); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.25
        done
        kill -0 "$pid" 2> /dev/null && kill -9 "$pid"
        rm -f "$dir/$name.pid"
    done
    echo "SLURM stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo && squeue ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
