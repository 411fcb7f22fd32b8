"""The hearing simulator writes what its reference says, and the CLI commands around it."""

from __future__ import annotations

import argparse
import json
import wave

import numpy as np
import pytest
from hardware_testlib import voice, write_wav

from hardware import discovery
from hardware.seatmap import load_seat_map
from hardware.simulator import SimOptions, simulate
from hearing.commands import devices as devices_cmd
from hearing.commands import simulate as simulate_cmd


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory):
    """Two 'speakers' of speech-like utterances with a manifest like ../shared/speech's."""
    root = tmp_path_factory.mktemp("speech")
    folder = root / "xx-dev"
    folder.mkdir()
    rows = []
    for i in range(12):
        who = "aaa" if i % 2 else "bbb"
        seconds = 2.0 + (i % 4) * 0.7
        name = f"{who}_utt{i:02d}.wav"
        write_wav(folder / name, voice(seconds, 16_000, seed=100 + i)[None, :] * 3, 16_000)
        rows.append({"audio": name, "text": f"фраза номер {i}", "lang": "ru",
                     "duration": seconds, "kind": "test"})
    (folder / "manifest.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return root


def read_wav(path):
    with wave.open(str(path)) as w:
        ch, rate, n = w.getnchannels(), w.getframerate(), w.getnframes()
        x = np.frombuffer(w.readframes(n), "<i2").reshape(-1, ch).T.astype(np.float32) / 32768
    return x, rate


def level_db(x: np.ndarray) -> float:
    return 10 * np.log10(max(float(np.mean(x.astype(np.float64) ** 2)), 1e-14))


def test_reference_matches_the_recording(tmp_path, speech_dir):
    ref = simulate(tmp_path, SimOptions(seats=4, minutes=1.0, seed=3, bleed_db=-20, rate=16_000,
                                        overlap_prob=0.3), speech_dir=speech_dir)
    x, rate = read_wav(tmp_path / "courtroom.wav")
    assert x.shape[0] == 4 and rate == 16_000
    assert abs(x.shape[1] * 1000 // rate - ref["duration_ms"]) <= 1
    utts = ref["utterances"]
    assert len(utts) >= 10 and ref["overlaps"] >= 1
    assert {u["text"] for u in utts} <= {f"фраза номер {i}" for i in range(12)}
    assert [u["start_ms"] for u in utts] == sorted(u["start_ms"] for u in utts)
    seats = {s["seat"]: s["channel"] for s in ref["seats"]}
    speaking = np.zeros(x.shape[1], bool)
    checked_bleed = 0
    for u in utts:
        a, b = u["start_ms"] * 16, u["end_ms"] * 16
        speaking[a:b] = True
        ch = seats[u["seat"]] - 1
        assert ch == u["channel"] - 1
        others = [v for v in utts if v is not u and v["start_ms"] < u["end_ms"]
                  and v["end_ms"] > u["start_ms"]]
        levels = [level_db(x[c, a:b]) for c in range(4)]
        if not others:
            # the speaker's own mic is the loudest, the next seat hears it ~20 dB down
            assert int(np.argmax(levels)) == ch
            for nb in (ch - 1, ch + 1):
                if 0 <= nb < 4:
                    assert levels[ch] - levels[nb] == pytest.approx(20, abs=1.5)
                    checked_bleed += 1
    assert checked_bleed >= 5
    # outside every utterance there is only room noise
    quiet = x[:, ~speaking]
    assert quiet.shape[1] > 16_000
    assert max(level_db(q) for q in quiet) < -55
    seat_map = load_seat_map(tmp_path / "seats.toml")
    assert [s.seat_id for s in seat_map.seats] == list(seats)
    assert seat_map.default_device == f"file:{(tmp_path / 'courtroom.wav').resolve()}"


def test_same_seed_same_hearing(tmp_path, speech_dir):
    opts = SimOptions(seats=2, minutes=0.3, seed=9, rate=16_000)
    a = simulate(tmp_path / "a", opts, speech_dir=speech_dir)
    b = simulate(tmp_path / "b", opts, speech_dir=speech_dir)
    assert a["utterances"] == b["utterances"]
    assert (tmp_path / "a/courtroom.wav").read_bytes() == (tmp_path / "b/courtroom.wav").read_bytes()


def cli(module, argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    module.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_simulate_command(tmp_path, speech_dir, capsys):
    out = tmp_path / "sim"
    rc = cli(simulate_cmd, ["simulate", "--out", str(out), "--seats", "3", "--minutes", "0.3",
                            "--seed", "1", "--bleed-db", "-25", "--rate", "48000",
                            "--speech-dir", str(speech_dir)])
    assert rc == 0
    assert "courtroom.wav (3 ch, 48000 Hz" in capsys.readouterr().out
    ref = json.loads((out / "reference.json").read_text())
    assert ref["options"]["bleed_db"] == -25 and ref["sample_rate"] == 48_000
    rc = cli(simulate_cmd, ["simulate", "--out", str(out), "--speech-dir", str(tmp_path / "none")])
    assert rc == 1 and "no utterances" in capsys.readouterr().err


def test_devices_command_says_plainly_when_there_are_none(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(discovery, "ASOUND", tmp_path / "no-asound")
    monkeypatch.setattr(discovery, "enumerated", lambda fmt, probe=True: [])
    assert cli(devices_cmd, ["devices"]) == 0
    assert "No audio capture devices found" in capsys.readouterr().out


def test_devices_lists_channels_and_rates_of_a_usb_interface(monkeypatch, tmp_path, capsys):
    card = tmp_path / "asound" / "card1"
    (card / "pcm0c").mkdir(parents=True)
    (card / "id").write_text("UMC1820\n")
    (card / "pcm0c" / "info").write_text("card: 1\ndevice: 0\nname: USB Audio\n")
    (card / "stream0").write_text(
        "BEHRINGER UMC1820 at usb-0000:00:14.0-2, high speed : USB Audio\n\nPlayback:\n"
        "  Interface 1\n    Channels: 10\n    Rates: 44100, 48000\n\nCapture:\n"
        "  Interface 2\n    Altset 1\n    Format: S24_3LE\n    Channels: 8\n"
        "    Rates: 44100, 48000, 96000\n")
    monkeypatch.setattr(discovery, "ASOUND", tmp_path / "asound")
    monkeypatch.setattr(discovery, "enumerated", lambda fmt, probe=True: [])
    assert cli(devices_cmd, ["devices", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found == [{"url": "hw:1,0", "description": "UMC1820: USB Audio", "channels": [8],
                      "rates": [44100, 48000, 96000], "note": ""}]
    assert cli(devices_cmd, ["devices"]) == 0
    assert "hw:1,0" in capsys.readouterr().out
