# The two commands of the README:
#   make book   set up .venv if missing, build the executed HTML book into _build/html
#   make test   the same set-up, then every test (unit, claims, book build, browser, assignments)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# An unreachable find-links page (PyTorch's CPU wheel list, see requirements.txt)
# would cost several retries per package; fail fast instead.
PIP    := $(BIN)/pip --disable-pip-version-check --retries 0

export GRADBOOK_BUILD := 1
export PYTHONHASHSEED := 0
# Kernels draw with Jupyter's inline backend; an inherited MPLBACKEND (e.g. Agg)
# would drop every static figure from the pages.
unexport MPLBACKEND

.PHONY: book test setup clean clean-cache

setup: $(STAMP)

# The last step builds matplotlib's font cache now: built later, inside a
# chapter's kernel, its "building the font cache" message lands in a cell's
# stderr and fails the build.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gradbook)"
	$(BIN)/python -c "from matplotlib import font_manager as f; f._load_fontmanager(try_read_cache=False)"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# The execution cache and the experiments' disk cache (gradbook.memo).
clean-cache:
	rm -rf _build/.jupyter_cache _build/.gradbook_cache

clean:
	rm -rf _build
