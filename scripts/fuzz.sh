#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of fuzz/ (clang from Debian: packages clang and
# libclang-rt-14-dev, which scripts/install-deps.sh installs).
#
#   scripts/fuzz.sh                       # every target, 300 s each (the long run)
#   scripts/fuzz.sh --seconds 5 -- -seed=1  # the smoke run that ctest's fuzz_smoke does
#   scripts/fuzz.sh --only coco_results,image --seconds 60
#   scripts/fuzz.sh --build-only          # just the binaries: BUILD/fuzz/bin/fuzz_<target>
#   scripts/fuzz.sh --build-dir B --out O # link against the build B, put everything fuzzing makes in O
#   scripts/fuzz.sh --keep-going          # survey: record every finding and go on (libFuzzer -fork=1)
#   BUILD/fuzz/bin/fuzz_<target> FILE     # replay one input (a reproducer) with its sanitizer report
#
# The project must be built first (scripts/build.sh): each target is fuzz/fuzz_<target>.cpp plus the
# reader sources its "fuzz-instrument:" line names, compiled by clang with coverage, ASan and UBSan,
# and linked against the GCC-built static libraries of the build folder (libstdc++ on both sides), so
# the readers are instrumented and nothing else is compiled twice. Build files go to BUILD/fuzz/
# (incremental, ninja); each run grows a working corpus in BUILD/fuzz/corpus/<target>/ from the
# committed seeds in fuzz/corpus/<target>/ (read only here), with the dictionary fuzz/<target>.dict
# or fuzz/json.dict. Regenerate the seeds that targets write themselves (from our own writers) with
# --write-seeds.
#
# Every run is bounded: -max_total_time=SECONDS, -timeout=10 per input, -rss_limit_mb=2048. A
# crash, sanitizer report, leak, timeout or out-of-memory stops that target; its reproducer is kept
# under BUILD/fuzz/artifacts/<target>/ and printed, the other targets still run, and the script
# exits 1. One summary line per target: executions, exec/s, coverage, new corpus units, result.
# Exit 77 (ctest: skipped) only when clang or its fuzzer runtime is not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=300
build_dir=${BUILD_DIR:-build}
only=""
build_only=0
write_seeds=0
keep_going=0
out=""
jobs=${FUZZ_JOBS:-$(nproc)}
extra=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --write-seeds) write_seeds=1; shift ;;
    --keep-going) keep_going=1; shift ;;
    --) shift; extra=("$@"); break ;;  # passed to every libFuzzer run
    -h|--help) usage; exit 0 ;;
    *) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number, got '$seconds'" >&2; exit 2 ;; esac
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
[ -n "$out" ] || out="$build_dir/fuzz"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

# --- the compiler and its fuzzer runtime (the only reason to skip) --------------------------------
cxx=${FUZZ_CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null; then cxx=$c; break; fi
  done
fi
if [ -z "$cxx" ] || ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: SKIPPED: no clang++${cxx:+ ($cxx)} (Debian: apt-get install clang libclang-rt-14-dev)"
  exit 77
fi
resource=$("$cxx" -print-resource-dir)
arch=$(uname -m)
runtime_found=0
for rt in "$resource/lib/linux/libclang_rt.fuzzer-$arch.a" "$resource/lib/$arch-unknown-linux-gnu/libclang_rt.fuzzer.a"; do
  [ -f "$rt" ] && runtime_found=1
done
if [ "$runtime_found" -eq 0 ]; then
  echo "fuzz.sh: SKIPPED: $cxx has no libFuzzer runtime under $resource (Debian: apt-get install libclang-rt-14-dev)"
  exit 77
fi

# --- flags from the project's build ---------------------------------------------------------------
for f in compile_commands.json build.ninja libwbpose_tensor.a; do
  if [ ! -e "$build_dir/$f" ]; then
    echo "fuzz.sh: $build_dir/$f is missing: build the project first (scripts/build.sh)" >&2
    exit 1
  fi
done
mkdir -p "$out"
link_cmd=$(ninja -C "$build_dir" -t commands bin/wbpose-info | tail -1)
# The readers are compiled from the sources the build was made from (its CMAKE_HOME_DIRECTORY: this
# checkout, unless --build-dir names another one's build), so that they match the libraries. Compile
# flags: the library's defines, include folders and -march (so that inline code and the layouts of
# Eigen types agree with the GCC objects). Link flags: what wbpose-info links after its own object,
# library paths made absolute.
python3 - "$build_dir" "$root" "$link_cmd" >"$out/flags.sh" <<'EOF'
import json, os, shlex, sys
build, root, link = sys.argv[1], sys.argv[2], sys.argv[3]
src = None
for line in open(os.path.join(build, "CMakeCache.txt")):
    if line.startswith("CMAKE_HOME_DIRECTORY:"):
        src = os.path.realpath(line.split("=", 1)[1].strip())
entry = next(e for e in json.load(open(os.path.join(build, "compile_commands.json")))
             if e["file"].endswith("tensor/safetensors.cpp"))
args = entry.get("arguments") or shlex.split(entry["command"])
cflags, i = [], 1
while i < len(args):
    a = args[i]
    if a in ("-isystem", "-I") and i + 1 < len(args):
        cflags += [a, args[i + 1]]
        i += 2
        continue
    if a.startswith("-I"):
        cflags.append(a)
    elif a.startswith("-D") and a != "-DNDEBUG":
        cflags.append(a)
    elif a.startswith("-march=") or a.startswith("-std="):
        cflags.append(a)
    i += 1
toks = shlex.split(link)
toks = toks[toks.index("-o") + 2:]
if "&&" in toks:
    toks = toks[:toks.index("&&")]
ldflags, libs = [], []
for t in toks:
    if t.endswith(".a") and not os.path.isabs(t):
        t = os.path.join(build, t)
        libs.append(t)
    ldflags.append(t)
if os.path.realpath(root) != src:
    cflags.append("-I" + root)  # fuzz/common.h, after the build's own sources
print("src=" + shlex.quote(src))
print("cflags=" + shlex.quote(" ".join(shlex.quote(c) for c in cflags)))
print("ldflags=" + shlex.quote(" ".join(shlex.quote(l) for l in ldflags)))
print("libs=" + shlex.quote(" ".join(shlex.quote(l) for l in libs)))
EOF
# shellcheck disable=SC1091
. "$out/flags.sh"
# The build's compiler launcher (ccache), when it has one, for the clang compiles too.
launcher=$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
if [ -n "$launcher" ] && ! command -v "${launcher%% *}" >/dev/null; then launcher=""; fi

# --- targets ----------------------------------------------------------------------------------------
all_targets=()
for f in "$root"/fuzz/fuzz_*.cpp; do
  n=$(basename "$f" .cpp)
  all_targets+=("${n#fuzz_}")
done
targets=()
if [ -n "$only" ]; then
  IFS=, read -r -a targets <<<"$only"
  for t in "${targets[@]}"; do
    [ -f "$root/fuzz/fuzz_$t.cpp" ] || { echo "fuzz.sh: no target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
  done
else
  targets=("${all_targets[@]}")
fi

# --- build (ninja: incremental, parallel) -----------------------------------------------------------
ninja_file="$out/build.ninja.new"
{
  echo "# generated by scripts/fuzz.sh"
  echo "cxx = $cxx"
  echo "cflags = -gline-tables-only -O1 $cflags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  echo "ldflags = $ldflags"
  echo "rule cc"
  echo "  command = $launcher \$cxx -MD -MF \$out.d \$cflags -c \$in -o \$out"
  echo "  depfile = \$out.d"
  echo "  deps = gcc"
  echo "  description = clang \$in"
  echo "rule link"
  echo "  command = \$cxx -fsanitize=fuzzer,address,undefined \$in -o \$out \$ldflags"
  echo "  description = link \$out"
  declare -A compiled=()
  for t in "${targets[@]}"; do
    objs="obj/fuzz/fuzz_$t.o"
    srcs=("fuzz/fuzz_$t.cpp")
    read -r -a instrumented <<<"$(sed -n 's/^\/\/ fuzz-instrument:\(.*\)$/\1/p' "$root/fuzz/fuzz_$t.cpp")"
    for s in "${instrumented[@]}"; do
      objs="$objs obj/${s%.cpp}.o"
      srcs+=("$s")
    done
    for s in "${srcs[@]}"; do
      [ -n "${compiled[$s]:-}" ] && continue
      compiled[$s]=1
      if [ "$s" = "fuzz/fuzz_$t.cpp" ]; then
        echo "build obj/${s%.cpp}.o: cc $root/$s"
      else
        echo "build obj/${s%.cpp}.o: cc $src/$s"
      fi
    done
    echo "build bin/fuzz_$t: link $objs | $libs"
  done
} >"$ninja_file"
cmp -s "$ninja_file" "$out/build.ninja" 2>/dev/null && rm "$ninja_file" || mv "$ninja_file" "$out/build.ninja"
build_start=$(date +%s)
if ! ninja -C "$out" -j "$jobs" $(printf 'bin/fuzz_%s ' "${targets[@]}"); then
  echo "fuzz.sh: build failed" >&2
  exit 1
fi
echo "fuzz.sh: built ${#targets[@]} targets in $(( $(date +%s) - build_start )) s ($out/bin)"
[ "$build_only" -eq 1 ] && exit 0

if [ "$write_seeds" -eq 1 ]; then
  for t in "${targets[@]}"; do
    if grep -q 'WBPOSE_FUZZ_WRITE_SEEDS' "$root/fuzz/fuzz_$t.cpp"; then
      WBPOSE_FUZZ_WRITE_SEEDS="$root/fuzz/corpus/$t" "$out/bin/fuzz_$t" >/dev/null
      echo "fuzz.sh: seeds of $t written to fuzz/corpus/$t"
    fi
  done
  exit 0
fi

# --- runs ---------------------------------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:handle_abort=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1"
export CUDA_VISIBLE_DEVICES=""  # the readers run on the CPU; a CUDA runtime under ASan needs more care
failed=0
errors='ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|PROPERTY FAILED: .*'
printf '%-18s %6s %10s %8s %6s %8s %9s  %s\n' target seconds execs exec/s cov ft "new/corp" result
for t in "${targets[@]}"; do
  seeds="$root/fuzz/corpus/$t"
  work="$out/corpus/$t"
  art="$out/artifacts/$t"
  log="$out/logs/$t.log"
  mkdir -p "$work" "$art" "$out/logs"
  dict="$root/fuzz/$t.dict"
  [ -f "$dict" ] || dict="$root/fuzz/json.dict"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/" -dict="$dict")
  [ "$keep_going" -eq 1 ] && args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  marker="$out/logs/$t.start"
  touch "$marker"
  start=$(date +%s)
  rc=0
  "$out/bin/fuzz_$t" "${args[@]}" "${extra[@]}" "$work" "$seeds" </dev/null >"$log" 2>&1 || rc=$?
  found=$(find "$art" -type f -newer "$marker" | sort)
  took=$(( $(date +%s) - start ))
  fstat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(fstat number_of_executed_units)
  rate=$(fstat average_exec_per_sec)
  added=$(fstat new_units_added)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  [ -n "$rate" ] || rate=$(sed -n 's/.* exec\/s:\{0,1\} \([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(find "$work" -type f | wc -l)
  result=ok
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    failed=1
    kind=$(grep -m1 -oE "$errors" "$log" | sed 's/^==[0-9]*== *//' || true)
    counts=""
    for k in crash leak timeout oom slow-unit; do
      n=$(grep -c "/$k-[^/]*$" <<<"$found" || true)
      [ "$n" -gt 0 ] && counts="$counts $n $k,"
    done
    result="FAILED (exit $rc;${counts:- no reproducer,} first: ${kind:-see log})"
  fi
  printf '%-18s %6s %10s %8s %6s %8s %9s  %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${added:-?}/$corp" "$result"
  if [ "$result" != ok ]; then
    echo "  log: $log"
    head -5 <<<"$found" | sed 's/^/  reproducer: /'
    n=$(grep -c . <<<"$found" || true)
    [ "$n" -le 5 ] || echo "  ... and $((n - 5)) more in $art/"
    [ -n "$found" ] && echo "  replay: $out/bin/fuzz_$t $(head -1 <<<"$found")"
    # the first report and the top of its stack
    awk -v re="$errors" 'n == 0 && $0 ~ re { n = 1; print; next } n > 0 && n <= 8 && /^ *#[0-9]+ 0x/ { n++; print }' "$log" |
      cut -c1-240 | sed 's/^/  | /'
    if [ "$keep_going" -eq 1 ]; then echo "  (--keep-going: the reports of the other reproducers are in the log, or replay them)"; fi
  fi
done
exit "$failed"
