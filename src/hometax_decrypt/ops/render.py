"""Rendering what the stack runs from its configuration: nginx's config (deploy/nginx.conf.in, with
the error pages, the allowed methods and the query allowlist of the web's contracts) and
supervisord's."""

from __future__ import annotations

import json

from ..settings import APP_TLS_NAME
from .config import DEPLOY, StackConfig

# -- rendering ------------------------------------------------------------------------------------


def _listen(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _nginx_string(text: str) -> str:
    """``text`` inside a single-quoted nginx string (no $: nginx would read a variable)."""
    if "$" in text:
        raise ValueError("a $ in an nginx error body")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _error_pages(max_body_bytes: int) -> list[dict]:
    """nginx's own error answers, generated from the one error table (errors.py, shaped by
    web/http_errors.py): body, status (one the table gives the code) and headers (Retry-After)."""
    from hometax_decrypt import errors
    from hometax_decrypt.web import http_errors

    def page(name, e, detail, statuses=()):
        spec = errors.SPECS[e["code"]]
        if e["status"] not in spec.http_statuses:
            raise ValueError(
                f"nginx answers {e['code']} with {e['status']}, which the error table does not give it"
            )
        detail_ko = None
        if e.get("body_limit"):
            detail, detail_ko = errors.body_limit_detail(max_body_bytes)
        body = json.dumps(
            http_errors.error_body(e["code"], detail, detail_ko), ensure_ascii=False, separators=(",", ":")
        )
        return {
            "name": name,
            "statuses": statuses,
            "status": e["status"],
            "body": _nginx_string(body),
            "headers": http_errors.headers_for_code(e["code"]),
        }

    pages = []
    for e in http_errors.NGINX_ERRORS:
        pages.append(page(e["name"], e, e["detail"], e["statuses"]))
        pages += [page(name, e, d) for name, d in e.get("variants", {}).items()]
    return pages


def _allow_map() -> dict[str, str]:
    """Path -> the Allow header of a 405 nginx answers itself, from the route table (the same
    methods the app's own 405 names: Flask adds HEAD to GET, and OPTIONS)."""
    from hometax_decrypt.web import routes

    return {r.path: routes.allow(r) for r in routes.ROUTES}


def _jinja():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(DEPLOY)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def render_nginx(cfg: StackConfig, user: str | None) -> str:
    from hometax_decrypt.web.inputs import query_regex

    cert, key = cfg.cert_paths()
    env = _jinja()
    params = env.get_template("proxy_params.conf.in").render(proxy_read_timeout=cfg.timeout + 5)
    redirect_host = cfg.server_name.split()[0] if cfg.server_name.split() else "localhost"
    if redirect_host in ("_", "") or "*" in redirect_host or redirect_host.startswith("~"):
        redirect_host = cfg.https_url.split("://", 1)[1].rsplit(":", 1)[0]
    return env.get_template("nginx.conf.in").render(
        user=user,
        run_dir=cfg.run_dir,
        log_dir=cfg.log_dir,
        max_body_bytes=cfg.max_body_bytes,
        body_timeout=cfg.body_timeout,
        rate=cfg.rate,
        burst=cfg.burst,
        trusted_proxies=cfg.trusted_proxies,
        conn_per_client=cfg.conn_per_client,
        conn_total=cfg.conn_total,
        sockets=[cfg.socket(i) for i in range(1, cfg.instances + 1)],
        listen=_listen(cfg.listen),
        http_port=cfg.http_port,
        https_port=cfg.https_port,
        https_port_suffix="" if cfg.https_port == 443 else f":{cfg.https_port}",
        server_name=cfg.server_name,
        redirect_host=redirect_host,
        tls_cert=cert,
        tls_key=key,
        web_root=cfg.web_root,
        metrics_allow=cfg.metrics_allow,
        proxy_params=params.strip(),
        query_regex=query_regex(),
        error_pages=_error_pages(cfg.max_body_bytes),
        allow=_allow_map(),
        upstreams=cfg.upstreams,
        upstream_scheme="https" if cfg.upstreams else "http",
        mtls_ca=cfg.mtls_ca,
        mtls_cert=cfg.mtls_cert,
        mtls_key=cfg.mtls_key,
        app_tls_name=APP_TLS_NAME,
    )
