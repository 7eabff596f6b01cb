#!/usr/bin/env bash
# Create (or top up) the virtual environment fcos_mm runs in: torch, mmcv with
# its compiled ops, mmengine, mmdet, pycocotools and fcos_mm itself (editable).
#
# Idempotent: each step is skipped when what it installs already imports, so
# a second run is quick, and a new clone reuses pip's cache (the mmcv wheel it
# compiled once, ~10 min on 2 cores, is not compiled again).
#
# Environment knobs:
#   VENV=.venv            where the environment lives
#   PYTHON=python3        the interpreter that creates it
#   TORCH_SPEC=torch==2.13.0   only used when torch is missing. Pinned on
#                         purpose: an unpinned torch pulls GBs of CUDA wheels.
#   VENV_ARGS=            extra `python -m venv` flags, e.g.
#                         --system-site-packages to reuse a CUDA torch you
#                         already have (it is then kept, never replaced)
#   MMCV_SPEC=mmcv==2.1.0 what to compile when mmcv (with ops) is missing
#   EXTRAS="tests deploy" also install requirements/<name>.txt for each name
#                         ('' for none; deploy: OpenVINO + NNCF, whose tests
#                         run in `make test`)
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
MMCV_SPEC=${MMCV_SPEC:-mmcv==2.1.0}
EXTRAS=${EXTRAS-tests deploy}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup_env] creating $VENV"
    "$PYTHON" -m venv ${VENV_ARGS:-} "$VENV"
fi
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install -q "$@"; }

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "[setup_env] installing $TORCH_SPEC"
    pip_install "$TORCH_SPEC"
fi

if ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
    echo "[setup_env] installing $MMCV_SPEC with ops (compiled once, then" \
         "taken from pip's wheel cache)"
    # mmcv 2.1's setup.py needs setuptools<70 and must see the installed
    # torch, hence --no-build-isolation; torch itself wants setuptools>=77,
    # which is put back afterwards.
    echo "[setup_env] (pip will complain that torch wants setuptools>=77:" \
         "expected, it is put back right after the build)"
    pip_install -r requirements/build.txt
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "$PY" -m pip install -q --no-build-isolation "$MMCV_SPEC"
    pip_install "setuptools>=77"
fi

echo "[setup_env] installing mmengine, mmdet and fcos_mm's requirements"
reqs=(-r requirements/mminstall.txt -r requirements/runtime.txt)
for extra in $EXTRAS; do reqs+=(-r "requirements/$extra.txt"); done
pip_install "${reqs[@]}"
pip_install --no-deps -e .
"$PY" -c 'import fcos_mm, mmcv.ops, torch; print("[setup_env] ready:",
"torch", torch.__version__, "| fcos_mm", fcos_mm.__version__)'
