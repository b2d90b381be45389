#!/usr/bin/env python3
"""The project CA and the host certificates for app servers on other hosts (mutual TLS).

    python -m hometax_decrypt.ops.certs ca DIR                                  DIR/ca.crt, DIR/ca.key
    python -m hometax_decrypt.ops.certs host DIR NAME [--ip IP]... [--dns N]...  DIR/NAME.crt, DIR/NAME.key (signed by DIR/ca.*)

Every host (the nginx host and each app host) gets one certificate from the project CA. It serves as
both a TLS server and a TLS client certificate: nginx presents its own to the app hosts, and an app
host presents its own to nginx. Each host certificate names ``hometax-app`` (the name nginx checks,
settings.APP_TLS_NAME) besides the host's own names and addresses. Keep ``ca.key`` off the servers:
it is needed only to make certificates. Keys are written with mode 0600 and never overwritten.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..settings import APP_TLS_NAME

CA_DAYS = 3650
HOST_DAYS = 825


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _refuse_existing(*paths: Path) -> None:
    for p in paths:
        if p.exists():
            raise SystemExit(f"{p} exists; not overwritten")


def make_ca(directory: Path, name: str = "hometax-decrypt project CA") -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    _refuse_existing(cert_path, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def make_host(directory: Path, name: str, ips: list[str] = (), dns: list[str] = ()) -> tuple[Path, Path]:
    """A certificate for host ``name`` signed by ``directory``'s CA."""
    if not name or "/" in name or name.startswith(".") or name == "ca":
        raise SystemExit(f"not a usable host name: {name!r}")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    _refuse_existing(cert_path, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [APP_TLS_NAME, name, *dns]
    alt = [x509.DNSName(n) for n in dict.fromkeys(names)]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in dict.fromkeys(ips)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(min(_now() + datetime.timedelta(days=HOST_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ca = sub.add_parser("ca", help="make the project CA in DIR")
    ca.add_argument("dir", type=Path)
    host = sub.add_parser("host", help="make a host certificate signed by DIR's CA")
    host.add_argument("dir", type=Path)
    host.add_argument("name")
    host.add_argument("--ip", action="append", default=[], help="an address of the host")
    host.add_argument("--dns", action="append", default=[], help="another DNS name of the host")
    args = parser.parse_args(argv)
    if args.command == "ca":
        paths = make_ca(args.dir)
    else:
        paths = make_host(args.dir, args.name, args.ip, args.dns)
    print(" ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
