"""Re-transcription by a second model: start it, follow it, and decide its proposals."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import INT, OPT_STR, STR, record
from hearing.services import retranscription

PROPOSAL = record("TranscriptProposal", {
    "seq": INT, "segment_id": STR, "source_id": STR, "start_ms": INT, "end_ms": INT,
    "text": {"type": "string", "description": "the segment's current text"},
    "proposed": {"type": "string", "description": "what the second model heard"},
    "model": STR, "at": STR})
PROPOSALS = {"type": "array", "items": PROPOSAL}
JOB = record("Retranscription", {
    "state": {"enum": ["none", "queued", "running", "done", "failed"]},
    "progress": {"type": "number", "minimum": 0, "maximum": 1},
    "startable": {"type": "boolean",
                  "description": "the caller may start one now (a model is configured, the "
                                 "hearing is closed, none is under way)"},
    "model": OPT_STR, "source_id": OPT_STR, "error": OPT_STR,
    "sources_done": {"type": "array", "items": {"type": ["string", "null"]}},
    "proposals": PROPOSALS})
DECISION = schema("ProposalDecision", {
    "type": "object", "additionalProperties": False, "required": ["accept"],
    "properties": {"accept": {"type": "boolean"},
                   "reason": {"type": "string", "maxLength": 1000}}})
DECIDED = record("ProposalDecided", {
    "revision": {"type": "object"}, "head_hash": STR, "proposals": PROPOSALS})


@endpoint("GET", "/api/hearings/{hearing_id}/retranscription",
          summary="The re-transcription by the second model: progress and open proposals",
          response=JOB)
async def get_retranscription(call: Call, hearing_id: int) -> dict:
    return await retranscription.status(call.state, call.me, hearing_id)


@endpoint("POST", "/api/hearings/{hearing_id}/retranscription",
          summary="Re-transcribe a closed hearing's recordings with the second model",
          response=JOB, status=202,
          responses={409: "not closed, already under way, or no model configured"})
async def start_retranscription(call: Call, hearing_id: int) -> dict:
    return await retranscription.request(call.state, call.me, hearing_id)


@endpoint("POST", "/api/hearings/{hearing_id}/retranscription/proposals/{seq}",
          summary="Accept (a correction naming the model) or reject a proposal",
          body=DECISION, response=DECIDED,
          responses={422: "no such open proposal"})
async def decide_proposal(call: Call, hearing_id: int, seq: int, body: dict) -> dict:
    return await retranscription.decide(call.state, call.me, hearing_id, seq, body["accept"],
                                        body.get("reason", ""))
