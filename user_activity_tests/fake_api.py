"""A loopback HTTP server that behaves like JSONPlaceholder (json-server 0.16) for tests.

It serves collections the way the live service does (2-space JSON, weak ETag and 304, gzip,
`_page`/`_limit`/`_start`/`_end` paging with `X-Total-Count` and `Link`, field filters, 404 `{}`),
and a test can script the next responses of a path (status, headers, body, delay) to imitate
failures. Every request is recorded.

With `memoize=True` (the benchmarks, which serve a million records) each distinct response is
built and compressed once and then served from memory, so the server is never the bottleneck.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Scripted:
    """One canned response; `body` bytes are sent as is, `delay` seconds pass before it.

    With `trickle`, the body is sent one byte at a time, `trickle` seconds apart.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


def _page_links(base: str, page: int, limit: int, total: int, query: dict[str, list[str]]) -> str:
    last = max(1, -(-total // limit))
    if page > last:
        return ""

    def link(number: int, rel: str) -> str:
        params = {k: v[-1] for k, v in query.items() if k not in ("_page", "_limit")}
        params.update({"_page": str(number), "_limit": str(limit)})
        return f'<{base}?{"&".join(f"{k}={v}" for k, v in params.items())}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(page - 1, "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
    links.append(link(last, "last"))
    return ", ".join(links)


class FakeApi:
    def __init__(self, collections: dict[str, list[dict[str, Any]]], *, memoize: bool = False):
        self.collections = collections
        self.memoize = memoize
        self._memo: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Scripted] = {}
        # id of a response -> (that response, kept alive so the id stays its own; gzipped body)
        self._gzipped: dict[int, tuple[Scripted, bytes]] = {}
        self.requests: list[Request] = []
        self._scripts: dict[str, list[Scripted]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, path: str, *responses: Scripted) -> None:
        """The next requests of `path` get these responses, in order, before normal service."""
        with self._lock:
            self._scripts.setdefault(path, []).extend(responses)

    def reset(self, collections: dict[str, list[dict[str, Any]]] | None = None) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self._memo.clear()
            self._gzipped.clear()
            if collections is not None:
                self.collections = collections

    def _next_scripted(self, path: str) -> Scripted | None:
        with self._lock:
            queue = self._scripts.get(path)
            return queue.pop(0) if queue else None

    def respond(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Scripted:
        """What json-server answers to GET `path?query`."""
        if not self.memoize:
            response = self._respond_in_full(path, query)
        else:
            key = (path, tuple(sorted((name, tuple(values)) for name, values in query.items())))
            response = self._memo.get(key)
            if response is None:
                response = self._memo[key] = self._respond_in_full(path, query)
        etag = response.headers["ETag"]
        if response.status == 200 and headers.get("if-none-match") == etag:
            return Scripted(304, b"", {"ETag": etag, "Cache-Control": "no-cache"})
        return response

    def gzipped(self, response: Scripted) -> bytes:
        # json-server's compression middleware uses zlib's default level, 6
        if not self.memoize:
            return gzip.compress(response.body, compresslevel=6)
        cached = self._gzipped.get(id(response))
        if cached is None or cached[0] is not response:
            cached = self._gzipped[id(response)] = (
                response,
                gzip.compress(response.body, compresslevel=6),
            )
        return cached[1]

    def keep_gzipped_only(self) -> None:
        """Frees every memoized response's plain body, keeping it gzipped (the benchmark server).

        Those responses are then always sent gzipped, whatever the client accepts: the
        benchmark's clients all use requests, which asks for gzip. With `forget_records()` too,
        a server of 10,000,000 posts holds ~1 GB of gzipped pages instead of ~20 GB.
        """
        with self._lock:
            for key, response in self._memo.items():
                if response.body and "Content-Encoding" not in response.headers:
                    headers = {**response.headers, "Content-Encoding": "gzip"}
                    self._memo[key] = Scripted(response.status, self.gzipped(response), headers)
            self._gzipped.clear()

    def forget_records(self) -> None:
        """Drops the collections: from then on only memoized requests are answered, others 404."""
        with self._lock:
            self.collections = {}

    def _respond_in_full(self, path: str, query: dict[str, list[str]]) -> Scripted:
        """The 200 or 404 response to `path?query`, before any conditional request."""
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in self.collections or len(parts) > 2:
            return _json_response(404, {})
        records = self.collections[parts[0]]
        if len(parts) == 2:
            match = [r for r in records if str(r.get("id")) == parts[1]]
            return _json_response(200, match[0]) if match else _json_response(404, {})
        for key, values in query.items():
            if not key.startswith("_"):
                records = [r for r in records if str(r.get(key)) in values]
        total = len(records)
        extra: dict[str, str] = {}

        def number(name: str) -> int | None:
            return int(query[name][-1]) if name in query else None

        page, limit, start, end = (
            number("_page"),
            number("_limit"),
            number("_start"),
            number("_end"),
        )
        if page is not None:
            limit = limit or 10
            records = records[(page - 1) * limit : page * limit]
            extra["Link"] = _page_links(self.url + path, page, limit, total, query)
        elif end is not None:
            records = records[start or 0 : end]
        elif limit is not None:
            records = records[start or 0 : (start or 0) + limit]
        if page is not None or limit is not None or end is not None:
            extra["X-Total-Count"] = str(total)
            extra["Access-Control-Expose-Headers"] = "X-Total-Count" + (", Link" if page else "")
        return _json_response(200, records, extra)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append(Request(parts.path, query, headers))
                response = api._next_scripted(parts.path) or api.respond(parts.path, query, headers)
                if response.delay:
                    time.sleep(response.delay)
                body = response.body
                out_headers = dict(response.headers)
                already = "Content-Encoding" in out_headers  # see keep_gzipped_only
                if body and not already and "gzip" in headers.get("accept-encoding", ""):
                    body = api.gzipped(response)
                    out_headers["Content-Encoding"] = "gzip"
                self.send_response(response.status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if not response.trickle:
                        self.wfile.write(body)
                    for index in range(len(body) if response.trickle else 0):
                        self.wfile.write(body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(response.trickle)

        return Handler


def _json_response(status: int, value: Any, extra: dict[str, str] | None = None) -> Scripted:
    body = json.dumps(value, indent=2, ensure_ascii=False).encode()
    digest = hashlib.sha1(body).hexdigest()[:27]
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-cache",
        "ETag": f'W/"{len(body):x}-{digest}"',
        **(extra or {}),
    }
    return Scripted(status, body, headers)
