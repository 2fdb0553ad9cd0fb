"""Public disclosure (信息公开): purchase announcements, awards, the money paid, the OCDS releases
and their feed — without login.

Government purchase of services is made public (《政府购买服务管理办法》). These routes take no
token and name no actor to the projects service: its public entrypoints read only published
projects' public fields (``projects.public_record``). Each answer is rate-limited per client
address and cacheable (``gateway.visitors``: ``ETag``, ``If-None-Match`` → 304,
``Cache-Control: public``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from gateway import visitors
from gateway.http import PREFIX, PUBLIC, Call, api
from gateway.routes.identity import client_address
from kit.clock import utcnow
from projects import public_schemas as schemas

TAG = "Disclosure"
FEED = "/public/ocds/releases"
STATUSES = {
    304: "Not modified: `If-None-Match` holds the answer's current `ETag`",
    429: "Too many requests from this client address (TOO_MANY_REQUESTS); `Retry-After` says "
    "how many seconds to wait",
}


class DisclosureRoutes:
    def _disclose(self, call: Call, method: str, *args: Any) -> Response:
        """Count the request against its address (429 past the limit), ask the projects
        service's public entrypoint, answer cacheably."""
        self._admit_visitor(call)
        return self._cacheable(call, self.projects.call(method, *args))

    def _admit_visitor(self, call: Call) -> None:
        address = client_address(call.request, int(self.config.get("TRUSTED_PROXIES") or 0))
        limit = int(self.config.get("PUBLIC_RATE_LIMIT") or visitors.DEFAULT_RATE_LIMIT)
        visitors.admit(self.db, address, limit, utcnow())

    def _cacheable(self, call: Call, payload: Any) -> Response:
        max_age = int(self.config.get("PUBLIC_MAX_AGE") or visitors.DEFAULT_MAX_AGE)
        return visitors.cacheable(call.request, payload, max_age)

    def _url(self, call: Call, path: str) -> str:
        return call.request.host_url.rstrip("/") + PREFIX + path

    @api(
        "GET",
        "/public/projects",
        summary="List purchase announcements (public)",
        tag=TAG,
        roles=PUBLIC,
        query=schemas.AnnouncementFilters,
        response=schemas.AnnouncementPage,
        statuses=STATUSES,
    )
    def public_projects(self, call: Call) -> Any:
        """Every published project (a draft never): title, purchasing federation, category,
        model, budget (fen), period, status, publication date. No login."""
        return self._disclose(call, "public_projects", call.query)

    @api(
        "GET",
        "/public/projects/{project_id}",
        summary="Read a purchase announcement (public)",
        tag=TAG,
        roles=PUBLIC,
        response=schemas.PublicProjectOut,
        statuses=STATUSES,
    )
    def public_project(self, call: Call) -> Any:
        """The announcement, its award once awarded (the contractor, the amount, the date),
        and the money paid so far with each tranche's payment. A project never published is
        a 404."""
        return self._disclose(call, "public_project", call.path["project_id"])

    @api(
        "GET",
        "/public/projects/{project_id}/ocds",
        summary="OCDS release package of a project (public)",
        tag=TAG,
        roles=PUBLIC,
        statuses=STATUSES,
    )
    def public_release(self, call: Call) -> Any:
        """The contracting process as an OCDS 1.1.5 release package (amounts in yuan). It
        names no tenderer: only the winner, as supplier, once awarded."""
        project_id = call.path["project_id"]
        uri = self._url(call, f"/public/projects/{project_id}/ocds")
        return self._disclose(call, "public_release", project_id, uri)

    @api(
        "GET",
        "/public/awards",
        summary="List awards (public)",
        tag=TAG,
        roles=PUBLIC,
        query=schemas.AwardFilters,
        response=schemas.AwardPage,
        statuses=STATUSES,
    )
    def public_awards(self, call: Call) -> Any:
        """Each award of a published project: the contractor's organization, the amount
        (fen), the date, the contract's state and the money paid so far."""
        return self._disclose(call, "public_awards", call.query)

    @api(
        "GET",
        FEED,
        summary="OCDS feed of every public release (public)",
        tag=TAG,
        roles=PUBLIC,
        query=schemas.FeedFilters,
        statuses=STATUSES,
    )
    def public_releases(self, call: Call) -> Any:
        """One OCDS 1.1.5 release package per page, a release per published project, oldest
        publication first (new ones are added at the end); `links.next` is the next page's
        URL, absent on the last page."""
        self._admit_visitor(call)
        given = {k: v for k, v in call.query.items() if k in ("limit", "cursor")}
        here = self._url(call, FEED) + (f"?{urlencode(given)}" if given else "")
        answer = self.projects.call("public_releases", given, here)
        package = answer["package"]
        if answer.get("next_cursor"):
            following = {**given, "cursor": answer["next_cursor"]}
            package["links"] = {"next": self._url(call, FEED) + "?" + urlencode(following)}
        return self._cacheable(call, package)
