"""The operator web page at /ui/: static files (HTML, one script, one stylesheet).

Everything the page shows it fetches from /v1/ with the operator's token, so it
sees exactly what the token's policies allow. The files are served with a strict
Content-Security-Policy: scripts and styles from this origin only, no inline
script, no framing, requests to this origin only.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, redirect, send_from_directory

UI_DIRECTORY = Path(__file__).with_name("ui")
UI_FILES = {"index.html", "app.js", "app.css"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def register_ui(app: Flask) -> None:
    @app.route("/", methods=["GET", "HEAD"])
    def root():
        return redirect("/ui/", code=307)  # as Vault does

    @app.route("/ui", methods=["GET", "HEAD"])
    @app.route("/ui/", defaults={"name": "index.html"}, methods=["GET", "HEAD"])
    @app.route("/ui/<name>", methods=["GET", "HEAD"])
    def ui(name: str = "index.html"):
        if name not in UI_FILES:
            abort(404)
        response = send_from_directory(UI_DIRECTORY, name, max_age=0)
        response.headers.update(SECURITY_HEADERS)
        return response
