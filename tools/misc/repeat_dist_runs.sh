#!/usr/bin/env bash
# Usage: tools/misc/repeat_dist_runs.sh N [CONFIG [NUM_PROCS [train.py options...]]]
# Run N complete distributed trainings one after the other
# (tools/dist_train.sh CONFIG NUM_PROCS, default 2 processes: gloo on a
# machine without CUDA) and count the runs that exit non-zero, e.g. a
# finished run that aborts at exit. Each run gets its own work dir under
# WORK_ROOT (default ./work_dirs/repeat_dist_runs) and log there; exits 1
# if any run failed. Not part of the test suite: it takes N runs.
# LAUNCH=cmd replaces the launcher (tests); RUN_INDEX is exported to it.
set -u
N=${1:?usage: $0 N [CONFIG [NUM_PROCS [train.py options...]]]}
CONFIG=${2:-}
PROCS=${3:-2}
WORK_ROOT=${WORK_ROOT:-./work_dirs/repeat_dist_runs}
TOOLS=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK_ROOT"

failed=0
for ((i = 1; i <= N; i++)); do
    work_dir="$WORK_ROOT/run_$i"
    export RUN_INDEX=$i
    if [ -n "${LAUNCH:-}" ]; then
        $LAUNCH > "$WORK_ROOT/run_$i.log" 2>&1
    else
        PORT=$((29500 + i)) bash "$TOOLS/dist_train.sh" "$CONFIG" "$PROCS" \
            --work-dir "$work_dir" "${@:4}" > "$WORK_ROOT/run_$i.log" 2>&1
    fi
    code=$?
    if [ $code -ne 0 ]; then
        failed=$((failed + 1))
        echo "run $i: exit $code (log: $WORK_ROOT/run_$i.log)"
    else
        echo "run $i: exit 0"
    fi
done
echo "non-zero exits: $failed of $N"
[ $failed -eq 0 ]
