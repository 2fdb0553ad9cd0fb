"""The projects service's public entrypoints (信息公开): mixed into ``ProjectsService``.

They take no actor: a call names nobody, and is never taken for the system. Each runs its
use case over a ``PublicContext`` in a read-only unit of work; that context holds only the
public record (``projects.public_record``), so a draft, an application, a losing bidder or a
person cannot be reached from here whatever the payload says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit.paging import page_request, sorted_page_request
from kit.rpc import rpc
from kit.usecase import SystemClock
from projects import commands
from projects import public_schemas as schemas
from projects.context import PublicContext
from projects.handlers import disclosure
from projects.public_record import ANNOUNCEMENT_ORDER, AWARD_ORDER, FEED_ORDER, PublicRecord

ANNOUNCEMENT_FILTERS_IN = schemas.AnnouncementFilters()
AWARD_FILTERS_IN = schemas.AwardFilters()
FEED_FILTERS_IN = schemas.FeedFilters()
ANNOUNCEMENT_PAGE = schemas.AnnouncementPage()
AWARD_PAGE = schemas.AwardPage()
PUBLIC_PROJECT = schemas.PublicProjectOut()
FEED_PAGE = schemas.FeedPageOut()
CLOCK = SystemClock()


class PublicEntrypoints:
    """Mix into the projects service (it has ``db`` and ``config``)."""

    db: Any
    config: Any

    def disclose(
        self, use_case: Callable[[PublicContext, Any], Any], command: Any, dump: Callable
    ) -> Any:
        """Run a public use case in a read-only unit of work, dumped before it closes."""
        with self.db(readonly=True) as uow:
            ctx = PublicContext(
                record=PublicRecord(uow.session),
                clock=CLOCK,
                ocid_prefix=self.config.get("OCDS_OCID_PREFIX") or "ocds-jinguo",
                publisher_name=self.config.get("OCDS_PUBLISHER") or "Jinguo",
            )
            return dump(use_case(ctx, command))

    @rpc
    def public_projects(self, filters: dict[str, Any]) -> dict[str, Any]:
        loaded = ANNOUNCEMENT_FILTERS_IN.load(filters or {})
        page = sorted_page_request(loaded, ANNOUNCEMENT_ORDER)
        command = commands.ListAnnouncements(page=page, **loaded)
        return self.disclose(disclosure.list_announcements, command, ANNOUNCEMENT_PAGE.dump)

    @rpc
    def public_project(self, project_id: str) -> dict[str, Any]:
        command = commands.GetAnnouncement(str(project_id))
        return self.disclose(disclosure.get_announcement, command, PUBLIC_PROJECT.dump)

    @rpc
    def public_awards(self, filters: dict[str, Any]) -> dict[str, Any]:
        loaded = AWARD_FILTERS_IN.load(filters or {})
        page = sorted_page_request(loaded, AWARD_ORDER)
        command = commands.ListAwards(page=page, **loaded)
        return self.disclose(disclosure.list_awards, command, AWARD_PAGE.dump)

    @rpc
    def public_release(self, project_id: str, uri: str | None = None) -> dict[str, Any]:
        command = commands.PublicRelease(str(project_id), uri)
        return self.disclose(disclosure.public_release, command, _as_is)

    @rpc
    def public_releases(self, filters: dict[str, Any], uri: str | None = None) -> dict[str, Any]:
        loaded = FEED_FILTERS_IN.load(filters or {})
        page = page_request(loaded["limit"], loaded["cursor"], ordering=FEED_ORDER)
        command = commands.PublicReleases(page=page, uri=uri)
        return self.disclose(disclosure.public_releases, command, FEED_PAGE.dump)


def _as_is(result: Any) -> Any:
    return result
