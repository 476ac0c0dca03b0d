#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time, on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS]   (default 60: every target runs that long, one after another)
#
# cargo-fuzz passes `-Zsanitizer=...` and other unstable flags to rustc, which a
# stable toolchain refuses unless RUSTC_BOOTSTRAP=1 is set; stable rust-std ships
# the AddressSanitizer runtime for x86_64 Linux, so ASan works that way. Set
# FUZZ_SANITIZER=none to skip it (faster builds and runs, fewer checks); if the
# ASan build fails, the script falls back to none by itself and says so.
#
# The first build compiles the whole dependency tree instrumented (several
# minutes); later runs reuse fuzz/target. New corpus entries go to
# fuzz/corpus/TARGET (kept between runs), crashes to fuzz/artifacts/TARGET,
# and each run's full libFuzzer output to fuzz/artifacts/TARGET.log.
# Exits non-zero when a target crashes.
set -euo pipefail
cd "$(dirname "$0")/.."

per_target="${1:-60}"
if ! [[ "$per_target" =~ ^[0-9]+$ ]] || [ "$per_target" -lt 1 ]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Every target in fuzz/Cargo.toml, each for the same time: a new target is
# fuzzed without editing this script and never shortens the others' runs.
mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found in fuzz/Cargo.toml" >&2
  exit 1
fi

# Unstable rustc flags on a stable toolchain (harmless on nightly).
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"

mkdir -p fuzz/artifacts
build_log=fuzz/artifacts/build.log
echo "== building fuzz targets (sanitizer: $sanitizer)"
if ! cargo fuzz build --sanitizer "$sanitizer" 2>&1 | tee "$build_log"; then
  # Fall back only when the sanitizer itself is the problem, not our code.
  if [ "$sanitizer" = none ] || ! grep -qiE 'sanitiz|asan' "$build_log"; then
    exit 1
  fi
  echo "== build with sanitizer $sanitizer failed; retrying without a sanitizer" >&2
  sanitizer=none
  cargo fuzz build --sanitizer none
fi

failed=()
summaries=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  seeds="fuzz/seeds/$target"
  log="fuzz/artifacts/$target.log"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")

  echo "== fuzzing $target for ${per_target}s"
  status=0
  cargo fuzz run --sanitizer "$sanitizer" "$target" "${dirs[@]}" -- \
    -max_total_time="$per_target" -print_final_stats=1 >"$log" 2>&1 || status=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  corpus_size=$(find "$corpus" -type f | wc -l)

  if [ "$status" -eq 0 ]; then
    summaries+=("$target: ok, ${execs:-?} execs in ${secs:-?}s (${rate:-?} exec/s), cov ${cov:-?}, corpus $corpus_size files, sanitizer $sanitizer")
  else
    failed+=("$target")
    summaries+=("$target: FAILED (exit $status) after ${execs:-?} execs; full log in $log")
    echo "---- last lines of $log" >&2
    tail -n 60 "$log" >&2
    echo "---- crash inputs in fuzz/artifacts/$target:" >&2
    ls -l "fuzz/artifacts/$target" >&2 || true
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summaries[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}" >&2
  exit 1
fi
