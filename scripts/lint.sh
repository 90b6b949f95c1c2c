#!/usr/bin/env bash
# The style checks `npm test` runs before the suite: prettier (TypeScript and JavaScript layout),
# eslint (TypeScript lint) and clang-format (C++ layout). `npm run format` rewrites the files.
# Usage: scripts/lint.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
CXX_FILES=(native/*.cc native/*.h)
if [ "${1:-}" = "--fix" ]; then
  npx prettier --log-level warn --write .
  npx eslint --fix .
  clang-format -i "${CXX_FILES[@]}"
  exit 0
fi
fail=0
npx prettier --log-level warn --check . || { echo "lint: prettier: run 'npm run format'" >&2; fail=1; }
npx eslint . || { echo "lint: eslint found problems" >&2; fail=1; }
if command -v clang-format >/dev/null 2>&1; then
  clang-format --dry-run --Werror "${CXX_FILES[@]}" || { echo "lint: clang-format: run 'npm run format'" >&2; fail=1; }
else
  echo "lint: clang-format is missing (apt-get install clang-format); C++ layout not checked" >&2
  fail=1
fi
exit $fail
