#!/usr/bin/env bash
# Fleet throughput on this machine: 1, 2 and 3 workers (`roadwatch worker --once`, evidence on) draining the same
# 12 jobs from a throw-away PostgreSQL, and local runs over the same inputs for reference. Prints a Markdown table.
#   make bench-fleet            (builds the release binary, installs ffmpeg for cutting the inputs when missing)
# Inputs: each sample clip cut into four 10 s pieces starting 0, 6.68, 13.32 and 20 s in (re-encoded, creation_time
# shifted to match), each enqueued with its camera's pipeline: three cameras, twelve jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
RW=${ROADWATCH:-$PWD/.build/release/roadwatch}
WORK=$(mktemp -d /tmp/roadwatch-fleet-bench.XXXXXX)
eval "$(.ci/postgres start)"
trap '.ci/postgres stop "$ROADWATCH_TEST_PGDATA"; rm -rf "$WORK"' EXIT
ADMIN=$ROADWATCH_TEST_DB_URL

declare -A PIPELINE=([junction-day]=sample-junction [junction-night]=sample-junction-night [highway-day]=sample-highway)
for clip in junction-day junction-night highway-day; do
    mkdir -p "$WORK/footage/$clip"
    start=$(ffprobe -v error -show_entries format_tags=creation_time -of default=nw=1:nk=1 "SampleVideo/$clip.mp4")
    for off in 0 6.68 13.32 20; do
        when=$(python3 -c "import datetime,sys; t=datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00'))+datetime.timedelta(seconds=float(sys.argv[2])); print(t.strftime('%Y-%m-%dT%H:%M:%S.%fZ'))" "$start" "$off")
        ffmpeg -v error -ss "$off" -i "SampleVideo/$clip.mp4" -t 10 -c:v libx264 -preset veryfast -crf 18 -g 50 \
            -metadata creation_time="$when" -an "$WORK/footage/$clip/$clip-at-$off.mp4"
    done
done
frames=$(for f in "$WORK"/footage/*/*.mp4; do ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets -of csv=p=0 "$f"; done | paste -sd+ | bc)

row() { printf '| %s | %s | %.1f | %.1f | %.0f | %.2f |\n' "$1" "$2" "$3" "$(echo "12 / $3 * 60" | bc -l)" "$(echo "$frames / $3" | bc -l)" "$(echo "$BASE / $3" | bc -l)"; }
now() { date +%s.%N; }

echo "| how | processes | wall s | jobs/min | frames/s | vs 1 worker |"
echo "|---|---|---|---|---|---|"
BASE=1
for workers in 1 2 3; do
    db="bench_$workers"
    PGPASSWORD=${ADMIN#*:*:}; PGPASSWORD=${PGPASSWORD%%@*}
    url=${ADMIN%/*}/$db?sslmode=disable
    PGPASSWORD=$PGPASSWORD psql -q "${ADMIN%\?*}" -c "CREATE DATABASE $db" >/dev/null
    "$RW" migrate --db "$url" >/dev/null
    for clip in junction-day junction-night highway-day; do
        "$RW" enqueue --db "$url" "Pipelines/${PIPELINE[$clip]}.yaml" "$WORK/footage/$clip" >/dev/null
    done
    mkdir -p "$WORK/shared-$workers"
    t0=$(now)
    pids=()
    for w in $(seq "$workers"); do
        "$RW" worker --db "$url" --evidence-root "$WORK/shared-$workers" --once --poll 0.2 2>"$WORK/worker-$workers-$w.log" &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    [ "$workers" = 1 ] && BASE=$wall
    done_jobs=$("$RW" status --db "$url" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['counts']['done'])")
    [ "$done_jobs" = 12 ] || { echo "only $done_jobs of 12 jobs done with $workers workers" >&2; exit 1; }
    row "fleet: $workers worker(s) on one machine" "$workers" "$wall"
done
for jobs in 1 2; do
    t0=$(now)
    for clip in junction-day junction-night highway-day; do
        "$RW" run "Pipelines/${PIPELINE[$clip]}.yaml" "$WORK/footage/$clip" --out "$WORK/local-$jobs-$clip" --jobs "$jobs" --plain >/dev/null 2>&1
    done
    t1=$(now)
    row "local: roadwatch run --jobs $jobs (one run per camera)" 1 "$(echo "$t1 - $t0" | bc -l)"
done
echo
echo "$frames frames in 12 inputs; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); $(date -u +%Y-%m-%d); commit $(git rev-parse --short HEAD)"
