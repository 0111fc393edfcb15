#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, ASan and UBSan into build-fuzz, replays
# every committed input of each target (its seeds and the reproducers of past findings, in
# tests/fuzz/corpus/TARGET), then fuzzes each target for a bounded time. New inputs go to a
# scratch directory, not the repository; a crash leaves its input in build-fuzz/artifacts and
# fails the script. tests/fuzz/README.md says what each target checks.
#   scripts/fuzz.sh [--seconds N] [--replay-only] [TARGET...]     (default: 60 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
replay_only=0
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --replay-only) replay_only=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi

bash scripts/setup.sh
echo "== fuzz build (clang, ASan + UBSan + libFuzzer): ${targets[*]}"
# Warnings stay warnings here: the g++ build of scripts/test.sh is the -Werror gate, and clang
# has warnings of its own (e.g. -Wunused-private-field) that must not stop the fuzzing.
CC=clang CXX=clang++ BUILD_DIR=build-fuzz BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
  -DTRIAGED_FUZZ=ON -DTRIAGED_BUILD_TESTS=OFF -DTRIAGED_LTO=OFF -DTRIAGED_WERROR=OFF \
  "-DTRIAGED_SANITIZE=address;undefined" --target "${targets[@]}"

mkdir -p build-fuzz/artifacts
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=()
for t in "${targets[@]}"; do
  bin=build-fuzz/$t
  corpus=tests/fuzz/corpus/$t
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  inputs=("$corpus"/*)
  echo "== $t: replay ${#inputs[@]} committed inputs"
  "$bin" "${dict[@]}" "${inputs[@]}" >"build-fuzz/$t.replay.log" 2>&1 || {
    tail -40 "build-fuzz/$t.replay.log"
    echo "fuzz: $t failed on a committed input (build-fuzz/$t.replay.log)"
    exit 1
  }
  if ((replay_only)); then
    summary+=("$t: replayed ${#inputs[@]} inputs")
    continue
  fi
  work=$(mktemp -d)
  echo "== $t: fuzz for ${seconds}s"
  if ! "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
      "$work" "$corpus" >"build-fuzz/$t.log" 2>&1; then
    tail -60 "build-fuzz/$t.log"
    echo "fuzz: $t found a crash; its input is in build-fuzz/artifacts/ (make it a reproducer" \
      "in $corpus and a regression unit test)"
    rm -rf "$work"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "build-fuzz/$t.log" | tail -1 | cut -d' ' -f2)
  new=$(find "$work" -type f | wc -l)
  summary+=("$t: ${#inputs[@]} seeds, ${seconds}s, ${runs:-?} inputs run, coverage ${cov:-?} edges, $new new inputs, no crash")
  rm -rf "$work"
done
echo "== fuzz summary"
printf '  %s\n' "${summary[@]}"
