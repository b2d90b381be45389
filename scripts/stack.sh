#!/usr/bin/env bash
# make up / make down / make status: the stack (nginx + app servers). The work is in src/hometax_decrypt/ops/stack.py.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.venv/bin/python"
if [ ! -x "$PY" ]; then
  echo "no virtualenv at $REPO/.venv: run 'make install' (make up does it)" >&2
  exit 1
fi
exec "$PY" -m hometax_decrypt.ops.stack "$@"
