#!/usr/bin/env bash
# Every GPU goal of the training step, in one command (<= 10 minutes on one
# GPU): the CUDA-only tests, then one table (fcos_mm/benchmarks/gpu_check.py)
# of the R50 FCOS_imprv train step at 800x1216, batch 2: mmdet eager against
# ours eager (guard off / on), --compile, --compile --cuda-graphs and
# --compile --cuda-graphs bf16 in the same process, with host syncs per step
# and peak memory, and images/s of a short real runner.train() with its host
# reads per non-logging iteration.
#
# On the GPU machine, after tools/misc/install_gpu_offline.sh WHEEL_DIR
# (export the PYTHONPATH line it prints):
#     bash tools/misc/gpu_check.sh                # everything
#     bash tools/misc/gpu_check.sh --skip-tests   # the table only
# Without a GPU (CI runs this, so the command cannot rot):
#     bash tools/misc/gpu_check.sh --device cpu --dry-run
# Other options go to the table (--config, --shape H W, --batch, --gts,
# --iters, --train-iters, --backend). Knob: PYTHON (default python).
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python}
tests=1
dry_run=0
args=()
for arg in "$@"; do
    case "$arg" in
        --skip-tests) tests=0 ;;
        --dry-run) dry_run=1; args+=("$arg") ;;
        *) args+=("$arg") ;;
    esac
done
status=0
if [ "$tests" = 1 ] && [ "$dry_run" = 0 ]; then
    echo "== CUDA-only tests"
    # every test that needs CUDA: two whole files and the tests named
    # *cuda* of three more (the loop's no-sync test runs on the GPU there)
    "$PYTHON" -m pytest -q -rs -p no:cacheprovider -k cuda \
        tests/test_models/test_cuda_parity.py \
        tests/test_tools/test_cuda_tools.py \
        tests/test_models/test_compile.py \
        tests/test_engine/test_step_guard.py \
        tests/test_engine/test_runtime_info_hook.py || status=$?
elif [ "$dry_run" = 1 ]; then
    echo "== (dry run: the CUDA-only tests are not run)"
fi
echo "== train step and runner.train()"
"$PYTHON" -m fcos_mm.benchmarks.gpu_check ${args[@]+"${args[@]}"} || status=$?
exit "$status"
