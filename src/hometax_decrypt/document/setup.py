"""Process-wide set-up, done by an explicit call where an adapter starts, never at import.

Importing the library must not change the process it is imported into (a payroll program's own
pikepdf settings and warning filters stay as they were). The CLI and the web app factory call
:func:`configure_process` when they start; a program that uses the library directly may call it
too, once, and should: qpdf's decoders are otherwise unbounded (see below).
"""

from __future__ import annotations

import warnings
from typing import Any

from .limits import Limits, resolve

QPDF_DECODERS = (
    "flate_max_memory",
    "png_max_memory",
    "run_length_max_memory",
    "tiff_max_memory",
    "dct_max_memory",
)
PASSWORD_NOT_NEEDED = "A password was provided, but no password was needed"


def bound_qpdf_decoding(limits: Limits | None = None) -> None:
    """qpdf inflates cross-reference and object streams itself, while opening a file, in full and
    in memory: a hostile file can make either a decompression bomb. qpdf's own memory limits for its
    decoders stop that; they are process-wide, so they are set here, and only where nobody set them
    before (set yours with ``pikepdf.settings.set_qpdf_limits`` first to keep them). The data parts
    themselves are inflated by the library, bounded by ``Limits.max_part_bytes``."""
    from pikepdf import settings

    current = settings.get_qpdf_limits()
    bound = resolve(limits).max_structure_bytes
    wanted: dict[str, Any] = {name: bound for name in QPDF_DECODERS if current[name] == 0}
    if wanted:
        settings.set_qpdf_limits(**wanted)


def quiet_unneeded_password() -> None:
    """NTS API semantics: a password given for an unencrypted file is simply not needed, so
    pikepdf's warning about it is noise on a CLI's stderr and in a server's log."""
    warnings.filterwarnings("ignore", message=PASSWORD_NOT_NEEDED, category=UserWarning)


def configure_process(limits: Limits | None = None) -> None:
    """Everything process-wide the adapters want: qpdf's decoder bounds (from
    ``limits.max_structure_bytes``) and the warning filter. Idempotent. The web app factory adds
    the CP949 multipart decoding (:func:`hometax_decrypt.web.inmemory.install`)."""
    bound_qpdf_decoding(limits)
    quiet_unneeded_password()
