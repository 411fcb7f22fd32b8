"""`courtroom devices`: the capture devices of this machine, with channels and sample rates."""

from __future__ import annotations

import json


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("devices", help="list courtroom capture devices (channels, sample rates)")
    p.add_argument("--no-probe", action="store_true",
                   help="do not open devices that do not describe themselves")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    from dataclasses import asdict

    from hardware.discovery import list_devices

    devices = list_devices(probe=not args.no_probe)
    if args.json:
        print(json.dumps([asdict(d) for d in devices], indent=1))
        return 0
    if not devices:
        print("No audio capture devices found on this machine (no ALSA cards, no PulseAudio/"
              "PipeWire sources).\nNetwork audio still works by URL, e.g. "
              "rtp://239.69.1.1:5004?channels=8&rate=48000&encoding=L24 or sdp:/path/stream.sdp;"
              "\na recorded courtroom replays with file:/path/courtroom.wav.")
        return 0
    print(f"{'DEVICE':<22} {'CHANNELS':>8}  {'SAMPLE RATES':<24} DESCRIPTION")
    for d in devices:
        print(d.summary())
    return 0
