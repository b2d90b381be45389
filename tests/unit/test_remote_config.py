"""App servers on other hosts, the configuration side: the settings refuse plain TCP, the gunicorn
config turns on TLS with required client certificates, the nginx config proxies over TLS with its own
certificate, and ops/certs.py makes what both need. tests/test_multihost.py runs it all."""

from __future__ import annotations

import runpy
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from hometax_decrypt.settings import APP_TLS_NAME, Settings

ROOT = Path(__file__).resolve().parents[2]
KEY_HASH = "a" * 64


def _stack_module():
    from hometax_decrypt.ops import stack

    return stack


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    certs = [sys.executable, "-m", "hometax_decrypt.ops.certs"]
    subprocess.run(certs + ["ca", str(d)], check=True, capture_output=True)
    for host, address in (("web", "10.0.0.1"), ("app1", "10.0.0.11")):
        subprocess.run(certs + ["host", str(d), host, "--ip", address], check=True, capture_output=True)
    return d


def _mtls(pki: Path, host: str) -> dict:
    return {
        "HOMETAX_MTLS_CA": str(pki / "ca.crt"),
        "HOMETAX_MTLS_CERT": str(pki / f"{host}.crt"),
        "HOMETAX_MTLS_KEY": str(pki / f"{host}.key"),
    }


def test_certificates_serve_both_ways_and_chain_to_the_project_ca(pki, tmp_path):
    cert = x509.load_pem_x509_certificate((pki / "app1.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert APP_TLS_NAME in san.get_values_for_type(x509.DNSName)
    assert (pki / "app1.key").stat().st_mode & 0o777 == 0o600
    assert (pki / "ca.key").stat().st_mode & 0o777 == 0o600
    # a server context with the project CA loads them (what gunicorn does)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "app1.crt"), str(pki / "app1.key"))
    # nothing is overwritten
    again = subprocess.run(
        [sys.executable, "-m", "hometax_decrypt.ops.certs", "host", str(pki), "app1"],
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "not overwritten" in again.stderr


def test_tcp_between_hosts_needs_the_certificates_and_api_keys(pki):
    assert Settings.from_env({}).tcp_problem() is None
    assert "HOMETAX_MTLS_CA" in Settings.from_env({"HOMETAX_UPSTREAMS": "10.0.0.11:9443"}).tcp_problem()
    assert "never plain TCP" in Settings.from_env({"HOMETAX_APP_LISTEN": "10.0.0.11:9443"}).tcp_problem()
    app = {"HOMETAX_APP_LISTEN": "10.0.0.11:9443", **_mtls(pki, "app1")}
    assert "HOMETAX_API_KEYS" in Settings.from_env(app).tcp_problem()
    assert Settings.from_env({**app, "HOMETAX_API_KEYS": KEY_HASH}).tcp_problem() is None
    assert Settings.from_env({**app, "HOMETAX_API_KEYS_DISABLED": "1"}).tcp_problem() is None
    bad = {"HOMETAX_UPSTREAMS": "10.0.0.11", **_mtls(pki, "web")}
    assert "host:port" in Settings.from_env(bad).tcp_problem()
    assert Settings.from_env(
        {"HOMETAX_UPSTREAMS": "10.0.0.11:9443, [fd00::2]:9443", **_mtls(pki, "web")}
    ).upstreams == ("10.0.0.11:9443", "[fd00::2]:9443")


def test_gunicorn_on_tcp_requires_client_certificates(pki, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("HOMETAX_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOMETAX_BIND", "10.0.0.11:9443")
    with pytest.raises(SystemExit, match="never plain TCP"):
        runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    for k, v in {**_mtls(pki, "app1"), "HOMETAX_API_KEYS": KEY_HASH}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit, match="HOMETAX_APP_LISTEN"):
        runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    # a systemd unit gives only HOMETAX_APP_LISTEN and the instance number
    monkeypatch.delenv("HOMETAX_BIND")
    monkeypatch.setenv("HOMETAX_APP_LISTEN", "10.0.0.11:9443")
    monkeypatch.setenv("HOMETAX_INSTANCE", "2")
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert conf["bind"] == ["10.0.0.11:9444"]
    assert conf["cert_reqs"] == ssl.CERT_REQUIRED
    assert (conf["certfile"], conf["keyfile"], conf["ca_certs"]) == (
        str(pki / "app1.crt"),
        str(pki / "app1.key"),
        str(pki / "ca.crt"),
    )

    def factory():
        raise AssertionError("the config's own context is used, made once in the master")

    ctx = conf["ssl_context"](object(), factory)
    assert ctx is conf["ssl_context"](object(), factory)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    # on a Unix socket nothing of TLS is set
    monkeypatch.delenv("HOMETAX_APP_LISTEN")
    monkeypatch.setenv("HOMETAX_BIND", "unix:/tmp/x.sock")
    assert "certfile" not in runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_nginx_proxies_to_remote_hosts_over_tls_with_its_certificate(pki, tmp_path):
    stack = _stack_module()
    env = {
        "HOMETAX_RUN_DIR": str(tmp_path),
        "HOMETAX_UPSTREAMS": "10.0.0.11:9443 10.0.0.12:9443",
        **_mtls(pki, "web"),
    }
    cfg = stack.StackConfig.from_env(env)
    assert cfg.runs_nginx and not cfg.runs_apps
    conf = stack.render_nginx(cfg, None)
    upstream = conf.split("upstream hometax_app {", 1)[1].split("}", 1)[0]
    assert "server 10.0.0.11:9443 " in upstream and "server 10.0.0.12:9443 " in upstream
    assert "unix:" not in upstream and "keepalive " not in upstream
    assert conf.count("proxy_pass https://hometax_app;") == 4
    assert "proxy_pass http://" not in conf
    for line in (
        f"proxy_ssl_certificate {pki / 'web.crt'};",
        f"proxy_ssl_certificate_key {pki / 'web.key'};",
        f"proxy_ssl_trusted_certificate {pki / 'ca.crt'};",
        "proxy_ssl_verify on;",
        f"proxy_ssl_name {APP_TLS_NAME};",
    ):
        assert line in conf
    # the local stack: Unix sockets, plain HTTP on them, and (as to remote hosts) no idle connections
    # kept: a POST written to a cached connection of an app server that just died would be a 502
    local = stack.render_nginx(stack.StackConfig.from_env({"HOMETAX_RUN_DIR": str(tmp_path)}), None)
    assert local.count("proxy_pass http://hometax_app;") == 4
    assert "keepalive " not in local.replace("keepalive_timeout", "") and "proxy_ssl" not in local


def test_roles_of_make_up(pki, tmp_path):
    stack = _stack_module()
    app = stack.StackConfig.from_env(
        {
            "HOMETAX_RUN_DIR": str(tmp_path),
            "HOMETAX_API_KEYS": KEY_HASH,
            "HOMETAX_APP_LISTEN": "10.0.0.11:9443",
            "HOMETAX_INSTANCES": "2",
            **_mtls(pki, "app1"),
        }
    )
    assert app.runs_apps and not app.runs_nginx
    assert [app.app_address(i) for i in (1, 2)] == [("10.0.0.11", 9443), ("10.0.0.11", 9444)]
    assert stack._app_env(app, 2)["HOMETAX_BIND"] == "10.0.0.11:9444"
    with pytest.raises(SystemExit, match="pyuwsgi"):
        stack.StackConfig.from_env(
            {
                "HOMETAX_RUN_DIR": str(tmp_path),
                "APP_SERVER": "uwsgi",
                "HOMETAX_API_KEYS": KEY_HASH,
                "HOMETAX_APP_LISTEN": "10.0.0.11:9443",
                **_mtls(pki, "app1"),
            }
        )
    with pytest.raises(SystemExit, match="HOMETAX_MTLS"):
        stack.StackConfig.from_env({"HOMETAX_RUN_DIR": str(tmp_path), "HOMETAX_UPSTREAMS": "10.0.0.11:9443"})
    local = stack.StackConfig.from_env({"HOMETAX_RUN_DIR": str(tmp_path)})
    assert local.runs_apps and local.runs_nginx and local.app_address(1) is None
