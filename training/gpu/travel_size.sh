#!/usr/bin/env bash
# What a device `run` call would send: tracked files present in the working tree, untracked
# files git does not ignore, shared/ and the carried paths given as arguments; the limit is
# 64 MiB. Exit status 1 when over it.
#
#   training/gpu/travel_size.sh .wheels
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
LIMIT=$((64 * 1048576))

# tracked files moved aside (absent from the working tree) are skipped: a copy of the tree lacks them
files() { git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c "$1" 2>/dev/null || true; }
tree_bytes=$(files %s | awk '{s += $1} END {print s + 0}')
carry_bytes=0
for p in "$@" shared; do
    [[ -e $p ]] || continue
    if [[ $p == shared ]] && ! git check-ignore -q shared; then continue; fi  # already counted
    carry_bytes=$((carry_bytes + $(du -sb "$p" | cut -f1)))
done
total=$((tree_bytes + carry_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1048576}'; }
echo "== would travel: tree $(mib "$tree_bytes") MiB + carried ($*) $(mib "$carry_bytes") MiB" \
     "= $(mib "$total") MiB of 64 MiB"
echo "   largest files of the tree:"
files '%s %n' | sort -rn | awk 'NR <= 6 {printf "   %8.2f MiB  %s\n", $1 / 1048576, $2}'
if ((total > LIMIT)); then
    echo "OVER the 64 MiB a device call may send: move large tracked files aside for the call" \
         "(training/RECIPES.md, 'On a lent GPU machine')" >&2
    exit 1
fi
