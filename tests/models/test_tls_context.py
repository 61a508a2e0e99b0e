"""Every run's HTTP client shares one TLS context, and it still verifies certificates."""

from __future__ import annotations

import ssl

import anyio

from pytest_specbench.models._errors import http_client, tls_context


def test_clients_share_one_verifying_context() -> None:
    first, second = tls_context(), tls_context()

    assert first is second
    assert first.verify_mode is ssl.CERT_REQUIRED
    assert first.check_hostname
    assert first.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


def test_every_client_is_built_with_it() -> None:
    async def main() -> None:
        async with http_client(5.0) as client:
            pool = client._transport._pool  # type: ignore[attr-defined]
            assert pool._ssl_context is tls_context()

    anyio.run(main)
