"""``/`` (landing page) and ``/docs`` (Swagger UI from the installed package, nothing from a CDN)."""

from __future__ import annotations

import re


def test_landing_page_links_and_health(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    for href in ("/inbox", "/dashboard", "/docs", "/openapi.json", "/healthz", "/readyz"):
        assert f'href="{href}"' in html
    assert re.search(r"Version [\w.+-]+ · store sqlite: ready", html)


def test_docs_renders_the_openapi_document_from_local_files(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not re.findall(r"(?:src|href)=\"https?://", html)  # every asset from this origin
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="(/docs/[^"]+)"', html):
        with client.get(asset) as got:  # a file response holds the file open until closed
            assert got.status_code == 200 and got.data, asset
    assert b"/openapi.json" in client.get("/docs/init.js").data
    assert client.get("/docs/static/index.html").status_code == 404  # only the assets it needs
    assert client.get("/openapi.json").json["paths"]
