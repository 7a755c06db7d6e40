# Sourced by the MNIST study scripts: resumable sweeps under one time budget.
# BUDGET (seconds) bounds one call of the script: the running sweep gets SIGTERM
# at the deadline, finishes its epoch, checkpoints and exits 0; the next call
# (the same command) resumes it. run <workdir> <flags...> skips a finished
# sweep (summary.json present) and ends the call when one stops early, so a
# sweep that reads another's density (model.density_from) waits for it.
# SWEEPS (space-separated workdir names, default all) runs only those, in the
# script's order: SWEEPS="fixed_small rigl_small" skips every other sweep.
deadline=$(( $(date +%s) + ${BUDGET:-660} ))
finished() { [ -f "$1/summary.json" ]; }
run() {
  local w=$1; shift
  finished $w && return 0
  if [ -n "${SWEEPS:-}" ] && [[ " $SWEEPS " != *" $(basename $w) "* ]]; then return 0; fi
  local left=$(( deadline - $(date +%s) ))
  if [ $left -le 60 ]; then echo "budget spent before $w; rerun to continue"; exit 0; fi
  local rc=0
  timeout -s TERM $left python -m experiments.sweep "$@" --workdir=$w || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 124 ] || exit $rc
  finished $w || { echo "$w stopped before the end; rerun to continue"; exit 0; }
}
