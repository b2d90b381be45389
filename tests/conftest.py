"""Fixtures shared by every test folder (unit, stack, browser): the samples' bytes, a decompression
bomb, and the real stack. Constants and helpers live in :mod:`tests.support.paths`."""

from __future__ import annotations

import pytest

from tests.support import builder
from tests.support.paths import SAMPLES
from tests.support.stack import stack  # noqa: F401  (the session's real nginx + app servers)


@pytest.fixture(scope="session")
def all_2020() -> bytes:
    return (SAMPLES / "nts-2020" / "all.pdf").read_bytes()


@pytest.fixture(scope="session")
def all_2020_password() -> bytes:
    return (SAMPLES / "nts-2020" / "all-password-1234567.pdf").read_bytes()


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return builder.bomb_pdf(1 << 30)


@pytest.fixture(scope="module")
def app():
    """The Flask app with its default configuration (the HTTP API through Flask's test client)."""
    from hometax_decrypt.web import create_app
    from hometax_decrypt.web.config import WebConfig

    return create_app(WebConfig())


@pytest.fixture()
def client(app):
    return app.test_client()
