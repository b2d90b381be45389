"""Read a document's bytes: the one module that reads input (bytes, a path or a binary file object).

Both the PDF reader (:mod:`hometax_decrypt.document.pdf`) and the timestamp verifier
(:mod:`hometax_decrypt.timestamp`) start here, so neither needs the other to read a file.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from .. import errors
from .limits import Limits, resolve

Source = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


def read_source(source: Source, limits: Limits | None = None) -> bytes:
    """Return the document's bytes, refusing more than the input limit without reading it all."""
    lim = resolve(limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fh:
                data = fh.read(lim.max_input_bytes + 1)
        except (FileNotFoundError, IsADirectoryError):  # the caller's mistake, not a damaged file
            raise errors.UsageError("no such file") from None
        except OSError:  # the path is the caller's own; the OS message may echo it
            raise errors.Damaged("cannot read the file") from None
    elif hasattr(source, "read"):
        data = source.read(lim.max_input_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise errors.UsageError("the file object must be opened in binary mode")
        data = bytes(data)
    else:
        raise errors.UsageError("source must be bytes, a path or a binary file object")
    if len(data) > lim.max_input_bytes:
        raise errors.TooLarge("input exceeds the input size limit")
    return data
