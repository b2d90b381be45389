"""The stack's TLS certificate: the one configured, or a self-signed one made on first start."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from .config import StackConfig
from .rundir import own_subdir

# -- certificate ----------------------------------------------------------------------------------


def _own_private(key: os.stat_result, cert: os.stat_result) -> bool:
    """A key and certificate this user made: regular files of ours, the key readable by us alone."""
    uid = os.geteuid()
    return (
        stat.S_ISREG(key.st_mode)
        and stat.S_ISREG(cert.st_mode)
        and key.st_uid == uid
        and cert.st_uid == uid
        and not key.st_mode & 0o077
    )


def ensure_certificate(cfg: StackConfig) -> None:
    """The configured certificate, or the self-signed one in RUN_DIR/tls (directory 0700, key 0600,
    certificate 0644), made on first start. One found there is used again only when both are
    regular files of this user and the key is readable by nobody else; anything else (a symbolic
    link, a file of another user, a key others could read) is replaced by a new pair, written in a
    private temporary directory and renamed into place, so nothing planted is served or followed."""
    cert, key = cfg.cert_paths()
    if cfg.tls_cert:
        for p in (cert, key):
            if not p.is_file():
                raise SystemExit(f"configured TLS file not found: {p}")
        return
    own_subdir(cert.parent, 0o700)
    try:
        if _own_private(os.lstat(key), os.lstat(cert)):
            return
    except FileNotFoundError:
        pass
    names = {"localhost", cfg.server_name}
    ips = {"127.0.0.1", "::1"}
    if cfg.listen not in ("0.0.0.0", "::", "*"):
        ips.add(cfg.listen)
    with tempfile.TemporaryDirectory(dir=cert.parent, prefix=".new-") as new:  # mode 0700, ours
        new_cert, new_key = Path(new) / cert.name, Path(new) / key.name
        _make_certificate(new_cert, new_key, names, ips)
        os.chmod(new_key, 0o600)
        os.chmod(new_cert, 0o644)
        os.replace(new_key, key)  # a link at key or cert is replaced, never written through
        os.replace(new_cert, cert)


def _make_certificate(cert: Path, key: Path, names: set[str], ips: set[str]) -> None:
    san = ",".join([f"DNS:{n}" for n in sorted(names) if n and n != "_"] + [f"IP:{i}" for i in sorted(ips)])
    openssl = shutil.which("openssl")
    if not openssl:
        _certificate_with_cryptography(cert, key, names, ips)
        return
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "825",
            "-subj",
            "/CN=hometax-decrypt self-signed",
            "-addext",
            f"subjectAltName={san}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _certificate_with_cryptography(cert: Path, key: Path, names, ips) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hometax-decrypt self-signed")])
    now = datetime.datetime.now(datetime.UTC)
    alt = [x509.DNSName(n) for n in sorted(names) if n and n != "_"]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    c = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(k, hashes.SHA256())
    )
    key.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
