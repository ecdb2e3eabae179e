"""gradbook: the tested helpers behind *Why Deep Networks Were Hard to Train*.

Two kinds of module, kept apart:

- **the library**: :mod:`~gradbook.data` (data sets, splits, synthetic tasks),
  :mod:`~gradbook.models` (one file per model family), :mod:`~gradbook.losses`,
  :mod:`~gradbook.train` (the one training loop, clipping),
  :mod:`~gradbook.diagnostics` (per-layer and through-time gradient measures),
  :mod:`~gradbook.plots` and :mod:`~gradbook.widgets`;
- **the chapters**: :mod:`gradbook.chapters.ch01_vanishing_gradients` ...
  :mod:`gradbook.chapters.ch06_exploding_gradients`, one per chapter page, each
  with that chapter's settings, experiment runners and figure functions.

Chapters import the library; the library never imports a chapter.
Submodules are imported on use, so ``import gradbook`` stays cheap.
"""

__all__: list[str] = []
__version__ = "0.1.0"
