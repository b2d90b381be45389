"""The service layer: every operation on documents with one result type, and the batch engine.

The CLI, the HTTP API and the NTS-compatible functions call these and only translate what they return.
"""

from .engine import batch, combine
from .operations import *  # noqa: F403
from .operations import __all__ as _operations_all

__all__ = list(_operations_all) + ["batch", "combine"]


def __getattr__(name: str):  # deprecated names of operations (INTERNAL_ERROR), for one release
    from . import operations

    return getattr(operations, name)
