"""One module per chapter of the book, named like the chapter's page
(``chapters/03_pretraining.md`` <-> :mod:`gradbook.chapters.ch03_pretraining`).

A chapter module holds that chapter's settings (one frozen ``SETTINGS``
object), its memoised experiment runners and its figure functions. It imports
the library (:mod:`gradbook.models`, :mod:`gradbook.train`, ...); the library
never imports a chapter module.
"""

__all__: list[str] = []
