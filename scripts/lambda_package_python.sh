#!/usr/bin/env bash
# Python 3.12 for serverless-python-requirements (its `pythonBin`).
#
# Every call is passed to Python 3.12 unchanged. After a successful `-m pip install ... -t DIR`
# the installed packages are byte-compiled with --invalidation-mode unchecked-hash, because:
#   - Lambda's /var/task is read-only, so a module without a valid .pyc is compiled again on
#     every cold start (measured here: ONNX Runtime path 0.52 s without .pyc, 0.2 s with);
#   - both the framework and the plugin write zip entries with a fixed 1980 timestamp, so
#     pip's default timestamp-checked .pyc never match their sources after unzipping.
# Unchecked-hash .pyc are valid whatever the file times; the package is immutable once built.
#
# Python is $LAMBDA_PYTHON if set, else pyenv's 3.12.1, else python3.12 on PATH.
set -euo pipefail

find_python() {
  if [[ -n "${LAMBDA_PYTHON:-}" ]]; then
    printf '%s\n' "$LAMBDA_PYTHON"
    return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local candidate
    candidate="$(pyenv root)/versions/3.12.1/bin/python3.12"
    if [[ -x "$candidate" ]]; then
      printf '%s\n' "$candidate"
      return
    fi
  fi
  command -v python3.12 || { echo "lambda_package_python.sh: no Python 3.12 found (set LAMBDA_PYTHON)" >&2; exit 127; }
}

python_bin="$(find_python)"

target=""
is_pip_install=0
if [[ "${1:-}" == "-m" && "${2:-}" == "pip" && "${3:-}" == "install" ]]; then
  is_pip_install=1
  prev=""
  for arg in "$@"; do
    if [[ "$prev" == "-t" || "$prev" == "--target" ]]; then
      target="$arg"
    fi
    prev="$arg"
  done
fi

"$python_bin" "$@"

if [[ "$is_pip_install" == 1 && -n "$target" ]]; then
  "$python_bin" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$target" >/dev/null
fi
