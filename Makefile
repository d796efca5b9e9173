# broadcaster: `make run` to set up and render the samples, `make test` to run the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_PACKAGES  := ffmpeg espeak-ng libportaudio2
TEST_PACKAGES := $(RUN_PACKAGES) pulseaudio pulseaudio-utils libasound2-plugins chromium chromium-l10n fonts-dejavu-core \
                 nats-server icecast2

.PHONY: run test soak guide system-deps test-system-deps bench clean

run: system-deps $(VENV)/.installed
	$(BIN)/broadcaster build
	@echo
	@echo "Coming broadcasts:"
	$(BIN)/broadcaster next
	@echo
	@echo "Rendered bulletins are in audio_out/. Everyday commands: $(BIN)/broadcaster --help"

# the soak test's length in seconds in `make test`; `make soak` runs it alone for ten minutes
SOAK_SECONDS ?= 45
# most tests wait for real time to pass (audio plays in real time, servers time out): they run side
# by side, each worker with its own PulseAudio, ports and folders; the few that measure timing to
# the millisecond (marked `alone`) run after them, one at a time. Each worker takes one test at a time,
# the longest first (tests/conftest.py), so the suite does not end with a long test collected last.
# (Six workers were 2 minutes faster, but under their load sound cards ran dry and set-ups ran late.)
WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider

test: test-system-deps $(VENV)/.test-installed
	BROADCASTER_SOAK_SECONDS=$(SOAK_SECONDS) $(PYTEST) -n $(WORKERS) --maxschedchunk 1 --durations=15 -m "not alone" tests
	$(PYTEST) --durations=5 -m alone tests

soak: test-system-deps $(VENV)/.test-installed
	BROADCASTER_SOAK_SECONDS=600 $(PYTEST) tests/test_soak.py

# the pictures of docs/huong-dan.md, taken by the console's acceptance test in headless Chromium
guide: test-system-deps $(VENV)/.test-installed
	$(PYTEST) tests/test_guide.py
	mkdir -p docs/huong-dan && cp test-artifacts/huong-dan/*.png docs/huong-dan/

system-deps:
	@sh tools/system-deps.sh $(RUN_PACKAGES)

test-system-deps:
	@sh tools/system-deps.sh $(TEST_PACKAGES)

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "broadcaster needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.python-ok setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

bench: $(VENV)/.installed
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) state audio_out/*.mp3 audio_out/*.wav audio_out/*.json
