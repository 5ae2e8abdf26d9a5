#!/usr/bin/env bash
# Build .venv-peers: NePS beside metaml, apart from the main venv.
#
# Why a second venv: neural-pipeline-search 0.17.0 pins gpytorch==1.13.0 (so botorch 0.12),
# pandas<3 and networkx<3, and asks for torchvision, which drags torch up to 2.14.1 (a CUDA
# build of several GB). NePS never imports torchvision, so it is installed without its
# dependencies and they are added here one by one, torchvision left out, torch kept at the
# CPU build 2.13.0 that the main venv uses.
#
#   bash benchmarks/peers/make_venv_neps.sh            # from the repository root
#   .venv-peers/bin/python -m benchmarks compare --peers neps-hyperband ...
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3.11}
VENV=${VENV:-.venv-peers}
"$PY" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q --upgrade pip
"$PIP" install -q "torch==2.13.0"
"$PIP" install -q --no-deps "neural-pipeline-search==0.17.0"
"$PIP" install -q "torch==2.13.0" "numpy>=2.0" "pandas>=2.0,<3.0" "networkx>=2.6.3,<3.0" "scipy>=1.13.1" \
    "matplotlib>=3.0,<4.0" more-itertools "portalocker>=2.0,<3.0" "seaborn>=0.13,<0.14" "pyyaml>=6.0,<7.0" \
    "tensorboard>=2.0,<3.0" typing-extensions "botorch==0.12.0" "gpytorch==1.13.0" "ifbo==0.4.1" "pymoo>=0.6.1.5"
"$PIP" install -q -e ".[bench]"
"$PIP" install -q "torch==2.13.0" pytest ruff
"$VENV/bin/python" -c "import neps, torch, numpy; print('neps', neps.__version__ if hasattr(neps, '__version__') else '0.17.0', 'torch', torch.__version__, 'numpy', numpy.__version__)"
