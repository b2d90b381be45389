"""Every size, count and time cap in one place.

The defaults are the settings table's (:mod:`hometax_decrypt.settings`, one source; documented in
docs/deployment.md). A library call without ``limits=`` uses exactly those defaults: it never reads
the environment, so that a payroll program's environment (or a server variable set wrongly) cannot
change or break what ``extract()`` does. An adapter that wants the ``HOMETAX_MAX_*`` variables asks
for them once, at start: ``Limits.from_env()`` (the CLI, the web app factory).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from .. import errors
from ..settings import Settings, parse_env

MiB = 1024 * 1024
_D = Settings()


@dataclass(frozen=True)
class Limits:
    # defaults: the settings' (one source); meanings in docs/deployment.md
    max_input_bytes: int = _D.max_input_bytes  # the PDF itself
    max_part_bytes: int = _D.max_part_bytes  # one inflated data part (XML or SAM)
    max_objects: int = _D.max_objects  # indirect objects in the PDF (counted in its xref)
    max_pdf_tokens: int = _D.max_pdf_tokens  # PDF syntax: delimiter and white-space bytes
    max_structure_bytes: int = _D.max_structure_bytes  # one xref/object stream; all object streams
    max_xml_elements: int = _D.max_xml_elements  # elements + attributes of one XML part
    max_seconds: float = _D.max_seconds  # wall time for one document's work

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @classmethod
    def from_env(cls, environ: dict | None = None) -> Limits:
        """The limits of the ``HOMETAX_MAX_*`` variables (and only those) of ``environ``
        (default: the process environment), parsed now; unset ones keep the defaults. A bad value
        is a usage error naming the variable (the CLI's exit 2), never quoting it."""
        try:
            return cls(**parse_env([f.name for f in fields(cls)], environ))
        except ValueError as exc:
            raise errors.UsageError(str(exc)) from None


DEFAULT = Limits()


def resolve(limits: Limits | None) -> Limits:
    """The caller's limits, or the documented defaults (never the environment)."""
    return limits if limits is not None else DEFAULT


class Deadline:
    """Wall-time budget of one document's work, checked between steps (native code such as qpdf's
    parser cannot be interrupted, so the check comes right after it returns)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise errors.Timeout("processing time limit exceeded")
