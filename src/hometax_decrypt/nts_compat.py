"""Drop-in names of the NTS 전자문서 API (Java ``com.epapyrus.api.ExportCustomFile``).

Code ported from the NTS API changes its import and nothing else::

    from hometax_decrypt.nts_compat import NTS_GetFileBufEx, NTS_GetLastError
    buf = NTS_GetFileBufEx(pdf_bytes, p_pwd, "XML", False)
    if NTS_GetLastError() == 1: ...

Return codes of ``NTS_GetLastError`` (Java API): 1 ok, 0 no NTS data, -1 wrong password,
-2 not a PDF or damaged (size limits report -2 too). The last error is kept per thread, as a
web server with threads needs. The Java class itself is offered as :class:`ExportCustomFile`.
"""

from __future__ import annotations

import os
import threading

from . import errors
from .document.pdf import extract

_state = threading.local()

OK = 1


def _set(code: int) -> None:
    _state.last = code


def _run(source, password, name, ansi) -> bytes | None:
    try:
        data = extract(source, password=password or None, part=name, encoding="euc-kr" if ansi else "utf-8")
    except errors.UsageError:
        _set(-2)
        return None
    except errors.HometaxError as exc:
        _set(exc.nts_code if exc.nts_code is not None else -2)
        return None
    _set(OK)
    return data


def NTS_GetLastError() -> int:
    """1 ok, 0 not an NTS document, -1 wrong password, -2 not a PDF or damaged."""
    return getattr(_state, "last", OK)


def NTS_GetFileBuf(szIn, szPassword, szName, bAnsi) -> bytes | None:
    """The part of the file at path ``szIn`` as bytes, or None (see NTS_GetLastError)."""
    return _run(os.fspath(szIn), szPassword, szName, bAnsi)


def NTS_GetFileBufEx(buf, szPassword, szName, bAnsi) -> bytes | None:
    """The part of the PDF given as bytes, or None (see NTS_GetLastError)."""
    return _run(bytes(buf), szPassword, szName, bAnsi)


def _write(data: bytes | None, szOut) -> int:
    """The part to ``szOut`` as the CLI writes its outputs: mode 0600, whole or not at all, never
    through a symbolic link (service/output_file.py); a target that cannot be written is -2."""
    if data is None:
        return NTS_GetLastError()
    from .service import output_file

    try:
        output_file.write(os.fspath(szOut), data)
    except errors.UsageError:
        _set(-2)
        return -2
    return OK


def NTS_GetFile(szIn, szPassword, szName, szOut, bAnsi) -> int:
    """Write the part of the file at ``szIn`` to ``szOut``; 1 on success, else the error code."""
    return _write(NTS_GetFileBuf(szIn, szPassword, szName, bAnsi), szOut)


def NTS_GetFileEx(buf, szPassword, szName, szOut, bAnsi) -> int:
    """Write the part of the PDF bytes ``buf`` to ``szOut``; 1 on success, else the error code."""
    return _write(NTS_GetFileBufEx(buf, szPassword, szName, bAnsi), szOut)


def NTS_GetFileSize(szIn, szPassword, szName, bAnsi) -> int:
    """The part's size in bytes (path or bytes input), or the error code (<= 0)."""
    src = bytes(szIn) if isinstance(szIn, (bytes, bytearray, memoryview)) else os.fspath(szIn)
    data = _run(src, szPassword, szName, bAnsi)
    return len(data) if data is not None else NTS_GetLastError()


NTS_GetFileSizeEx = NTS_GetFileSize


class ExportCustomFile:
    """The Java class, for code written against ``new ExportCustomFile()``."""

    NTS_GetFileBuf = staticmethod(NTS_GetFileBuf)
    NTS_GetFileBufEx = staticmethod(NTS_GetFileBufEx)
    NTS_GetFile = staticmethod(NTS_GetFile)
    NTS_GetFileEx = staticmethod(NTS_GetFileEx)
    NTS_GetFileSize = staticmethod(NTS_GetFileSize)
    NTS_GetLastError = staticmethod(NTS_GetLastError)
