#!/usr/bin/env bash
# Regenerates the real kube-proxy's output for every scenario in
# testdata/cases/*.json, rendered by the kube-proxy oracle
# (shared/oracle/README.md): iptables rules into testdata/oracle/, or with
# MODE=ipvs the IPVS-mode state (virtual servers, ipsets, kube-ipvs0
# addresses, iptables) into testdata/ipvs/oracle/. The Go tests only read the
# stored outputs; they never need the oracle.
#
# Usage: [MODE=iptables|ipvs] testdata/update-oracle.sh [CASE...]
#   ORACLE       oracle directory            (default /work/shared/oracle)
#   ORACLE_WORK  oracle build cache, passed through to run.sh
#                (e.g. /root/.cache/kube-proxy-oracle, as used by setup.sh)
#   VERSIONS     versions to render          (default "1.22 1.24 1.28 1.31")
#
# The case files are the oracle's scenario JSON as is (lab/kubeproxy.Node
# marshals to the same format). A case that only exists for some versions
# (e.g. it sets a feature gate that later went GA and was locked) lists them
# in cases/<case>.versions. A run whose kube-proxy logged an error (for
# example a failed iptables-restore) is treated as a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cases_dir=$here/cases
MODE=${MODE:-iptables}
case $MODE in
iptables) outdir=oracle ;;
ipvs) outdir=ipvs/oracle ;;
*) echo "MODE must be iptables or ipvs" >&2; exit 2 ;;
esac
ORACLE=${ORACLE:-/work/shared/oracle}
VERSIONS=${VERSIONS:-"1.22 1.24 1.28 1.31"}
[ -x "$ORACLE/run.sh" ] || { echo "no oracle at $ORACLE (set ORACLE=...)" >&2; exit 2; }
mkdir -p "$here/$outdir"
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
    out="$here/$outdir/$name-$v.txt"
    if ! "$ORACLE/run.sh" "$MODE" "$v" "$c" "$out" 2>"$tmp" >/dev/null; then
      cat "$tmp" >&2; echo "oracle failed: $name $v" >&2; exit 1
    fi
    if grep -q WARNING "$tmp"; then
      cat "$tmp" >&2; echo "kube-proxy logged errors: $name $v" >&2; exit 1
    fi
    echo "wrote $outdir/$name-$v.txt"
  done
done
