"""Every size, count and time cap in one place.

Defaults follow the project's error table; each can be overridden by an environment variable
(``HOMETAX_MAX_INPUT_BYTES`` …) or by passing a :class:`Limits` explicitly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_input_bytes: int = 20 * MiB  # the PDF itself
    max_part_bytes: int = 16 * MiB  # one inflated data part (XML or SAM)
    max_objects: int = 200_000  # indirect objects in the PDF (counted in its xref, not its /Size)
    max_structure_bytes: int = 64 * MiB  # one xref/object stream inflated by qpdf (process-wide)
    max_xml_elements: int = 100_000  # elements + attributes of one XML part (columns of a SAM part)
    max_seconds: float = 10.0  # wall time for one document's work (enforced where measurable)

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Limits":
        env = os.environ if environ is None else environ
        kwargs = {}
        for f in fields(cls):
            raw = env.get("HOMETAX_" + f.name.upper())
            if raw:
                kwargs[f.name] = float(raw) if f.type in ("float", float) else int(raw)
        return cls(**kwargs)


DEFAULT = Limits()


def resolve(limits: Limits | None) -> Limits:
    return limits if limits is not None else Limits.from_env()


class Deadline:
    """Wall-time budget of one document's work, checked between steps (native code such as qpdf's
    parser cannot be interrupted, so the check comes right after it returns)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            from .errors import TooLarge

            raise TooLarge("processing time limit exceeded")
