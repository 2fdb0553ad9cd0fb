"""The web console's files, served by the gateway at ``/`` (the API stays under ``/api/v1``).

The console is a single-page app built by Vite into ``gateway/console/dist`` (``make
console``): hashed assets under ``/assets/`` are cached for a year (their names change with
their content), ``index.html`` is revalidated every time, and any other path that is not a
file is the app's own route (a link to ``/projects/…``), answered with ``index.html``.
Every answer carries the Content-Security-Policy (no inline scripts; Element Plus sets inline
styles) and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

#: where ``make console`` builds the console; ``CONSOLE_DIR`` in the gateway's config moves it
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "console" / "dist"

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "The web console is not built. Run `make console` (or `make run`) to build it into "
    "gateway/console/dist.\n网页控制台尚未构建：请运行 make console。\n"
)


class ConsoleFiles:
    """Answers a GET for a console path: a file of the build, or ``index.html``."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else DEFAULT_DIR

    def handles(self, request: Request) -> bool:
        """Paths of the console: everything but the API and the gateway's own endpoints."""
        path = request.path
        return (
            request.method in ("GET", "HEAD")
            and not (path == "/api" or path.startswith("/api/"))
            and path != "/metrics"
        )

    def respond(self, request: Request) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return self._headers(
                Response(NOT_BUILT, status=503, content_type="text/plain; charset=utf-8"),
                "no-store",
            )
        relative = request.path.lstrip("/")
        target = safe_join(str(self.directory), relative) if relative else None
        if target is not None and Path(target).is_file():
            cache = IMMUTABLE if relative.startswith("assets/") else "no-cache"
            return self._file(Path(target), cache)
        if relative.startswith("assets/"):
            # a missing asset is missing, not the app (a stale page asks for an old hash)
            return self._headers(
                Response("not found\n", status=404, content_type="text/plain; charset=utf-8"),
                "no-store",
            )
        return self._file(index, "no-cache")

    def _file(self, path: Path, cache: str) -> Response:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in (
            "application/javascript",
            "text/javascript",
        ):
            content_type += "; charset=utf-8"
        return self._headers(Response(path.read_bytes(), content_type=content_type), cache)

    @staticmethod
    def _headers(response: Response, cache: str) -> Response:
        response.headers["Cache-Control"] = cache
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
