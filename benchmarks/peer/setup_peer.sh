#!/usr/bin/env bash
# Create (or reuse) an isolated virtualenv holding the PyPI release faultmap==0.5.0,
# which the benchmark driver runs as a black-box "peer" via benchmarks/peer/run_peer.py.
#
# Usage (from the repo root):   bash benchmarks/peer/setup_peer.sh
# Environment overrides:
#   PEER_VENV   venv location           (default: benchmarks/.peer-venv)
#   PYTHON      interpreter to build it (default: python3; needs >= 3.10)
#
# Notes
# - torch is installed FIRST and pinned to the CPU build (torch==2.13.0, a CPU wheel
#   is available through pip's find-links on this machine). Installing
#   sentence-transformers against an empty venv would otherwise pull a multi-GB CUDA
#   torch. run_peer.py never loads torch (vectors are injected), but
#   sentence-transformers is still installed so faultmap[local] imports are complete.
# - faultmap 0.5.0 clusters with scikit-learn's built-in sklearn.cluster.HDBSCAN
#   (scikit-learn >= 1.3); the standalone `hdbscan` package is NOT needed.
# - faultmap 0.5.0 pins litellm==1.83.0. It is installed as-is; run_peer.py stubs
#   all LLM calls, so litellm is only imported, never used for network calls.
# - Run the peer with LITELLM_LOCAL_MODEL_COST_MAP=True so importing litellm does
#   not try to fetch the model cost map over the network (run_peer.py sets it too).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEER_VENV="${PEER_VENV:-$REPO_ROOT/benchmarks/.peer-venv}"
PYTHON="${PYTHON:-python3}"
export LITELLM_LOCAL_MODEL_COST_MAP=True

check_peer() {
    "$PEER_VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as md
import faultmap, sklearn, sentence_transformers  # noqa: F401
from sklearn.cluster import HDBSCAN  # noqa: F401
assert md.version("faultmap") == "0.5.0", md.version("faultmap")
assert md.version("torch").startswith("2.13.0"), md.version("torch")
PY
}

if [[ -x "$PEER_VENV/bin/python" ]] && check_peer; then
    echo "peer venv already usable: $PEER_VENV"
    exit 0
fi

echo "creating peer venv at $PEER_VENV"
"$PYTHON" -m venv "$PEER_VENV"
PIP=("$PEER_VENV/bin/python" -m pip install --disable-pip-version-check)

# 1) CPU torch first, so nothing later resolves a CUDA build.
"${PIP[@]}" "torch==2.13.0"
# 2) faultmap 0.5.0 (+ its litellm==1.83.0 pin) and the local-embedding extra,
#    with torch held at the version already installed.
"${PIP[@]}" "faultmap==0.5.0" "sentence-transformers>=2.2" "torch==2.13.0"

if check_peer; then
    echo "peer venv ready: $PEER_VENV"
    "$PEER_VENV/bin/python" -c "import importlib.metadata as m; print({p: m.version(p) for p in ('faultmap','litellm','scikit-learn','torch','sentence-transformers','numpy')})"
else
    echo "peer venv check failed" >&2
    exit 1
fi
