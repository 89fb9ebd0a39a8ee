# Sourced by bench/run_*.sh: starts the processes a benchmark talks to and stops them at exit.
# Needs $work (a scratch directory the caller removes).
pids=()

stop_processes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}

# start_listening NAME VARIABLE COMMAND...: runs COMMAND in the background (stdout
# $work/NAME.out, stderr $work/NAME.log), waits for its "... listening on ADDRESS" line and
# sets VARIABLE to ADDRESS (empty if it never came); the pid is the last of ${pids[@]}.
# Not to be called in a $(...) subshell: the pid would not reach stop_processes.
start_listening() {
  local name="$1" variable="$2"
  shift 2
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "listening on" "$work/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  printf -v "$variable" '%s' "$(sed -n 's/.*listening on //p' "$work/$name.out")"
}
