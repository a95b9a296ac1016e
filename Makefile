# Roadwatch: two commands on a fresh Debian 12 machine, `make demo` and `make test`.
# Both install the FFmpeg development packages with apt-get when pkg-config cannot find them.

SWIFT        ?= swift
FFMPEG_PC    := libavformat libavcodec libswscale libavutil
FFMPEG_DEBS  := pkg-config libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ROADWATCH    := .build/release/roadwatch
SAMPLES      := $(wildcard SampleVideo/*.mp4)

.PHONY: all deps build demo test bench clean

all: build

# Installs FFmpeg's development packages only when pkg-config does not find them.
deps:
	@if ! pkg-config --exists $(FFMPEG_PC) 2>/dev/null; then \
		echo "roadwatch: FFmpeg development packages not found; installing $(FFMPEG_DEBS) with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(FFMPEG_DEBS); \
	fi

build: deps
	$(SWIFT) build -c release --product roadwatch

DEMO_INPUTS  := $(or $(SAMPLES),$(wildcard ../shared/footage/*/*.mp4 ../shared/footage/*/*.avi))

demo: build
	@echo "== roadwatch probe on the sample footage"
	$(ROADWATCH) probe $(DEMO_INPUTS)

# Builds the tests once, then runs every suite (XCTest and Swift Testing).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Benchmarks need FFmpeg's command-line tool to compare against.
bench: build
	@command -v ffmpeg >/dev/null || { echo "roadwatch: installing the ffmpeg command for comparison"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg; }
	$(ROADWATCH) bench decode --threads 2 --repeats 3 --markdown BENCHMARKS.md $(SAMPLES) $(wildcard ../shared/footage/*/*.mp4 ../shared/footage/*/*.avi)

clean:
	rm -rf .build demo-output
