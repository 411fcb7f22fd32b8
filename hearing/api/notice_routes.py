"""Notices: what was sent to whom, and its delivery status; a resend of a failed one; the
providers' delivery reports."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import INT, NOTICE, paged, record
from hearing.models import NOTICE_STATUSES
from hearing.paging import PAGE_QUERY
from hearing.services import notices

#: Header a provider's delivery report carries: the shared secret notice_report_secret.
SECRET_HEADER = "X-Delivery-Secret"
DELIVERY_REPORT = schema("DeliveryReport", {
    "type": "object", "additionalProperties": False, "required": ["provider_ref", "status"],
    "properties": {"provider_ref": {"type": "string", "minLength": 1, "maxLength": 300},
                   "status": {"enum": sorted(notices.REPORTABLE)}}})
DELIVERY_ANSWER = record("DeliveryReportAnswer", {
    "notice_id": INT, "status": {"enum": list(NOTICE_STATUSES)}})


@endpoint("GET", "/api/hearings/{hearing_id}/notices",
          summary="Notices of a hearing, newest first, with their delivery status (its staff)",
          query={**PAGE_QUERY, "status": {"enum": list(NOTICE_STATUSES)}},
          response=paged(NOTICE, "notices"), responses={404: "no such hearing"})
async def list_notices(call: Call, hearing_id: int, query: dict) -> dict:
    return await notices.list_notices(call.state, call.me, hearing_id, query)


@endpoint("POST", "/api/notices/{notice_id}/resend", summary="Send a failed notice again",
          response=NOTICE, responses={404: "no such notice", 409: "not failed"})
async def resend(call: Call, notice_id: int) -> dict:
    return await notices.resend(call.state, call.me, notice_id)


@endpoint("POST", "/api/notices/delivery", auth="none",
          summary=f"A provider's delivery report (shared secret in {SECRET_HEADER})",
          body=DELIVERY_REPORT, response=DELIVERY_ANSWER,
          responses={403: "wrong secret", 404: "no such provider_ref"})
async def delivery_report(call: Call, body: dict) -> dict:
    return await notices.delivery_report(call.state, call.request.headers.get(SECRET_HEADER),
                                         body["provider_ref"], body["status"])
