# shellcheck shell=bash
# The step runner of scripts/test.sh (sourced; tests/ops/test_steps.py drives it alone).
# step fatal|continue NAME COMMAND...: runs one step with its output shown and kept; prints
# "==== NAME: passed|FAILED (exit N) in Ss"; a failed fatal step prints the summary and exits.
# summary: the table of steps, the failing tests' names, "steps: N passed, M failed".
# Needs bash with set -euo pipefail in force (as test.sh sets).

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
table=()
failing=()
n_passed=0
n_failed=0

summary() {
  printf '\n==== summary ====\n'
  printf '%s\n' "${table[@]}"
  if [ ${#failing[@]} -gt 0 ]; then
    printf '\nfailing:\n'
    printf '  %s\n' "${failing[@]}"
  fi
  printf '\nsteps: %d passed, %d failed\n' "$n_passed" "$n_failed"
}


step() {
  local mode=$1 name=$2
  shift 2
  printf '\n==== %s ====\n' "$name"
  local log="$LOGS/step-$((n_passed + n_failed)).log" start=$SECONDS rc=0
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  local secs=$((SECONDS - start)) status=passed
  if [ "$rc" -ne 0 ]; then
    status="FAILED (exit $rc)"
    n_failed=$((n_failed + 1))
    local names
    # pytest's short summary, ctest's list of failed tests, fuzz.sh's failed targets.
    names=$( { grep -E '^(FAILED|ERROR) ' "$log" | awk '{print $2}'
               sed -n '/The following tests FAILED:/,/^$/p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' \
                 | sed -E 's/^[[:space:]]+[0-9]+ - //'
               grep -E '^fuzz: .* FAILED$' "$log" | awk '{print $2}'; } | sort -u || true)
    if [ -n "$names" ]; then
      while read -r t; do failing+=("$name: $t"); done <<<"$names"
    else
      failing+=("$name: (no test names in its output; see the log above)")
    fi
  else
    n_passed=$((n_passed + 1))
  fi
  printf '==== %s: %s in %ss\n' "$name" "$status" "$secs"
  table+=("$(printf '%-58s %-17s %5ss' "$name" "$status" "$secs")")
  if [ "$rc" -ne 0 ] && [ "$mode" = fatal ]; then
    summary
    exit "$rc"
  fi
  return 0
}

