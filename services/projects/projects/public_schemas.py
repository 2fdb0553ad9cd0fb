"""Schemas of public disclosure (信息公开): the filters a visitor gives, and the public shapes
of an announcement, an award and the OCDS feed. Every output names its fields: nothing the
public record did not select can be dumped."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from kit.fields import Id, Text
from kit.paging import MAX_LIMIT, page_schema, sort_param, total_field
from projects.domain.disclosure import PUBLIC_STATUSES
from projects.domain.project import CATEGORIES, MODELS
from projects.public_record import ANNOUNCEMENT_ORDER, AWARD_ORDER
from projects.schemas import Strict

#: releases per page of the OCDS feed, unless ``limit`` says otherwise
FEED_PAGE = 100


def _q() -> Text:
    return Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "title contains (简/繁 alike)"},
    )


def _limit() -> fields.Integer:
    return fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))


class AnnouncementFilters(Strict):
    q = _q()
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    model = fields.String(validate=validate.OneOf(MODELS))
    status = fields.String(validate=validate.OneOf(PUBLIC_STATUSES))
    purchaser_id = Id()
    limit = _limit()
    cursor = fields.String(load_default=None)
    sort = sort_param(ANNOUNCEMENT_ORDER)


class AwardFilters(Strict):
    q = _q()
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    purchaser_id = Id()
    contractor_id = Id()
    limit = _limit()
    cursor = fields.String(load_default=None)
    sort = sort_param(AWARD_ORDER)


class FeedFilters(Strict):
    limit = fields.Integer(load_default=FEED_PAGE, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class AnnouncementOut(Schema):
    """A purchase announcement (采购公告) as listed."""

    id = fields.String()
    title = fields.String()
    category = fields.String()
    model = fields.String()
    purchaser_id = fields.String()
    purchaser_name = fields.String(allow_none=True)
    budget = fields.Integer(metadata={"description": "fen (分)"})
    starts_on = fields.Date()
    ends_on = fields.Date()
    status = fields.String(metadata={"description": ", ".join(PUBLIC_STATUSES)})
    published_at = fields.AwareDateTime()


AnnouncementPage = page_schema(AnnouncementOut)


class PublicIndicatorOut(Schema):
    name = fields.String()
    target = fields.Float()
    unit = fields.String(allow_none=True)


class AwardOut(Schema):
    """An award notice (成交公告): the contractor, the amount, the date."""

    contract_id = fields.String()
    project_id = fields.String()
    project_title = fields.String()
    category = fields.String()
    purchaser_id = fields.String()
    purchaser_name = fields.String(allow_none=True)
    contractor_id = fields.String()
    contractor_name = fields.String(allow_none=True)
    amount = fields.Integer(metadata={"description": "the contract amount, fen"})
    awarded_at = fields.AwareDateTime()
    status = fields.String(metadata={"description": "active, completed, cancelled, terminated"})
    amount_paid = fields.Integer(metadata={"description": "paid so far, fen"})


AwardPage = page_schema(AwardOut)


class TrancheOut(Schema):
    seq = fields.Integer()
    title = fields.String()
    due_on = fields.Date()
    amount = fields.Integer(metadata={"description": "the tranche, fen"})
    paid_amount = fields.Integer(metadata={"description": "paid of it, fen"})
    paid_at = fields.AwareDateTime(allow_none=True)


class PublicProjectOut(AnnouncementOut):
    """One published project: the announcement, its award once awarded, the money paid."""

    description = fields.String(allow_none=True)
    target_beneficiaries = fields.Integer()
    indicators = fields.List(fields.Nested(PublicIndicatorOut))
    amount_paid = fields.Integer(metadata={"description": "paid so far, fen"})
    closed_at = fields.AwareDateTime(allow_none=True)
    award = fields.Nested(AwardOut, allow_none=True)
    tranches = fields.List(fields.Nested(TrancheOut))


class FeedPageOut(Schema):
    """What the projects service answers for a page of the feed (the gateway adds the links)."""

    package = fields.Dict()
    next_cursor = fields.String(allow_none=True)
    total = total_field()
