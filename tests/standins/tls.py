"""A self-signed certificate for ``127.0.0.1``/``localhost``, made once per process at run time.

SDKs that force ``https://`` (simple-salesforce, zenpy's default) talk to an HTTPS stand-in that
presents this certificate; the client trusts ``ca_file`` (the certificate itself). It is made with
the ``cryptography`` package, or with the ``openssl`` command when that package is absent.
"""

from __future__ import annotations

import atexit
import datetime as dt
import ipaddress
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_paths: tuple[str, str, str] | None = None


def local_certificate() -> tuple[str, str, str]:
    """``(cert_file, key_file, ca_file)`` paths; generated on first use, deleted at exit."""
    global _paths
    with _lock:
        if _paths is None:
            _paths = _generate()
        return _paths


def _generate() -> tuple[str, str, str]:
    folder = Path(tempfile.mkdtemp(prefix="handoff-standin-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert_file, key_file)
    except ImportError:
        _with_openssl(cert_file, key_file)
    return str(cert_file), str(key_file), str(cert_file)


def _with_openssl(cert_file: Path, key_file: Path) -> None:
    if shutil.which("openssl") is None:
        raise RuntimeError("HTTPS stand-ins need the 'cryptography' package or the openssl command")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=handoff-standin",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", str(key_file), "-out", str(cert_file)],
        check=True, capture_output=True,
    )  # fmt: skip


def _with_cryptography(cert_file: Path, key_file: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "handoff-standin")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
