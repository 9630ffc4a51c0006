# shellcheck shell=bash
# The step runner of scripts/test.sh (sourced; tests/ops/test_steps.py drives it alone).
# step fatal|continue NAME COMMAND...: runs one step with its output shown and kept; prints
# "==== NAME: passed|FAILED (exit N) in Ss"; a failed fatal step prints the summary and exits.
# step_start NAME COMMAND...: starts a step in the background at the lowest CPU priority (nice
#   19), so the steps after it run meanwhile on what CPU they leave idle (the test steps wait on
#   servers much of the time); its output is kept, not shown yet.
# step_wait fatal|continue NAME: waits for that step, shows its output, and reports it as `step`
#   does, with its own seconds (start to end) and how long the wait was.
# summary: the table of steps, the failing tests' names, "steps: N passed, M failed".
# Needs bash with set -euo pipefail in force (as test.sh sets).

LOGS=$(mktemp -d)
declare -A bg_pid=() bg_slot=()
# A run that stops early (a failed fatal step, ^C) does not leave a background step running.
stop_background() {
  local pid
  for pid in "${bg_pid[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap stop_background EXIT
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
  report "$mode" "$name" "$rc" $((SECONDS - start)) "$log" ""
}

step_start() {
  local name=$1
  shift
  local slot="$LOGS/bg-${#bg_slot[@]}"
  printf '\n==== %s: started in the background ====\n' "$name"
  # Its own process group (set -m), so the exit trap stops the whole build with it.
  set -m
  ( set +e; start=$(date +%s); nice -n 19 "$@" >"$slot.log" 2>&1; rc=$?
    echo $(( $(date +%s) - start )) >"$slot.secs"; echo "$rc" >"$slot.rc" ) &
  bg_pid[$name]=$!
  set +m
  bg_slot[$name]=$slot
}

step_wait() {
  local mode=$1 name=$2 start=$SECONDS
  local slot=${bg_slot[$name]:?step_wait: no step started as "$name"}
  printf '\n==== %s ====\n' "$name"
  wait "${bg_pid[$name]}" || true
  unset "bg_pid[$name]"
  cat "$slot.log"
  local rc secs
  rc=$(cat "$slot.rc" 2>/dev/null || echo 1)
  secs=$(cat "$slot.secs" 2>/dev/null || echo 0)
  report "$mode" "$name" "$rc" "$secs" "$slot.log" " (in the background; waited $((SECONDS - start))s)"
}

# report MODE NAME RC SECONDS LOG NOTE: the status line, the table row, the failing tests' names.
report() {
  local mode=$1 name=$2 rc=$3 secs=$4 log=$5 note=$6 status=passed
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
  printf '==== %s: %s in %ss%s\n' "$name" "$status" "$secs" "$note"
  table+=("$(printf '%-58s %-17s %5ss' "$name" "$status" "$secs")")
  if [ "$rc" -ne 0 ] && [ "$mode" = fatal ]; then
    summary
    exit "$rc"
  fi
  return 0
}
