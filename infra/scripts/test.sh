#!/usr/bin/env bash
# make test: every stage in turn, a heading each, tools' own chatter kept in
# .build/test-logs/<stage>.log and shown only when a stage fails, then a
# summary table. Stops at the first failing stage (later ones would only
# repeat its cause).
set -uo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
logs=.build/test-logs
mkdir -p "$logs"
stages=(doctor deps lint template events unit e2e)
declare -A result seconds
failed=""

# progress copies the "deps: " lines of its input to the console, indented,
# as they come.
progress() {
  local line
  while IFS= read -r line; do
    case $line in
      "deps: "*) printf '    %s\n' "$line" ;;
    esac
  done
}

start_all=$SECONDS
for stage in "${stages[@]}"; do
  printf '\n==> %s\n' "$stage"
  start=$SECONDS
  log="$logs/$stage.log"
  if [ "$stage" = doctor ]; then
    DOCTOR_TEST=1 infra/scripts/doctor.sh >"$log" 2>&1
  elif [ "$stage" = deps ]; then
    # A first run downloads for minutes: each step's "deps: ..." line
    # (infra/scripts/step.sh) reaches the console as the step starts; the
    # rest stays in the log. pipefail keeps make's status.
    "$MAKE" --no-print-directory deps 2>&1 | tee "$log" | progress
  else
    "$MAKE" --no-print-directory "$stage" >"$log" 2>&1
  fi
  status=$?
  seconds[$stage]=$((SECONDS - start))
  if [ "$status" -eq 0 ]; then
    result[$stage]=pass
    # What each stage proved, in a line or two, from its own log.
    case $stage in
      doctor) tail -1 "$log" ;;
      deps) grep -q '^deps: ' "$log" || echo "    nothing to fetch: everything is in place" ;;
      template) grep -E '^(sam build:|check_table:|check_docs:|Passed checks)' "$log" | sed 's/^/    /' ;;
      events) printf '    %s events checked through the real binaries\n' "$(grep -c '^ok ' "$log")" ;;
      unit) printf '    %s packages passed\n' "$(grep -c '^ok ' "$log")" ;;
      e2e) grep -E '^(e2e:|[0-9]+ generated)' "$log" | tail -3 | sed 's/^/    /' ;;
    esac
    echo "    ok (${seconds[$stage]} s)"
  else
    result[$stage]=FAIL
    failed=$stage
    echo "    FAILED after ${seconds[$stage]} s; the end of $log:"
    tail -60 "$log" | sed 's/^/    | /'
    break
  fi
done

printf '\n%-10s %-7s %8s\n' stage result seconds
for stage in "${stages[@]}"; do
  printf '%-10s %-7s %8s\n' "$stage" "${result[$stage]:-skipped}" "${seconds[$stage]:--}"
done
printf '%-10s %-7s %8s\n' total "" "$((SECONDS - start_all))"

# One closing line CI reads: the Go test packages of the unit stage.
if [ -f "$logs/unit.log" ] && [ "${result[unit]:-}" != "" ]; then
  printf '\ngo packages: %d passed, %d failed\n' "$(grep -c '^ok ' "$logs/unit.log")" "$(grep -c $'^FAIL\t' "$logs/unit.log")"
fi
[ -z "$failed" ]
