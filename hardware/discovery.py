"""Which capture devices this machine has, with their channel counts and sample rates, so a
seat map can be written against what is really plugged in.

ALSA cards come from /proc/asound (USB interfaces list every capture format there); a card
that does not describe itself is opened briefly to read its default format. PulseAudio and
PipeWire sources are listed when the PyAV build has a ``pulse`` input; otherwise they are
reachable through ALSA's pulse/pipewire plugin (``alsa:pulse``). Network (RTP/AES67) streams
are not announced here: they are named by URL or SDP file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import av

from hardware.readers import DeviceError, PyAVReader, ensure_alsa_config

ASOUND = Path("/proc/asound")


@dataclass
class DeviceInfo:
    url: str  # what to put in a seat map
    description: str
    channels: list[int] = field(default_factory=list)  # capture channel counts offered
    rates: list[int] = field(default_factory=list)  # sample rates offered
    note: str = ""  # e.g. "busy" when it could not be probed

    def summary(self) -> str:
        ch = "/".join(map(str, self.channels)) or "?"
        rates = ", ".join(f"{r / 1000:g} kHz" for r in self.rates) or "?"
        extra = f"  ({self.note})" if self.note else ""
        return f"{self.url:<22} {ch:>5} ch  {rates:<24} {self.description}{extra}"


def _usb_stream_formats(card_dir: Path) -> tuple[list[int], list[int]]:
    """Channels and rates of the 'Capture:' sections of /proc/asound/cardN/streamM."""
    channels: set[int] = set()
    rates: set[int] = set()
    for stream in sorted(card_dir.glob("stream*")):
        try:
            text = stream.read_text(errors="replace")
        except OSError:
            continue
        capture = text.split("Capture:", 1)[1] if "Capture:" in text else ""
        capture = capture.split("Playback:", 1)[0]
        channels.update(int(m) for m in re.findall(r"Channels:\s*(\d+)", capture))
        for line in re.findall(r"Rates:\s*([^\n]+)", capture):
            rates.update(int(r) for r in re.findall(r"\d+", line) if int(r) >= 8000)
    return sorted(channels), sorted(rates)


def _probe(url: str, fmt: str) -> tuple[list[int], list[int], str]:
    reader = PyAVReader(url, fmt, open_timeout_s=2.0)
    try:
        reader.open()
        return [reader.channels], [reader.rate], "default format; others may be offered"
    except DeviceError as e:
        return [], [], f"could not open: {e}"
    finally:
        reader.close()


def alsa_devices(probe: bool = True) -> list[DeviceInfo]:
    found: list[DeviceInfo] = []
    if not ASOUND.is_dir():
        return found
    for card_dir in sorted(ASOUND.glob("card[0-9]*")):
        card = card_dir.name[4:]
        try:
            name = (card_dir / "id").read_text().strip()
        except OSError:
            name = f"card {card}"
        for pcm in sorted(card_dir.glob("pcm*c")):
            dev = re.sub(r"\D", "", pcm.name)
            try:
                info = (pcm / "info").read_text(errors="replace")
                m = re.search(r"^name:\s*(.*)$", info, re.M)
                desc = f"{name}: {m.group(1).strip()}" if m else name
            except OSError:
                desc = name
            url = f"hw:{card},{dev}"
            channels, rates = _usb_stream_formats(card_dir)
            note = ""
            if not channels and probe:
                channels, rates, note = _probe(url, "alsa")
            found.append(DeviceInfo(url, desc, channels, rates, note))
    return found


def enumerated(fmt: str, probe: bool = True) -> list[DeviceInfo]:
    """Devices a libavdevice input can list itself (pulse, or ALSA where /proc is hidden)."""
    if fmt not in av.formats_available:
        return []
    if fmt == "alsa":
        ensure_alsa_config()
    try:
        devices = av.enumerate_input_devices(fmt)
    except (av.FFmpegError, ValueError, OSError):
        return []
    out = []
    for d in devices:
        url = d.name if fmt == "alsa" and d.name.startswith(("hw:", "plughw:")) else f"{fmt}:{d.name}"
        channels, rates, note = _probe(d.name, fmt) if probe else ([], [], "")
        out.append(DeviceInfo(url, d.description or d.name, channels, rates, note))
    return out


def list_devices(probe: bool = True) -> list[DeviceInfo]:
    """Every capture device found, ALSA hardware first."""
    devices = alsa_devices(probe)
    seen = {d.url for d in devices}
    for d in enumerated("alsa", probe=False) + enumerated("pulse", probe):
        if d.url not in seen and d.url not in ("alsa:null", "pulse:null"):
            seen.add(d.url)
            devices.append(d)
    return devices
