#!/usr/bin/env bash
# Install fcos_mm's dependencies on an offline CUDA machine, in two halves.
#
# 1. On a machine with PyPI access, gather what the GPU machine needs, with
#    a PYTHON that has torch (e.g. PYTHON=.venv/bin/python after make env):
#        bash tools/misc/install_gpu_offline.sh --download WHEEL_DIR [PYVER]
#    PYVER is the GPU machine's Python, e.g. 3.12 (default: this one's).
#    WHEEL_DIR gets manylinux wheels of mmengine, mmdet and their small
#    dependencies (no torch: keep the GPU machine's CUDA build) and the
#    mmcv 2.1.0 source tarball (mmcv 2.1 has no wheels for new torch).
#
# 2. On the GPU machine (torch with CUDA already installed, no network):
#        bash tools/misc/install_gpu_offline.sh WHEEL_DIR
#    installs the wheels into $TARGET (default WHEEL_DIR/site; or into the
#    active environment with TARGET=-), compiles mmcv's CUDA ops in place
#    (MMCV_WITH_OPS=1 FORCE_CUDA=1, for the GPU's own architecture unless
#    TORCH_CUDA_ARCH_LIST is set, MAX_JOBS = all cores: ~4.5 min on 16
#    cores for one architecture), checks that mmcv.ops.nms runs on the GPU,
#    and prints the PYTHONPATH line to use.
#
# Knobs: PYTHON (default python3), TARGET, TORCH_CUDA_ARCH_LIST, MAX_JOBS,
# EXTRA_PACKAGES (download half).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
MMCV_VERSION=2.1.0
# numpy, scipy, matplotlib, opencv-python, rich and tqdm are taken from the
# GPU machine's environment (CUDA images ship them); add what it lacks with
# EXTRA_PACKAGES="name ..." when downloading.
# shellcheck disable=SC2206
PACKAGES=(mmengine==0.10.7 mmdet==3.3.0 pycocotools addict yapf termcolor
          terminaltables shapely platformdirs tomli ${EXTRA_PACKAGES:-})

if [ "${1:-}" = "--download" ]; then
    WHEEL_DIR=${2:?usage: $0 --download WHEEL_DIR [PYVER]}
    PYVER=${3:-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
    mkdir -p "$WHEEL_DIR"
    "$PYTHON" -m pip download --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --python-version "$PYVER" \
        -d "$WHEEL_DIR" "${PACKAGES[@]}"
    # pip reads the sdist's metadata, which runs mmcv's setup.py: that needs
    # torch and setuptools<70 in this environment (as tools/misc/setup_env.sh
    # makes it), not in an isolated build environment.
    "$PYTHON" -m pip download --no-deps --no-binary=:all: \
        --no-build-isolation -d "$WHEEL_DIR" "mmcv==$MMCV_VERSION"
    echo "[install_gpu_offline] $WHEEL_DIR is ready: copy it to the GPU" \
         "machine with this repository and run $0 $WHEEL_DIR there"
    exit 0
fi

WHEEL_DIR=$(cd "${1:?usage: $0 WHEEL_DIR  (or --download WHEEL_DIR)}" && pwd)
TARGET=${TARGET:-$WHEEL_DIR/site}
"$PYTHON" -c 'import torch, sys
if not torch.cuda.is_available():
    sys.exit("[install_gpu_offline] this torch (%s) sees no CUDA GPU: install "
             "a CUDA build of torch first" % torch.__version__)'

echo "[install_gpu_offline] installing the wheels of $WHEEL_DIR"
if [ "$TARGET" = "-" ]; then
    "$PYTHON" -m pip install --no-index --no-deps "$WHEEL_DIR"/*.whl
    SITE=""
else
    "$PYTHON" -m pip install --no-index --no-deps --target "$TARGET" \
        "$WHEEL_DIR"/*.whl
    SITE=$TARGET
fi

MMCV_SRC=$WHEEL_DIR/mmcv-$MMCV_VERSION
if [ ! -d "$MMCV_SRC" ]; then
    tar -xzf "$WHEEL_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$WHEEL_DIR"
fi
ARCH=${TORCH_CUDA_ARCH_LIST:-$("$PYTHON" -c 'import torch
print("%d.%d" % torch.cuda.get_device_capability())')}
echo "[install_gpu_offline] compiling mmcv $MMCV_VERSION ops for sm $ARCH" \
     "in $MMCV_SRC (a few minutes)"
(cd "$MMCV_SRC" && PYTHONPATH="$SITE${SITE:+:}${PYTHONPATH:-}" \
    MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" \
    MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$PYTHON" setup.py build_ext --inplace > build.log 2>&1) || {
    tail -30 "$MMCV_SRC/build.log"; exit 1; }

PATHS="$MMCV_SRC${SITE:+:$SITE}:$(pwd)"
PYTHONPATH="$PATHS${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c '
import torch, mmcv, mmdet, mmengine
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device="cuda")
keep = nms(boxes, torch.tensor([0.9, 0.8], device="cuda"), 0.5)[1]
assert keep.tolist() == [0], keep
import fcos_mm
print("[install_gpu_offline] ready: torch", torch.__version__, "| mmcv",
      mmcv.__version__, "(CUDA ops) | mmdet", mmdet.__version__,
      "| fcos_mm", fcos_mm.__version__)'
echo "export PYTHONPATH=$PATHS\${PYTHONPATH:+:\$PYTHONPATH}"
