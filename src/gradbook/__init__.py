"""gradbook: the tested helpers behind *Why Deep Networks Were Hard to Train*.

One module per idea: :mod:`~gradbook.data`, :mod:`~gradbook.nets`,
:mod:`~gradbook.losses`, :mod:`~gradbook.train`, :mod:`~gradbook.diagnostics`,
:mod:`~gradbook.plots`, :mod:`~gradbook.widgets`, and one per chapter topic.
Submodules are imported on use, so ``import gradbook`` stays cheap.
"""

__version__ = "0.1.0"
