"""Every size, count and time cap in one place.

Defaults and environment variables (``HOMETAX_MAX_INPUT_BYTES`` …) come from the one settings
object (:mod:`hometax_decrypt.settings`); pass a :class:`Limits` explicitly to override them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields

from .. import errors
from ..settings import Settings, specs

MiB = 1024 * 1024
_D = Settings()


@dataclass(frozen=True)
class Limits:
    # defaults: the settings' (one source); meanings in docs/deployment.md
    max_input_bytes: int = _D.max_input_bytes  # the PDF itself
    max_part_bytes: int = _D.max_part_bytes  # one inflated data part (XML or SAM)
    max_objects: int = _D.max_objects  # indirect objects in the PDF (counted in its xref)
    max_structure_bytes: int = _D.max_structure_bytes  # one xref/object stream inflated by qpdf
    max_xml_elements: int = _D.max_xml_elements  # elements + attributes of one XML part
    max_seconds: float = _D.max_seconds  # wall time for one document's work

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Limits":
        """The limits of the environment now (the library reads it when no limits are passed, so
        that a caller's environment applies without a restart). Only the limits' own variables
        are read on each call; their values key a cache of the parsed limits (frozen)."""
        env = os.environ if environ is None else environ
        key = (cls, tuple([env.get(name) for name in _ENV_NAMES]))
        hit = _FROM_ENV.get(key)
        if hit is None:
            hit = cls.from_settings(Settings.from_env(environ))
            if len(_FROM_ENV) >= 32:
                _FROM_ENV.clear()
            _FROM_ENV[key] = hit
        return hit


DEFAULT = Limits()
_ENV_NAMES = tuple(s.env for s in specs() if s.name in {f.name for f in fields(Limits)})
_FROM_ENV: dict = {}


def resolve(limits: Limits | None) -> Limits:
    return limits if limits is not None else Limits.from_env()


class Deadline:
    """Wall-time budget of one document's work, checked between steps (native code such as qpdf's
    parser cannot be interrupted, so the check comes right after it returns)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise errors.Timeout("processing time limit exceeded")
