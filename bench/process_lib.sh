# Sourced by bench/run_*.sh: starts the processes a benchmark talks to and stops them at exit.
# Needs $work (a scratch directory the caller removes).
pids=()

stop_processes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}

# start_listening NAME COMMAND...: runs COMMAND in the background (stdout $work/NAME.out, stderr
# $work/NAME.log), waits for its "... listening on ADDRESS" line and prints ADDRESS; the pid
# is the last of ${pids[@]}.
start_listening() {
  local name="$1"
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "listening on" "$work/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/.*listening on //p' "$work/$name.out"
}
