# The README's two commands: `make demo` (the main job on the embedded default model) and
# `make test` (the default test suite). Both create or reuse .venv and install the tested
# versions from constraints.txt (torch pinned to the 2.13.0 CPU build).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow bench clean

install: $(VENV)/.installed

# The demo needs reftbench's own dependencies only: not pytest, and not lmms-eval with its
# large dependency tree. `make test` adds both.
$(VENV)/.core: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e .
	touch $@

# lmms-eval needs filelock<4 (the rest of the stack is tested with 4.x, and runs with 3.x), and
# drags in a CUDA-linked torchvision that breaks transformers' image processing on a CPU: so
# it installs against the constraints minus filelock, and torchvision is removed afterwards.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	grep -v '^filelock==' constraints.txt > $(VENV)/constraints-lmms.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -c $(VENV)/constraints-lmms.txt -e '.[test,lmms]'
	$(BIN)/python -m pip uninstall -q -y torchvision
	touch $(VENV)/.core $@

demo: $(VENV)/.core
	$(BIN)/reftbench demo

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV)
