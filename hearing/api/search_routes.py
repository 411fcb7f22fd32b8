"""Search over signed stenograms, evidence transcripts and case records."""

from __future__ import annotations
