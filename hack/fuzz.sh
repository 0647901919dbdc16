#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, for FUZZTIME each
# (default 20s; any -fuzztime value, such as 1m or 50000x), and fails if any
# of them finds a crash or does not pass its seeds.
#
#   hack/fuzz.sh [package pattern ...]      (default ./...)
#   FUZZTIME=1m hack/fuzz.sh ./sidecar/internal/token
#
# The targets are what `go test -list '^Fuzz'` reports, so a new fuzzer is
# run without touching this script. Only packages whose test files declare a
# Fuzz function are listed: listing every package would run the TestMains
# that start an API server or need a cluster.
#
# A crashing input is left where `go test` writes it, in the package's
# testdata/fuzz/<target>/, and its path is printed with the command that
# replays it. Commit it with the fix: it then runs as a seed in every
# `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fuzztime=${FUZZTIME:-20s}
patterns=("$@")
[ ${#patterns[@]} -gt 0 ] || patterns=(./...)

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Packages whose test files declare a fuzz target, by import path.
declare -A dirOf
pkgs=()
while IFS=$'\t' read -r pkg dir files; do
  [[ $files =~ [^[:space:]] ]] || continue
  # shellcheck disable=SC2086 # files is a list of file names
  if (cd "$dir" && grep -qsE '^func Fuzz[A-Z0-9_]' $files </dev/null); then
    pkgs+=("$pkg")
    dirOf[$pkg]=./${dir#"$root"/}
  fi
done < <(go list -f $'{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' "${patterns[@]}")
if [ ${#pkgs[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets in ${patterns[*]}" >&2
  exit 1
fi

# The targets as go test sees them, "<dir> <name>", in package order.
if ! go test -list '^Fuzz' "${pkgs[@]}" >"$logs/list" 2>&1; then
  cat "$logs/list" >&2
  echo "fuzz: listing the fuzz targets failed" >&2
  exit 1
fi
targets=()
names=()
while read -r line; do
  case $line in
    Fuzz*) names+=("$line") ;;
    ok*)
      pkg=$(awk '{print $2}' <<<"$line")
      for n in "${names[@]}"; do targets+=("${dirOf[$pkg]} $n"); done
      names=()
      ;;
  esac
done <"$logs/list"
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: go test -list found no fuzz targets in ${pkgs[*]}" >&2
  exit 1
fi

# coordinator_race LOG: the run failed only because the fuzz coordinator
# reported its own deadline, with no input written and no seed failing.
coordinator_race() {
  grep -qxE '[[:space:]]*context deadline exceeded' "$1" &&
    ! grep -qE 'Failing input written to|failure while testing seed corpus entry|^panic:|--- FAIL: [^ ]+/' "$1"
}

echo "fuzz: ${#targets[@]} targets, ${fuzztime} each"
start_all=$(date +%s)
failed=()
i=0
for t in "${targets[@]}"; do
  dir=${t% *}
  name=${t##* }
  i=$((i + 1))
  log="$logs/$i.log"
  start=$(date +%s)
  result=FAIL
  for attempt in 1 2; do
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir" >"$log" 2>&1; then
      result=ok
      break
    fi
    # Go's fuzzing coordinator can end a duration-bounded run with "context
    # deadline exceeded" and no failing input when its workers are starved
    # as -fuzztime expires (go.dev/issue/75804, fixed in Go 1.27). That is
    # not a finding: run the target once more and count only a second
    # failure. Any failing input, or any other failure, counts at once.
    if [ "$attempt" = 1 ] && coordinator_race "$log"; then
      echo "fuzz: again ${name} (${dir}): Go's fuzz coordinator stopped it with \"context deadline exceeded\" and no failing input (go.dev/issue/75804)"
      continue
    fi
    break
  done
  took=$(($(date +%s) - start))
  # From the last progress line, "fuzz: elapsed: 20s, execs: 123 (6/sec),
  # new interesting: 4 (total: 12)", the counts (the rate is the last
  # interval's only).
  progress=
  if [ "$result" = ok ]; then
    progress=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 | sed -E 's/^fuzz: elapsed: [^,]*, //; s/ \([0-9]+\/sec\)//' || true)
  fi
  printf 'fuzz: %-4s %-36s %-32s %4ss  %s\n' "$result" "$name" "$dir" "$took" "$progress"
  if [ "$result" = ok ]; then
    continue
  fi
  failed+=("$name ($dir)")
  sed 's/^/    /' "$log"
  # go test names the input it wrote relative to the package.
  crasher=$(sed -nE 's/^.*Failing input written to (testdata\/fuzz\/[^ ]+).*$/\1/p' "$log" | tail -n 1)
  if [ -n "$crasher" ]; then
    echo "fuzz: the crashing input is ${dir#./}/${crasher}"
    echo "fuzz: replay it with: go test -run '^${name}/${crasher##*/}\$' ${dir}"
  else
    # An input already in testdata/fuzz fails before any fuzzing.
    entry=$(sed -nE "s/^.*failure while testing seed corpus entry: ${name}\/([^ ]+).*$/\1/p" "$log" | tail -n 1)
    if [ -n "$entry" ] && [ -f "${dir}/testdata/fuzz/${name}/${entry}" ]; then
      echo "fuzz: the failing input, already there, is ${dir#./}/testdata/fuzz/${name}/${entry}"
      echo "fuzz: replay it with: go test -run '^${name}/${entry}\$' ${dir}"
    else
      echo "fuzz: ${name} failed before fuzzing (a seed in the code, or the build); see above"
    fi
  fi
done

echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - start_all))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
