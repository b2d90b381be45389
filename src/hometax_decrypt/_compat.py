"""Deprecated module names, kept importable for one release (0.2.x; removed in 0.3).

The package was laid out anew in 0.2 (CHANGELOG.md lists every move). Code written against 0.1 keeps
working: ``import hometax_decrypt.pdf`` or ``from hometax_decrypt.yesone import parse_xml`` gives the
module at its new place and a :class:`DeprecationWarning` naming it. Only the names in :data:`MOVED`
are served, so this finder never shadows anything else.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings

MOVED = {
    "hometax_decrypt.source": "hometax_decrypt.document.source",
    "hometax_decrypt.pdf": "hometax_decrypt.document.pdf",
    "hometax_decrypt.limits": "hometax_decrypt.document.limits",
    "hometax_decrypt.yesone": "hometax_decrypt.records",
    "hometax_decrypt.export": "hometax_decrypt.formats.export",
    "hometax_decrypt.ndjson": "hometax_decrypt.formats.ndjson",
    "hometax_decrypt.bulk": "hometax_decrypt.service.bulk",
    "hometax_decrypt.archive": "hometax_decrypt.service.archive",
}


def new_name(old: str) -> str | None:
    """The module's name now, for a name of 0.1 (``hometax_decrypt.yesone.model`` included)."""
    for prefix, target in MOVED.items():
        if old == prefix or old.startswith(prefix + "."):
            return target + old[len(prefix) :]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target
        self.own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # already executed under its new name; but importlib has just given it this alias's spec
        # (it always sets __spec__), which says "not a package": give its own back, or
        # importlib.resources no longer finds the package's data (records' code catalog)
        module.__spec__ = self.own_spec


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        moved = new_name(fullname)
        if moved is None:
            return None
        warnings.warn(
            f"{fullname} is deprecated; import {moved} (removed in 0.3)", DeprecationWarning, stacklevel=2
        )
        return importlib.util.spec_from_loader(fullname, _Alias(moved))


def install() -> None:
    """Called once by the package's ``__init__``: it serves only the names of :data:`MOVED`.

    First on the path: the old package's ``__path__`` is the new one's, so the ordinary finder would
    load ``yesone/model`` a second time as another module (two classes ``Document``) otherwise."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
