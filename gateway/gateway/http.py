"""HTTP plumbing of the gateway: routes, request parsing, JSON responses, error bodies.

``@api(...)`` declares a route once: the nameko ``@http`` entrypoint, who may call it, the
schemas that document (and, for the gateway's own routes, validate) it, whether it honours
``Idempotency-Key``. The OpenAPI document is generated from the same declarations.
Every response — including 404/405 from routing and errors raised anywhere — is JSON.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from typing import Any

import eventlet
from marshmallow import Schema, ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from gateway.console import ConsoleFiles
from gateway.errors import (
    BadRequest,
    Forbidden,
    HttpError,
    PayloadTooLarge,
    ServiceTimeout,
    UnsupportedMediaType,
    ValidationFailed,
    describe,
    error_body,
)
from gateway.idempotency import LATE_ANSWER_WAIT, fingerprint
from gateway.rpc import DEFAULT_TIMEOUT as DEFAULT_RPC_TIMEOUT
from gateway.rpc import ServiceClient
from language.actor import ROLES, Actor

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
JSON_TYPE = "application/json; charset=utf-8"
#: ``roles=PUBLIC``: the route answers without a token (log in, health, the API document)
PUBLIC = None
#: every role that works in the platform's workflows (the service scopes what each one sees);
#: not the volunteer (her own record only) nor the auditor (the audit trail only), who get a
#: route only where it names them
WORKERS = ("admin", "federation_staff", "contractor", "finance_officer", "ops", "team_leader")
#: anybody signed in, whatever the role: who am I, change my password
SIGNED_IN = ROLES
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: a client's X-Request-Id is kept when it looks like one (else the gateway makes one)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: an idempotent request is answered this long after the RPC deadline at the latest
ANSWER_MARGIN = 0.5


@dataclass(frozen=True)
class StreamedBody:
    """A route that reads its body as a stream (a CSV upload) instead of a JSON object.

    ``limit_key`` names the gateway config key of its own size limit (``default_limit`` when
    unset); a larger body is refused with 413, before reading when its length is declared,
    else as soon as the stream passes the limit.
    """

    media_types: tuple[str, ...]
    limit_key: str
    default_limit: int


class BodyStream(io.RawIOBase):
    """The request body as a readable byte stream that counts and refuses what exceeds the
    limit. Nothing is read before the handler reads."""

    def __init__(self, source: Any, limit: int) -> None:
        super().__init__()
        self._source = source
        self.limit = limit
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._source is None:
            return 0
        # one byte past the limit tells "too large" from "exactly the limit"
        wanted = min(len(buffer), self.limit + 1 - self.bytes_read)
        data = self._source.read(wanted) if wanted > 0 else b""
        self.bytes_read += len(data)
        if self.bytes_read > self.limit:
            raise PayloadTooLarge(
                f"the body exceeds the limit of {self.limit} bytes", limit=self.limit
            )
        buffer[: len(data)] = data
        return len(data)


@dataclass
class Route:
    name: str
    method: str
    path: str
    summary: str
    tag: str
    roles: tuple[str, ...] | None
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    idempotent: bool
    validate_body: bool
    description: str = ""
    stream: StreamedBody | None = None
    #: statuses this route answers besides its success and the usual errors, each with what
    #: it means here (an error's body is the usual error body; below 400 there is none)
    statuses: dict[int, str] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        return self.roles is None

    @property
    def url_rule(self) -> str:
        return PREFIX + re.sub(r"\{(\w+)\}", r"<\1>", self.path)


@dataclass(frozen=True)
class RequestActor(Actor):
    """The signed-in person of a request, with where the request came from: every RPC's actor
    mapping carries ``request`` (client address, request id) so that a service's audit record
    says where an act came from. Services read the usual fields and ignore the rest."""

    client_address: str = "unknown"
    request_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "request": {"client_address": self.client_address, "request_id": self.request_id},
        }

    @property
    def plain(self) -> Actor:
        return Actor(self.user_id, self.username, self.role, self.organization_id)


def client_address(request: Request, trusted_proxies: int) -> str:
    """The address that sent the request: the peer's, or with ``trusted_proxies`` proxies in
    front, the one the nearest of them saw (``X-Forwarded-For`` read from the right, so a
    client cannot name itself)."""
    forwarded = [
        part.strip()
        for part in request.headers.get("X-Forwarded-For", "").split(",")
        if part.strip()
    ]
    if trusted_proxies > 0 and len(forwarded) >= trusted_proxies:
        return forwarded[-trusted_proxies]
    return request.remote_addr or "unknown"


def request_address(service: Any, request: Request) -> str:
    return client_address(request, int(service.config.get("TRUSTED_PROXIES") or 0))


@dataclass
class Call:
    """What a route handler receives besides ``self``."""

    request: Request
    actor: Actor | None
    body: dict[str, Any] | None
    query: dict[str, Any]
    path: dict[str, str]
    #: the body, for a route declared with ``stream=``: read it, nobody else has
    stream: BodyStream | None = None
    #: the request's id (``X-Request-Id``), as audit records name it
    request_id: str = ""


ROUTES: list[Route] = []


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    text = payload if isinstance(payload, str) else dumps(payload)
    return Response(text, status=status, content_type=JSON_TYPE, headers=headers)


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def error_response(exc: BaseException, request_id: str | None = None) -> Response:
    status, code, message, details = describe(exc)
    headers = {"X-Request-Id": request_id} if request_id else {}
    headers.update(getattr(exc, "headers", None) or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="jinguo"'
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response(status, error_body(code, message, details), headers)


#: on every answer: browsers take the declared content type, never a guessed one
NOSNIFF = ("X-Content-Type-Options", "nosniff")
#: an API answer holds personal data or money: no cache (browser or proxy) keeps a copy; a
#: route that allows revalidation sets its own (a project: ``private, no-cache`` and its ETag)
NO_STORE = "no-store"


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, with routing errors (404, 405) answered in the API's error body,
    ``X-Content-Type-Options: nosniff`` on every answer; a GET for a path outside the API that
    no route serves is the web console's."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        container = getattr(server, "container", None)
        config = getattr(container, "config", None) or {}
        self.console = ConsoleFiles(config.get("CONSOLE_DIR") or None)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if not any(name.lower() == NOSNIFF[0].lower() for name, _ in headers):
                headers.append(NOSNIFF)
            return start_response(status, headers, *exc_info)

        return self.route(environ, start)

    def route(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except RequestRedirect as redirect:
            return redirect(environ, start_response)
        except NotFound:
            if self.console.handles(request):
                return self.console.respond(request)(environ, start_response)
            return json_response(404, error_body("NOT_FOUND", f"no route {request.path}"))(
                environ, start_response
            )
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            response = json_response(
                405,
                error_body(
                    "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here; use {allowed}"
                ),
                {"Allow": allowed},
            )
            return response(environ, start_response)
        except HTTPException as exc:
            code = "NOT_FOUND" if exc.code == 404 else "HTTP_ERROR"
            message = f"no route {request.path}" if exc.code == 404 else str(exc.description)
            return json_response(exc.code or 500, error_body(code, message))(
                environ, start_response
            )
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


class ApiServer(WebServer):
    def get_wsgi_app(self) -> Any:
        return JsonWsgiApp(self)


class ApiEntrypoint(HttpRequestHandler):
    server = ApiServer()

    def response_from_exception(self, exc: Exception) -> Response:
        return error_response(exc)


def api(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    roles: tuple[str, ...] | None,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    idempotent: bool = False,
    validate_body: bool = False,
    stream: StreamedBody | None = None,
    statuses: dict[int, str] | None = None,
) -> Callable:
    """Declare an API route. ``roles`` is required (deny by default): the roles that may call
    it, ``WORKERS`` for every workflow role, ``SIGNED_IN`` for anybody signed in, or ``PUBLIC``
    (no token needed); ``stream`` hands the handler the body as a byte stream (``call.stream``)
    instead of parsed JSON; ``statuses`` documents what the route answers besides its success
    and the usual errors."""

    if roles is not None and (
        not isinstance(roles, tuple) or not roles or not set(roles) <= set(ROLES)
    ):
        raise TypeError(f"{method} {path}: roles must be a non-empty tuple of {ROLES} or PUBLIC")

    def decorator(handler: Callable) -> Callable:
        route = Route(
            name=handler.__name__,
            method=method,
            path=path,
            summary=summary,
            tag=tag,
            roles=roles,
            body=body,
            query=query,
            response=response,
            status=status,
            idempotent=idempotent,
            validate_body=validate_body,
            description=(handler.__doc__ or "").strip(),
            stream=stream,
            statuses=dict(statuses or {}),
        )
        ROUTES.append(route)

        def endpoint(self: Any, request: Request, **path_values: str) -> Response:
            return serve(self, route, handler, request, path_values)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return ApiEntrypoint.decorator(method, route.url_rule)(endpoint)

    return decorator


def serve(
    service: Any, route: Route, handler: Callable, request: Request, path: dict[str, str]
) -> Response:
    """Authenticate, authorise, parse, call the handler, keep idempotent responses."""
    request_id = request_id_of(request)
    actor = None
    try:
        if not route.public:
            actor = RequestActor(
                *astuple(service.auth.authenticate(request.headers.get("Authorization"))),
                client_address=request_address(service, request),
                request_id=request_id,
            )
            if actor.role not in route.roles:
                raise Forbidden(
                    f"a {actor.role} may not {route.summary[0].lower()}{route.summary[1:]}",
                    code="ROLE_NOT_ALLOWED",
                    role=actor.role,
                    allowed_roles=list(route.roles or ()),
                )
        stream = None
        if route.stream is not None:
            stream = open_body_stream(request, route.stream, service.config)
            raw, body = b"", None
        else:
            raw = (
                read_body(request, service.max_body_bytes)
                if route.method in ("POST", "PATCH", "PUT")
                else b""
            )
            body = parse_json_object(raw) if route.method in ("POST", "PATCH", "PUT") else None
        if route.validate_body and route.body is not None:
            try:
                body = route.body().load(body or {})
            except ValidationError as exc:
                raise ValidationFailed(
                    "the request body does not match the schema", fields=exc.messages
                ) from None
        call = Call(
            request=request,
            actor=actor,
            body=body,
            query=request.args.to_dict(),
            path=path,
            stream=stream,
            request_id=request_id,
        )
        key = request.headers.get("Idempotency-Key")
        if route.idempotent and key is not None and actor is not None:
            response = serve_once(
                service, route, handler, call, (actor.user_id, key), raw, request_id
            )
        else:
            response, _ = respond(service, route, handler, call, request_id)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error body
        audit_refusal(service, request, actor, exc, request_id)
        response = error_response(exc, request_id)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = NO_STORE
    return response


def request_id_of(request: Request) -> str:
    """The client's ``X-Request-Id`` when it is a sane token (it goes into audit records and
    logs), else a new one."""
    given = request.headers.get("X-Request-Id") or ""
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def audit_refusal(
    service: Any, request: Request, actor: Actor | None, exc: BaseException, request_id: str
) -> None:
    """A request refused with 401 or 403 leaves one record in the gateway's audit log (unless
    the act that refused it recorded it already: a failed login). A record that cannot be
    written is logged; the refusal stands."""
    status, code, _message, _details = describe(exc)
    if status not in (401, 403) or getattr(exc, "audited", False):
        return
    record = getattr(service, "record_refusal", None)
    if record is None:
        return
    try:
        record(request, actor or getattr(exc, "actor", None), status, code, request_id)
    except Exception:
        log.exception("could not record the refusal of %s %s", request.method, request.path)
    exc.audited = True  # type: ignore[attr-defined]


def respond(
    service: Any, route: Route, handler: Callable, call: Call, request_id: str
) -> tuple[Response, Exception | None]:
    """The handler's answer as a response (an error's too), and the error if it failed."""
    try:
        result = handler(service, call)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error body
        audit_refusal(service, call.request, call.actor, exc, request_id)
        return error_response(exc, request_id), exc
    if isinstance(result, Response):  # a route that answers other than JSON (CSV)
        result.headers["X-Request-Id"] = request_id
        return result, None
    status, payload = result if isinstance(result, tuple) else (route.status, result)
    return json_response(status, payload, {"X-Request-Id": request_id}), None


def serve_once(
    service: Any,
    route: Route,
    handler: Callable,
    call: Call,
    key: tuple[str, str],
    raw: bytes,
    request_id: str,
) -> Response:
    """An idempotent request with its ``Idempotency-Key``: replay the first response, or run
    it once and keep its response for retries.

    The handler runs in its own green thread and the client is answered at the RPC deadline
    at the latest (503 ``SERVICE_TIMEOUT``); the thread goes on waiting for the service's late
    answer (a request the service started before its deadline runs to its end) and keeps that
    outcome for the key, so a retry gets it instead of running the request a second time.
    """
    timeout = float(service.config.get("RPC_TIMEOUT") or DEFAULT_RPC_TIMEOUT)
    stored = service.idempotency.reserve(
        *key, fingerprint(call.request.method, call.request.path, raw), wait=timeout
    )
    if stored is not None:
        return json_response(
            stored.status,
            stored.body,
            {"Idempotent-Replayed": "true", "X-Request-Id": request_id},
        )
    for client in vars(service).values():
        if isinstance(client, ServiceClient):
            # the wait ends before the key goes stale: no retry takes it over meanwhile
            client.patience = max(LATE_ANSWER_WAIT - timeout, 0.0)
    worker = eventlet.spawn(run_and_keep, service, route, handler, call, key, request_id)
    with eventlet.Timeout(timeout + ANSWER_MARGIN, False):
        return worker.wait()
    # the client hears of the timeout now; the worker keeps the outcome when it comes
    return no_answer_yet(service, timeout, request_id)


def run_and_keep(
    service: Any,
    route: Route,
    handler: Callable,
    call: Call,
    key: tuple[str, str],
    request_id: str,
) -> Response:
    """Run an idempotent request and keep its outcome for its key, however late it comes."""
    response, error = respond(service, route, handler, call, request_id)
    try:
        service.idempotency.complete(
            *key,
            response.status_code,
            response.get_data(as_text=True),
            ambiguous=isinstance(error, ServiceTimeout),
        )
    except Exception:
        log.exception("could not keep the response for Idempotency-Key %s", key[1])
    return response


def no_answer_yet(service: Any, timeout: float, request_id: str) -> Response:
    """503 ``SERVICE_TIMEOUT`` for a request still running: its retry gets the outcome."""
    called = [c.called for c in vars(service).values() if isinstance(c, ServiceClient) and c.called]
    return error_response(
        HttpError(
            f"no answer within {timeout:g} s; the request may still complete: retry with the "
            "same Idempotency-Key to get its outcome",
            code=ServiceTimeout.code,
            status=ServiceTimeout.status,
            service=called[-1] if called else None,
            timeout=timeout,
        ),
        request_id,
    )


def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes and anything that is not JSON.

    A body of declared length is refused before it is read. A chunked body (no length) is
    read from the server's de-chunking input, one byte past the limit to tell "too large"
    from "exactly the limit"; werkzeug alone would see no length and read nothing.
    """
    length = request.content_length
    if length is not None:
        if length > limit:
            raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit}", limit=limit)
        raw = request.get_data(cache=True)
    elif (
        request.environ.get("wsgi.input_terminated")
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    ):
        raw = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes", limit=limit)
    else:
        raw = b""
    if raw and request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'no content type'}",
            content_type=request.mimetype,
        )
    return raw


def open_body_stream(request: Request, streamed: StreamedBody, config: Any) -> BodyStream:
    """The body of a streamed route, checked for its media type and declared length."""
    limit = int(config.get(streamed.limit_key) or streamed.default_limit)
    if request.mimetype not in streamed.media_types:
        raise UnsupportedMediaType(
            f"send the body as {' or '.join(streamed.media_types)}, "
            f"not {request.mimetype or 'no content type'}",
            content_type=request.mimetype,
        )
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit}", limit=limit)
    chunked = (
        request.environ.get("wsgi.input_terminated")
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )
    # the server's input stops at the declared length, or de-chunks to the end
    source = request.environ["wsgi.input"] if length is not None or chunked else None
    return BodyStream(source, limit)


def _not_json(constant: str) -> None:
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8", code="MALFORMED_JSON") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="MALFORMED_JSON",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    if not isinstance(value, dict):
        raise ValidationFailed(
            "the body must be a JSON object", fields={"_schema": ["Must be a JSON object."]}
        )
    return value
