"""The seat map of a courtroom: which input channel of which device is which seat.

Attribution is structural: one microphone per seat, so a segment's speaker is the seat its
channel belongs to, never a guess. The map is a small TOML file kept per courtroom; for a
hearing each seat gets the name of the person actually sitting there (``with_names``).

Example::

    name = "Courtroom 3"
    device = "hw:1?channels=8&rate=48000"   # default device of every seat

    [seats.judge]
    channel = 1                  # input number as printed on the interface (1-based)
    role = "judge"
    label = "Presiding judge"

    [seats.witness]
    channel = 5
    role = "witness"             # label defaults to the role's usual name
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

# Usual seats of a courtroom and their default labels; other roles are allowed (courts differ)
# and then the label defaults to the role itself.
KNOWN_ROLES: dict[str, str] = {
    "judge": "Judge",
    "associate_judge": "Associate judge",
    "secretary": "Secretary",
    "prosecution": "Prosecution",
    "defence": "Defence",
    "plaintiff": "Plaintiff",
    "defendant": "Defendant",
    "victim": "Victim",
    "witness": "Witness stand",
    "expert": "Expert",
    "interpreter": "Interpreter",
    "bailiff": "Bailiff",
    "other": "Other",
}

_SEAT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SEAT_KEYS = {"channel", "role", "label", "device"}
_TOP_KEYS = {"name", "device", "seats"}


class SeatMapError(ValueError):
    """The seat map file is malformed; the message says where and what to fix."""


@dataclass(frozen=True)
class Seat:
    seat_id: str  # stable key, e.g. "judge", "defence-2"
    channel: int  # 1-based input number on the device
    role: str
    label: str  # what the seat is called when nobody's name is known
    device: str  # device URL the channel belongs to
    name: str | None = None  # the person sitting there in this hearing

    @property
    def index(self) -> int:
        """0-based channel index inside the device's frames."""
        return self.channel - 1

    @property
    def source_id(self) -> str:
        """The AudioChunk source id of this seat; unique within a courtroom."""
        return f"seat:{self.seat_id}"

    @property
    def speaker(self) -> str:
        """Who the stenogram says is speaking: the person's name, else the seat's label."""
        return self.name or self.label


@dataclass(frozen=True)
class SeatMap:
    name: str
    seats: tuple[Seat, ...]
    default_device: str | None = None
    path: str | None = field(default=None, compare=False)

    def devices(self) -> list[str]:
        """Device URLs in first-seen order; each gets its own Capture."""
        return list(dict.fromkeys(s.device for s in self.seats))

    def seats_on(self, device: str) -> tuple[Seat, ...]:
        return tuple(s for s in self.seats if s.device == device)

    def seat(self, seat_id: str) -> Seat:
        for s in self.seats:
            if s.seat_id == seat_id:
                return s
        raise KeyError(seat_id)

    def by_source(self, source_id: str) -> Seat | None:
        return next((s for s in self.seats if s.source_id == source_id), None)

    def with_names(self, names: Mapping[str, str | None]) -> "SeatMap":
        """The map for one hearing: ``names`` maps seat id to the person's name."""
        unknown = set(names) - {s.seat_id for s in self.seats}
        if unknown:
            raise SeatMapError(f"no such seat(s) in {self.name!r}: {', '.join(sorted(unknown))}")
        return replace(self, seats=tuple(
            replace(s, name=(names[s.seat_id] or None) if s.seat_id in names else s.name)
            for s in self.seats))

    def with_device(self, device: str) -> "SeatMap":
        """Every seat moved to one device (e.g. a replayed courtroom file instead of hw:1)."""
        return replace(self, default_device=device,
                       seats=tuple(replace(s, device=device) for s in self.seats))


def default_seat_map(channels: int, device: str, name: str = "Courtroom") -> SeatMap:
    """One seat per channel (seat-1 … seat-N), for a device nobody has mapped yet."""
    if channels < 1:
        raise SeatMapError("a device needs at least one channel")
    return SeatMap(name=name, default_device=device, seats=tuple(
        Seat(seat_id=f"seat-{i}", channel=i, role="other", label=f"Seat {i}", device=device)
        for i in range(1, channels + 1)))


def parse_seat_map(data: Mapping, *, origin: str = "<seat map>") -> SeatMap:
    """Build a SeatMap from parsed TOML; raises SeatMapError naming the offending entry."""
    extra = set(data) - _TOP_KEYS
    if extra:
        raise SeatMapError(f"{origin}: unknown top-level key(s): {', '.join(sorted(extra))}")
    name = data.get("name", "Courtroom")
    default_device = data.get("device")
    if default_device is not None and (not isinstance(default_device, str) or not default_device):
        raise SeatMapError(f"{origin}: 'device' must be a non-empty string")
    raw = data.get("seats")
    if not isinstance(raw, Mapping) or not raw:
        raise SeatMapError(f"{origin}: needs at least one [seats.<id>] table")
    seats: list[Seat] = []
    used: dict[tuple[str, int], str] = {}
    for seat_id, spec in raw.items():
        where = f"{origin}: [seats.{seat_id}]"
        if not _SEAT_ID.match(seat_id):
            raise SeatMapError(f"{where}: seat id must be lower-case letters, digits, '-' or '_'")
        if not isinstance(spec, Mapping):
            raise SeatMapError(f"{where}: must be a table")
        extra = set(spec) - _SEAT_KEYS
        if extra:
            raise SeatMapError(f"{where}: unknown key(s): {', '.join(sorted(extra))}")
        channel = spec.get("channel")
        if not isinstance(channel, int) or isinstance(channel, bool) or channel < 1:
            raise SeatMapError(f"{where}: 'channel' must be an input number >= 1 (1-based)")
        role = spec.get("role", seat_id)
        if not isinstance(role, str) or not role:
            raise SeatMapError(f"{where}: 'role' must be a non-empty string")
        label = spec.get("label") or KNOWN_ROLES.get(role, role.replace("_", " ").capitalize())
        device = spec.get("device", default_device)
        if not isinstance(device, str) or not device:
            raise SeatMapError(f"{where}: no 'device' here and no default 'device' at the top")
        if (device, channel) in used:
            raise SeatMapError(f"{where}: channel {channel} of {device} is already seat "
                               f"{used[(device, channel)]!r}")
        used[(device, channel)] = seat_id
        seats.append(Seat(seat_id=seat_id, channel=channel, role=role, label=str(label),
                          device=device))
    return SeatMap(name=str(name), seats=tuple(seats), default_device=default_device, path=origin)


def load_seat_map(path: str | Path) -> SeatMap:
    """Read a courtroom's seat map from a TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeatMapError(f"seat map not found: {p}") from None
    except tomllib.TOMLDecodeError as e:
        raise SeatMapError(f"{p}: not valid TOML: {e}") from None
    return parse_seat_map(data, origin=str(p))


def dump_seat_map(seat_map: SeatMap) -> str:
    """TOML text for a seat map (what the simulator writes next to its WAV)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [f"name = {q(seat_map.name)}"]
    if seat_map.default_device:
        lines.append(f"device = {q(seat_map.default_device)}")
    for s in seat_map.seats:
        lines += ["", f"[seats.{s.seat_id}]", f"channel = {s.channel}", f"role = {q(s.role)}",
                  f"label = {q(s.label)}"]
        if s.device != seat_map.default_device:
            lines.append(f"device = {q(s.device)}")
    return "\n".join(lines) + "\n"
