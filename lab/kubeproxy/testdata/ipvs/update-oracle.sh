#!/usr/bin/env bash
# Regenerates testdata/ipvs/oracle/<case>-<version>.txt: the real kube-proxy's
# IPVS-mode state (ipvs virtual servers, ipsets, kube-ipvs0 addresses and
# iptables rules) for every scenario in testdata/cases/*.json, rendered by
# the kube-proxy oracle (shared/oracle/README.md). The Go tests only read
# the stored outputs; they never need the oracle.
#
# Usage: testdata/ipvs/update-oracle.sh [CASE...]
#   ORACLE       oracle directory            (default /work/shared/oracle)
#   ORACLE_WORK  oracle build cache, passed through to run.sh
#                (e.g. /root/.cache/kube-proxy-oracle, as used by setup.sh)
#   VERSIONS     versions to render          (default "1.22 1.24 1.28 1.31")
#
# The cases are shared with the iptables renderer (testdata/cases); a case
# restricted to some versions lists them in cases/<case>.versions. A run
# whose kube-proxy logged an error is treated as a failure. Runs are
# sequential: the oracle reuses one build directory per version and mode.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cases_dir=$(cd "$here/../cases" && pwd)
ORACLE=${ORACLE:-/work/shared/oracle}
VERSIONS=${VERSIONS:-"1.22 1.24 1.28 1.31"}
[ -x "$ORACLE/run.sh" ] || { echo "no oracle at $ORACLE (set ORACLE=...)" >&2; exit 2; }
mkdir -p "$here/oracle"
if [ $# -gt 0 ]; then
  cases=(); for c in "$@"; do cases+=("$cases_dir/${c%.json}.json"); done
else
  cases=("$cases_dir"/*.json)
fi
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
for c in "${cases[@]}"; do
  name=$(basename "$c" .json)
  vers=$VERSIONS
  if [ -f "${c%.json}.versions" ]; then vers=$(cat "${c%.json}.versions"); fi
  for v in $vers; do
    out="$here/oracle/$name-$v.txt"
    if ! "$ORACLE/run.sh" ipvs "$v" "$c" "$out" 2>"$tmp" >/dev/null; then
      cat "$tmp" >&2; echo "oracle failed: $name $v" >&2; exit 1
    fi
    if grep -q WARNING "$tmp"; then
      cat "$tmp" >&2; echo "kube-proxy logged errors: $name $v" >&2; exit 1
    fi
    echo "wrote ipvs/oracle/$name-$v.txt"
  done
done
