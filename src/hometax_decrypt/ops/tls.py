"""The stack's TLS certificate: the one configured, or a self-signed one made on first start."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .config import StackConfig

# -- certificate ----------------------------------------------------------------------------------


def ensure_certificate(cfg: StackConfig) -> None:
    cert, key = cfg.cert_paths()
    if cfg.tls_cert:
        for p in (cert, key):
            if not p.is_file():
                raise SystemExit(f"configured TLS file not found: {p}")
        return
    if cert.is_file() and key.is_file():
        return
    cert.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(cert.parent, 0o700)
    names = {"localhost", cfg.server_name}
    ips = {"127.0.0.1", "::1"}
    if cfg.listen not in ("0.0.0.0", "::", "*"):
        ips.add(cfg.listen)
    san = ",".join([f"DNS:{n}" for n in sorted(names) if n and n != "_"] + [f"IP:{i}" for i in sorted(ips)])
    openssl = shutil.which("openssl")
    if openssl:
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
    else:
        _certificate_with_cryptography(cert, key, names, ips)
    os.chmod(key, 0o600)


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
