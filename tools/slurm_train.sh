#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR
#        [train.py options...]
# GPUS is the number of tasks (one per GPU). On nodes without CUDA the tasks
# train on the CPU with gloo (fcos_mm.utils.dist); pass SRUN_ARGS to drop the
# --gres request there.
#
# Pre-emption and time limits: srun asks Slurm for SIGUSR1 SIGNAL_TIME
# seconds (default 120) before the end; train.py then finishes the
# iteration, saves WORK_DIR/latest.pth and, in a batch job, requeues it
# (scontrol requeue); the requeued job resumes by itself
# (SLURM_RESTART_COUNT > 0). Submit it as a requeueable batch job:
#   sbatch --requeue --signal=USR1@120 -p PARTITION --ntasks=8 \
#       --gres=gpu:8 --wrap "tools/slurm_train.sh PARTITION NAME CONFIG DIR"
# (See the README's "When a run is stopped".)
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SIGNAL_TIME=${SIGNAL_TIME:-120}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:5}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    --signal=USR1@${SIGNAL_TIME} \
    ${SRUN_ARGS} \
    python -u tools/train.py ${CONFIG} --work-dir=${WORK_DIR} \
    --launcher="slurm" ${PY_ARGS}
