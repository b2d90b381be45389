"""The ``hometax-decrypt`` command line (an adapter: it parses arguments, calls the service layer and
renders what it returns)."""

from .commands import main

__all__ = ["main"]
