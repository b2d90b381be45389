"""WSGI entry point: ``hometax_decrypt.web.wsgi:app`` (gunicorn, uWSGI)."""

from . import create_app

app = create_app()
