"""Which languages a source may be transcribed in.

Kazakh hearings switch between Kazakh and Russian, sometimes within a sentence; letting Whisper
pick among all its languages turns Kazakh into Turkish or Tatar. A source is therefore set to
``kk``, ``ru`` or ``kk+ru``, and with ``kk+ru`` the language is detected per utterance between
those two only."""

from __future__ import annotations

SUPPORTED = ("kk", "ru")
SETTINGS = ("kk", "ru", "kk+ru")


def candidates(setting: str) -> tuple[str, ...]:
    """The languages allowed by a setting, e.g. ``"kk+ru"`` -> ``("kk", "ru")``."""
    parts = tuple(p.strip() for p in setting.lower().replace(",", "+").split("+") if p.strip())
    if not parts or any(p not in SUPPORTED for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"language must be one of {', '.join(SETTINGS)}, got {setting!r}")
    return parts


def validate(setting: str) -> str:
    return "+".join(candidates(setting))
