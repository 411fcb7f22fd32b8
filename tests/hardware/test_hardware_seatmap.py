from __future__ import annotations

import pytest

from hardware.device_url import DeviceUrlError, parse_device_url
from hardware.seatmap import (SeatMapError, default_seat_map, dump_seat_map, load_seat_map,
                              parse_seat_map)

GOOD = """
name = "Courtroom 3"
device = "hw:1?channels=8&rate=48000"

[seats.judge]
channel = 1
role = "judge"
label = "Presiding judge"

[seats.secretary]
channel = 2

[seats.witness]
channel = 5
role = "witness"

[seats.remote-interp]
channel = 1
role = "interpreter"
device = "rtp://239.69.1.1:5004?channels=2&rate=48000"
"""


def test_seat_map_from_toml(tmp_path):
    p = tmp_path / "seats.toml"
    p.write_text(GOOD)
    sm = load_seat_map(p)
    assert sm.name == "Courtroom 3"
    judge = sm.seat("judge")
    assert (judge.channel, judge.index, judge.label, judge.source_id) == (1, 0, "Presiding judge",
                                                                           "seat:judge")
    assert sm.seat("secretary").role == "secretary" and sm.seat("secretary").label == "Secretary"
    assert sm.seat("witness").label == "Witness stand"
    assert sm.devices() == ["hw:1?channels=8&rate=48000",
                            "rtp://239.69.1.1:5004?channels=2&rate=48000"]
    assert [s.seat_id for s in sm.seats_on("hw:1?channels=8&rate=48000")] == [
        "judge", "secretary", "witness"]
    # the same channel number on another device is another seat
    assert sm.seat("remote-interp").channel == 1


def test_names_for_a_hearing_do_not_change_the_courtroom_map(tmp_path):
    p = tmp_path / "seats.toml"
    p.write_text(GOOD)
    sm = load_seat_map(p)
    hearing = sm.with_names({"judge": "A. Nurlanova", "witness": "B. Sergeev"})
    assert hearing.seat("judge").speaker == "A. Nurlanova"
    assert hearing.seat("secretary").speaker == "Secretary"
    assert sm.seat("judge").speaker == "Presiding judge"
    with pytest.raises(SeatMapError, match="no such seat"):
        sm.with_names({"jury": "x"})


@pytest.mark.parametrize("text, message", [
    ('[seats.judge]\nchannel = 1\n', "no 'device'"),
    ('device = "hw:1"\n[seats.judge]\nchannel = 0\n', "channel"),
    ('device = "hw:1"\n[seats.judge]\nchannel = 1\n[seats.clerk]\nchannel = 1\n',
     "already seat 'judge'"),
    ('device = "hw:1"\n[seats.judge]\nchanel = 1\n', "unknown key"),
    ('device = "hw:1"\n[seats."Judge One"]\nchannel = 1\n', "seat id"),
    ('device = "hw:1"\n', "at least one"),
    ('device = "hw:1"\n[seats.judge\n', "not valid TOML"),
])
def test_bad_seat_maps_say_what_is_wrong(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(SeatMapError, match=message):
        load_seat_map(p)


def test_dump_and_default_map_round_trip():
    sm = default_seat_map(3, "file:/x.wav")
    again = parse_seat_map(__import__("tomllib").loads(dump_seat_map(sm)))
    assert again.seats == sm.seats


@pytest.mark.parametrize("url, kind, target, params", [
    ("hw:1", "alsa", "hw:1", {}),
    ("hw:2,0?channels=8&rate=48000", "alsa", "hw:2,0", {"channels": "8", "rate": "48000"}),
    ("alsa:pipewire", "alsa", "pipewire", {}),
    ("pulse:alsa_input.usb-Focusrite", "pulse", "alsa_input.usb-Focusrite", {}),
    ("pipewire:default", "pulse", "default", {}),
    ("rtp://239.69.1.1:5004?channels=8&encoding=L24", "rtp", "239.69.1.1:5004",
     {"channels": "8", "encoding": "L24"}),
    ("sdp:/etc/court/aes67.sdp", "sdp", "/etc/court/aes67.sdp", {}),
    ("file:/tmp/c.wav?speed=0", "file", "/tmp/c.wav", {"speed": "0"}),
    ("lavfi:sine=f=440:r=48000", "lavfi", "sine=f=440:r=48000", {}),
])
def test_device_urls(url, kind, target, params):
    spec = parse_device_url(url)
    assert (spec.kind, spec.target, spec.params) == (kind, target, params)


@pytest.mark.parametrize("url", ["", "courtroom.wav", "rtp://host", "smb://x", "file:"])
def test_bad_device_urls(url):
    with pytest.raises(DeviceUrlError):
        parse_device_url(url)
