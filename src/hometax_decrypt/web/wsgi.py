"""WSGI entry point: ``hometax_decrypt.web.wsgi:app`` (gunicorn, uWSGI)."""

import gc

from . import create_app

app = create_app()


def _running_under_uwsgi() -> bool:
    try:
        import uwsgi  # noqa: F401  (exists only inside a uWSGI process)
    except ImportError:
        return False
    return True


if _running_under_uwsgi():
    # uWSGI imports this module in its master and then forks the workers, with no hook in between:
    # freeze here what gunicorn freezes in its pre_fork hook (deploy/gunicorn.conf.py), so that a
    # worker's collections never scan, nor copy by touching, the master's long-lived objects.
    gc.freeze()
