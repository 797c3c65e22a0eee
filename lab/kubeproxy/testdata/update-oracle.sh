#!/usr/bin/env bash
# Regenerates the real kube-proxy's output for every scenario in
# testdata/cases/*.json, rendered by the kube-proxy oracle (a harness kept
# outside this repository; see docs/testing.md, "The oracle"): iptables
# rules into testdata/oracle/, or with MODE=ipvs the IPVS-mode state
# (virtual servers, ipsets, kube-ipvs0 addresses, iptables) into
# testdata/ipvs/oracle/, or with MODE=nftables the "ip kube-proxy" table
# (nft -f input) into testdata/nftables/oracle/. The Go tests only read the stored outputs; they
# never need the oracle.
#
# Usage: [MODE=iptables|ipvs|nftables] testdata/update-oracle.sh ORACLE_DIR [CASE...]
#        [MODE=iptables|ipvs|nftables] ORACLE=ORACLE_DIR testdata/update-oracle.sh [CASE...]
#   ORACLE_DIR   the oracle's directory, the one holding its run.sh
#                (required: the first argument, or $ORACLE)
#   ORACLE_WORK  oracle build cache, passed through to run.sh
#   VERSIONS     versions to render          (default "1.22 1.24 1.28 1.31 1.33 1.35 1.37",
#                                             nftables "1.31 1.33 1.35 1.37")
#
# The case files are the oracle's scenario JSON as is (lab/kubeproxy.Node
# marshals to the same format). A case that only exists for some versions
# (e.g. it sets a feature gate that later went GA and was locked) lists them
# in cases/<case>.versions; it is rendered for those of VERSIONS. A run
# whose kube-proxy logged an error (for example a failed iptables-restore)
# is treated as a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cases_dir=$here/cases
MODE=${MODE:-iptables}
case $MODE in
iptables) outdir=oracle ;;
ipvs) outdir=ipvs/oracle ;;
nftables) outdir=nftables/oracle ;;
*) echo "MODE must be iptables, ipvs or nftables" >&2; exit 2 ;;
esac
usage() {
  echo "usage: [MODE=iptables|ipvs|nftables] $0 ORACLE_DIR [CASE...]" >&2
  echo "   or: [MODE=iptables|ipvs|nftables] ORACLE=ORACLE_DIR $0 [CASE...]" >&2
  echo "ORACLE_DIR is the kube-proxy oracle's directory (with its run.sh); see docs/testing.md, \"The oracle\"." >&2
  exit 2
}
case ${1:-} in -h | --help) usage ;; esac
if [ -z "${ORACLE:-}" ]; then
  [ $# -gt 0 ] || { echo "update-oracle.sh: where is the oracle? Give its directory as the first argument or as ORACLE." >&2; usage; }
  ORACLE=$1
  shift
fi
default_versions="1.22 1.24 1.28 1.31 1.33 1.35 1.37"
[ "$MODE" = nftables ] && default_versions="1.31 1.33 1.35 1.37" # the oracle's nftables versions
VERSIONS=${VERSIONS:-$default_versions}
[ -x "$ORACLE/run.sh" ] || { echo "update-oracle.sh: no oracle at $ORACLE ($ORACLE/run.sh is missing or not executable)" >&2; usage; }
mkdir -p "$here/$outdir"
if [ $# -gt 0 ]; then
  cases=(); for c in "$@"; do cases+=("$cases_dir/${c%.json}.json"); done
else
  cases=("$cases_dir"/*.json)
fi
# only_expected_errors: every klog error line is one the mode logs by
# design, not a failed sync: the nftables proxier refuses a loopback
# --nodeport-addresses ("localhost NodePorts are not supported").
only_expected_errors() {
  [ "$MODE" = nftables ] || return 1
  ! grep -E '^E[0-9]{4} ' "$1" | grep -vq 'localhost NodePorts are not supported'
}
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
for c in "${cases[@]}"; do
  name=$(basename "$c" .json)
  vers=$VERSIONS
  if [ -f "${c%.json}.versions" ]; then
    # Only the requested versions that the case exists for.
    only=" $(tr '\n' ' ' <"${c%.json}.versions") "
    vers=
    for v in $VERSIONS; do
      case $only in *" $v "*) vers="$vers $v" ;; esac
    done
  fi
  for v in $vers; do
    out="$here/$outdir/$name-$v.txt"
    if ! "$ORACLE/run.sh" "$MODE" "$v" "$c" "$out" 2>"$tmp" >/dev/null; then
      cat "$tmp" >&2; echo "oracle failed: $name $v" >&2; exit 1
    fi
    if grep -q WARNING "$tmp" && ! only_expected_errors "$tmp"; then
      cat "$tmp" >&2; echo "kube-proxy logged errors: $name $v" >&2; exit 1
    fi
    echo "wrote $outdir/$name-$v.txt"
  done
done
