#!/usr/bin/env bash
# Regenerates testdata/ipvs/oracle/: the real kube-proxy's IPVS-mode state
# for every case. See ../update-oracle.sh, which does the work.
exec env MODE=ipvs "$(dirname "$0")/../update-oracle.sh" "$@"
