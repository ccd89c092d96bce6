#!/usr/bin/env bash
# CPython 3.12 for the Lambda package: serverless-python-requirements' `pythonBin`, and the finder
# the Makefile uses (`--which`).
#
#   scripts/lambda_package_python.sh --which   print the interpreter's path; exit 2 with a one-line
#                                               message saying how to install one when there is none
#   scripts/lambda_package_python.sh ARGS...   run it with ARGS (what the plugin does)
#
# Found as: $LAMBDA_PYTHON if set (it must be CPython 3.12), else pyenv's newest 3.12.x, else
# `python3.12` on PATH. Each candidate is run once to check it really is CPython 3.12.
#
# After a successful `-m pip install ... -t DIR` the installed packages are byte-compiled with
# --invalidation-mode unchecked-hash, because:
#   - Lambda's /var/task is read-only, so a module without a valid .pyc is compiled again on
#     every cold start (measured here: ONNX Runtime path 0.52 s without .pyc, 0.2 s with);
#   - both the framework and the plugin write zip entries with a fixed 1980 timestamp, so
#     pip's default timestamp-checked .pyc never match their sources after unzipping.
# Unchecked-hash .pyc are valid whatever the file times; the package is immutable once built.
set -euo pipefail

readonly INSTALL_HINT="install one with 'pyenv install 3.12' (or any CPython 3.12 build) and/or set LAMBDA_PYTHON=/path/to/python3.12"

is_cpython312() {
  [[ -n "$1" && -x "$1" ]] || return 1
  # Its own answer, not just its exit status (any program exits 0 on --version-like input).
  [[ "$("$1" -I -c 'import platform, sys; print(platform.python_implementation(), *sys.version_info[:2])' 2>/dev/null)" \
    == "CPython 3 12" ]]
}

find_python() {
  if [[ -n "${LAMBDA_PYTHON:-}" ]]; then
    is_cpython312 "$LAMBDA_PYTHON" || {
      echo "lambda_package_python.sh: LAMBDA_PYTHON=$LAMBDA_PYTHON is not a runnable CPython 3.12; $INSTALL_HINT" >&2
      return 2
    }
    printf '%s\n' "$LAMBDA_PYTHON"
    return 0
  fi
  local candidate root
  if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
    # Newest 3.12.x first (sort -V), so a `pyenv install 3.12` of any patch release is found.
    while IFS= read -r candidate; do
      if is_cpython312 "$candidate"; then
        printf '%s\n' "$candidate"
        return 0
      fi
    done < <(compgen -G "$root/versions/3.12*/bin/python3.12" | sort -V -r)
  fi
  candidate="$(command -v python3.12 || true)"
  if is_cpython312 "$candidate"; then
    # A pyenv shim resolves to its real interpreter, so the path stays valid in other shells.
    "$candidate" -I -c 'import sys; print(sys.executable)'
    return 0
  fi
  echo "lambda_package_python.sh: no CPython 3.12 found (the Lambda package is built for python3.12); $INSTALL_HINT" >&2
  return 2
}

if [[ "${1:-}" == "--which" ]]; then
  find_python
  exit $?
fi

python_bin="$(find_python)" || exit 127

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
