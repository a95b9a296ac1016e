# Roadwatch: two commands on a fresh Debian 12 machine, `make demo` and `make test`.
# Both install the FFmpeg development packages with apt-get when pkg-config cannot find them.

SWIFT        ?= swift
FFMPEG_PC    := libavformat libavcodec libswscale libavutil sqlite3
FFMPEG_DEBS  := pkg-config libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libsqlite3-dev
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ROADWATCH    := .build/release/roadwatch
SAMPLES      := $(wildcard SampleVideo/*.mp4)

.PHONY: all deps build demo test bench bench-fleet accuracy clean

all: build

# Installs FFmpeg's (and SQLite's, for the store) development packages only when pkg-config does not find them.
deps:
	@if ! pkg-config --exists $(FFMPEG_PC) 2>/dev/null; then \
		echo "roadwatch: FFmpeg/SQLite development packages not found; installing $(FFMPEG_DEBS) with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(FFMPEG_DEBS); \
	fi

build: deps
	$(SWIFT) build -c release --product roadwatch

DEMO_PIPELINES := sample-junction sample-junction-night sample-highway

# The real job on the sample footage: one run per sample pipeline into demo-output/, each scored against the
# footage's exact truth.
demo: build
	@rm -rf demo-output && mkdir demo-output
	@for p in $(DEMO_PIPELINES); do \
		echo "== roadwatch run Pipelines/$$p.yaml --out demo-output/$$p"; \
		$(ROADWATCH) run Pipelines/$$p.yaml --out demo-output/$$p --plain || exit $$?; echo; \
	done
	@echo "== roadwatch score against the samples' truth"
	@$(ROADWATCH) score demo-output/sample-junction SampleVideo/junction-day.truth.json
	@$(ROADWATCH) score demo-output/sample-junction-night SampleVideo/junction-night.truth.json
	@$(ROADWATCH) score demo-output/sample-highway SampleVideo/highway-day.truth.json
	@echo
	@echo "Look at: demo-output/*/violations.jsonl (records), demo-output/*/evidence/ (stills and clips),"
	@echo "demo-output/*/run.json (per-input figures); re-apply changed rules in seconds: $(ROADWATCH) replay demo-output/sample-highway --pipeline FILE"

# Builds the tests once, then runs every suite (XCTest and Swift Testing). The fleet tests need a PostgreSQL: unless
# ROADWATCH_TEST_DB_URL names one, a throw-away server is installed (Debian's postgresql), started on 127.0.0.1 for
# the run and removed after (.ci/postgres). ROADWATCH_NO_PG=1 skips them instead.
test: deps
	$(SWIFT) build --build-tests
	@if [ -n "$$ROADWATCH_TEST_DB_URL" ] || [ "$$ROADWATCH_NO_PG" = 1 ]; then \
		$(SWIFT) test --skip-build; \
	else \
		eval "$$(.ci/postgres start)" && trap '.ci/postgres stop "$$ROADWATCH_TEST_PGDATA"' EXIT && \
		$(SWIFT) test --skip-build; \
	fi

# Benchmarks need FFmpeg's command-line tool to compare against. The camera-like clips (the sample motorway at
# 1080p30 with sensor noise, capped at 6 Mbit/s; ten minutes and its first minute) are rendered on demand into
# .bench-cache/ (about 15 minutes the first time), never committed.
BENCH_CACHE  := .bench-cache
CAMERA_10MIN := $(BENCH_CACHE)/10min/camera-1080p-6mbit.mp4
CAMERA_1MIN  := $(BENCH_CACHE)/1min/camera-1080p-6mbit.mp4
MOTORWAY     := ../shared/footage/nl-motorway-overpass-720p/traffic.mp4
# The real motorway clip is 11 s, too short to time against a process's start-up: also measured as ten copies
# joined without re-encoding (112 s of real camera footage).
MOTORWAY_X10 := $(BENCH_CACHE)/motorway-720p-x10.mp4
BENCH_CASES  := --case Pipelines/sample-highway.yaml=$(CAMERA_10MIN) --case Pipelines/sample-highway.yaml=$(CAMERA_1MIN) \
	$(if $(wildcard $(MOTORWAY)),--case Benchmarks/pipelines/nl-motorway.yaml=$(MOTORWAY) --case Benchmarks/pipelines/nl-motorway.yaml=$(MOTORWAY_X10)) \
	--case Pipelines/sample-highway.yaml=SampleVideo/highway-day.mp4 --case Pipelines/sample-junction.yaml=SampleVideo/junction-day.mp4 \
	--case Pipelines/sample-junction-night.yaml=SampleVideo/junction-night.mp4

$(CAMERA_10MIN):
	@mkdir -p $(BENCH_CACHE)/10min && $(ROADWATCH) synth Benchmarks/camera-1080p.scene.yaml --out $(BENCH_CACHE)/10min
$(CAMERA_1MIN):
	@mkdir -p $(BENCH_CACHE)/1min && $(ROADWATCH) synth Benchmarks/camera-1080p.scene.yaml --out $(BENCH_CACHE)/1min --frames 1800
$(MOTORWAY_X10):
	@mkdir -p $(BENCH_CACHE) && for i in 1 2 3 4 5 6 7 8 9 10; do echo "file '$(abspath $(MOTORWAY))'"; done > $(BENCH_CACHE)/motorway-x10.txt
	ffmpeg -v error -y -f concat -safe 0 -i $(BENCH_CACHE)/motorway-x10.txt -c copy $@

bench: build
	@command -v ffmpeg >/dev/null || { echo "roadwatch: installing the ffmpeg command for comparison"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg; }
	@$(MAKE) --no-print-directory $(CAMERA_10MIN) $(CAMERA_1MIN) $(if $(wildcard $(MOTORWAY)),$(MOTORWAY_X10))
	$(ROADWATCH) bench decode --threads 2 --repeats 3 --markdown BENCHMARKS.md $(SAMPLES) $(wildcard ../shared/footage/*/*.mp4 ../shared/footage/*/*.avi)
	$(ROADWATCH) bench run --threads 2 --markdown BENCHMARKS.md $(BENCH_CASES)
	$(ROADWATCH) bench rules --markdown BENCHMARKS.md

# Accuracy beyond the samples: the sample junction at dusk, with a shaking camera and a passing cloud, in dense
# traffic, and at night with other traffic (Benchmarks/scenes/), rendered on demand into .bench-cache/accuracy/
# (about 80 s; again when the scene, the renderer or the encoder settings are newer than the render), each run through its sample junction
# pipeline and scored, records and tracks (the whole picture and inside the lanes), against its truth; then the three
# samples the same way.
# docs/accuracy.md reports the figures.
ACCURACY     := $(BENCH_CACHE)/accuracy
SCENES       := junction-dusk:sample-junction junction-shake:sample-junction junction-dense:sample-junction \
                junction-night-traffic:sample-junction-night
accuracy: build
	@mkdir -p $(ACCURACY)/out
	@for sp in $(SCENES); do \
		s=$${sp%%:*}; p=$${sp##*:}; \
		if [ ! -f $(ACCURACY)/$$s.mp4 ] || [ -n "$$(find Benchmarks/scenes/$$s.scene.yaml Sources/SceneSynth Sources/VideoIO/VideoWriter.swift -newer $(ACCURACY)/$$s.mp4 | head -1)" ]; then \
			$(ROADWATCH) synth Benchmarks/scenes/$$s.scene.yaml --out $(ACCURACY) || exit $$?; \
		fi; \
		rm -rf $(ACCURACY)/out/$$s; \
		$(ROADWATCH) run Pipelines/$$p.yaml $(ACCURACY)/$$s.mp4 --out $(ACCURACY)/out/$$s --plain >/dev/null || exit $$?; \
		echo "== $$s"; $(ROADWATCH) score $(ACCURACY)/out/$$s $(ACCURACY)/$$s.truth.json --tracks $(ACCURACY)/out/$$s/tracks/*.mot.csv --lanes Pipelines/$$p.yaml || exit $$?; \
	done
	@for p in sample-junction:junction-day sample-junction-night:junction-night sample-highway:highway-day; do \
		rm -rf $(ACCURACY)/out/$${p%%:*}; \
		$(ROADWATCH) run Pipelines/$${p%%:*}.yaml --out $(ACCURACY)/out/$${p%%:*} --plain >/dev/null || exit $$?; \
		echo "== $${p##*:}"; $(ROADWATCH) score $(ACCURACY)/out/$${p%%:*} SampleVideo/$${p##*:}.truth.json --tracks $(ACCURACY)/out/$${p%%:*}/tracks/*.mot.csv --lanes Pipelines/$${p%%:*}.yaml || exit $$?; \
	done

# Fleet throughput: 1, 2 and 3 workers draining 12 jobs from a throw-away PostgreSQL (docs/scale-out.md).
bench-fleet: build
	@command -v ffmpeg >/dev/null || { echo "roadwatch: installing the ffmpeg command to cut the inputs"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg; }
	@command -v bc >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq bc; }
	Benchmarks/fleet-throughput.sh

clean:
	rm -rf .build demo-output
