"""TLS pre-flight: a clear error for a wrong CA, host name or protocol, before any client."""

from __future__ import annotations

import socket
import ssl

from stream.config import Settings
from stream.errors import BrokerUnavailable

# A TLS handshake takes milliseconds; a plaintext listener never answers one.
TLS_CHECK_TIMEOUT_S = 5.0


class TlsError(BrokerUnavailable):
    """TLS to the brokers cannot work with these settings: wrong CA, host or protocol."""


def check_tls(settings: Settings) -> None:
    """Fail fast, naming the cause, when TLS to the first bootstrap server cannot work.

    kafka-python only retries (and, TLS against plaintext, hangs), so a wrong CA or host
    name would otherwise show as "Unable to bootstrap" after 30 s. An unreachable
    broker is left to the clients' own retries.

    Raises:
        TlsError: the certificate was refused, or the listener does not speak TLS.
    """
    if not settings.security_protocol.endswith("SSL"):
        return
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
        context.check_hostname = settings.ssl_check_hostname
        if settings.ssl_certfile:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot load the TLS files (GEOWIRE_SSL_CAFILE, _CERTFILE, "
                       f"_KEYFILE): {exc}") from exc
    try:
        raw = socket.create_connection((host, int(port)), timeout=TLS_CHECK_TIMEOUT_S)
    except (OSError, ValueError):
        return
    with raw:
        try:
            context.wrap_socket(raw, server_hostname=host).close()
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(
                f"TLS to {host}:{port}: the broker's certificate was refused: "
                f"{exc.verify_message}; check GEOWIRE_SSL_CAFILE, and that the certificate "
                f"names {host} (GEOWIRE_SSL_CHECK_HOSTNAME)"
            ) from exc
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(
                f"no TLS handshake with {host}:{port} ({exc!r}): is this listener "
                f"plaintext? GEOWIRE_SECURITY_PROTOCOL is {settings.security_protocol}"
            ) from exc
