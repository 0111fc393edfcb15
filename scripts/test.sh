#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build with warnings as errors,
# run unit, integration, chaos (short form) and the other tests through ctest, the libFuzzer targets
# for a bounded time (scripts/fuzz.sh), then the ctest tests again under ASan + UBSan.
# Set TRIAGED_SKIP_SANITIZERS=1 to skip the sanitizer pass locally.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

jobs=$(nproc)
echo "== build (RelWithDebInfo, -Werror)"
BUILD_DIR=build BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DTRIAGED_WERROR=ON
echo "== format check"
git ls-files '*.h' '*.cc' | xargs -r clang-format --dry-run -Werror
echo "== tests"
ctest --test-dir build --output-on-failure --timeout 900 -j1
echo "== fuzz: every committed input, then ${TRIAGED_FUZZ_SECONDS:=25} s per libFuzzer target"
bash scripts/fuzz.sh --seconds "$TRIAGED_FUZZ_SECONDS"

if [[ "${TRIAGED_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "== build (ASan + UBSan)"
  BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh \
    -DTRIAGED_WERROR=ON "-DTRIAGED_SANITIZE=address;undefined"
  echo "== tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    TRIAGED_TEST_SANITIZED=1 ctest --test-dir build-asan --output-on-failure --timeout 900 -j1
fi
echo "== all tests passed"
