#!/usr/bin/env bash
# Installs, or reuses when it is the pinned version, the buf CLI from npm (`@bufbuild/buf`
# ships buf's binary for each platform): `tests/buf/setup-buf.sh DIR`. Prints the path of the
# `buf` executable. The buf test calls it itself (with a directory under cargo's target dir);
# `.ci/run` calls it ahead so that a missing npm or registry shows up as a setup failure.
# Concurrent callers wait for each other.
set -euo pipefail

dir=${1:?usage: setup-buf.sh DIR}
version=1.75.0

command -v npm >/dev/null || {
  echo "setup-buf.sh: npm not found; the buf test needs Node.js and npm to install @bufbuild/buf" >&2
  exit 1
}
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9

buf="$dir/node_modules/.bin/buf"
if [ -x "$buf" ] && [ "$("$buf" --version 2>/dev/null)" = "$version" ]; then
  echo "$buf"
  exit 0
fi

npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "@bufbuild/buf@$version" >&2
got=$("$buf" --version) # fail here, not in a test, if broken
[ "$got" = "$version" ] || { echo "setup-buf.sh: installed buf $got, wanted $version" >&2; exit 1; }
echo "$buf"
