"""The book's own small Sphinx extension.

sphinx-thebe 0.3.1 registers its inline configuration script once per
``env-before-read-docs`` event, and Jupyter Book's build emits that event more
than once, so every page declared ``const THEBE_JS_URL`` twice and the browser
logged "Identifier 'THEBE_JS_URL' has already been declared". Sphinx already
drops a repeated script *file*; this drops a repeated inline script from each
page's list of scripts (the two copies differ only in a filename of None
against "").
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # An inline script is registered with filename None or "" depending on the
    # route it took; both mean "no file".
    return (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats (same file or same inline body), in order."""
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = unique_scripts(list(scripts))


def setup(app):
    # Late (priority 999), after every extension has added its scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
