# make demo  — fresh machine to a dance: venv, install, run the demo.
# make test  — the whole test suite (what CI runs).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
VIEWER := dancegen/viewer
VIEWER_BUILD := $(VIEWER)/build/viewer.js
KIT    ?= ../shared/data

.PHONY: demo test install system-test-deps fbx fbx-test-deps bench default-model lrcm-model mosaic-model clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, from its CPU wheel, then everything else held to it by the constraints file.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[test]'
	# librosa's numba functions compiled into numba's cache now, not on the first generation.
	$(PY) -c "from dancegen.audio.features import precompile; precompile()"
	touch $(STAMP)

# three.js is bundled into the viewer once, here, so pages work offline (no CDN).
$(VIEWER_BUILD): $(VIEWER)/package.json $(VIEWER)/package-lock.json $(VIEWER)/src/viewer.js
	npm ci --prefix $(VIEWER) --no-audit --no-fund --loglevel=error

install: $(STAMP) $(VIEWER_BUILD)

# Headless Chromium (viewer tests) and ffmpeg (video tests) from Debian. Without root or apt
# the tests that need them are skipped, each with its reason.
system-test-deps:
	@if command -v chromium >/dev/null && command -v ffmpeg >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ffmpeg >/dev/null; \
	else echo "note: chromium/ffmpeg missing and cannot be installed here; browser and video tests will skip"; fi

# Blender as a Python module, for .fbx (bpy 5.0.1: Python 3.11, a 374 MB wheel, ~1 GB installed),
# in its own environment inside .venv: bpy pins numpy < 2 and dancegen's environment keeps
# numpy 2. dancegen runs Blender in a child process and finds this one by itself.
BLENDER_VENV := $(VENV)/blender
$(BLENDER_VENV)/.installed:
	test -x $(BLENDER_VENV)/bin/python || $(PYTHON) -m venv $(BLENDER_VENV)
	$(BLENDER_VENV)/bin/python -m pip install -q bpy==5.0.1
	touch $@

fbx: $(STAMP) $(BLENDER_VENV)/.installed

# For the tests, best effort: where bpy has no wheel, the FBX tests skip, each with its reason.
fbx-test-deps:
	@$(MAKE) --no-print-directory fbx || echo "note: bpy (Blender) could not be installed; FBX tests will skip"

demo: install
	$(PY) -m dancegen.demo

test: install system-test-deps fbx-test-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

# Rebuild the shipped default model from the data kit (../shared/data): pair, train, evaluate.
default-model: install
	$(PY) -m dancegen.recipes.gcdance_small --kit $(KIT) train.max_steps=3000 train.checkpoint_every=100

# The other families' shipped models, from the same paired kit (each under an hour on 2 cores).
lrcm-model: install
	$(PY) -m dancegen.recipes.lrcm_small --kit $(KIT)

mosaic-model: install
	$(PY) -m dancegen.recipes.mosaic_small --kit $(KIT)

bench: install
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache $(VIEWER)/node_modules $(VIEWER)/build
