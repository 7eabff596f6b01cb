#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
# One process per GPU with NCCL; on a machine without CUDA, NUM_PROCS CPU
# processes with gloo. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR.
# A rank that dies (OOM killer, a node fault) makes torchrun restart all
# workers, up to MAX_RESTARTS times (default 3); the restarted workers
# resume from the newest valid checkpoint of the work dir by themselves.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
MAX_RESTARTS=${MAX_RESTARTS:-3}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    --max_restarts=$MAX_RESTARTS \
    $(dirname "$0")/train.py \
    $CONFIG \
    --launcher pytorch ${@:3}
