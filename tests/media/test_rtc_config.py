"""TURN REST credentials and ICE configuration as a phone receives them."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from media.rtc import RtcOptions, turn_rest_credentials


def test_turn_rest_credentials_are_what_coturn_checks():
    username, password = turn_rest_credentials("north-secret", "p-17", ttl_s=600, now=1_700_000_000)
    assert username == "1700000600:p-17"
    # coturn (use-auth-secret): base64(HMAC-SHA1(static-auth-secret, username))
    expected = base64.b64encode(hmac.new(b"north-secret", b"1700000600:p-17", hashlib.sha1).digest()).decode()
    assert password == expected
    assert turn_rest_credentials("other-secret", "p-17", 600, now=1_700_000_000)[1] != password
    with pytest.raises(ValueError):
        turn_rest_credentials("s", "a:b", 600)


def test_ice_servers_for_a_participant():
    opts = RtcOptions(stun_urls=["stun:stun.court.example:3478"],
                      turn_urls=["turn:turn.court.example:3478?transport=udp"],
                      turn_secret="s3cret", turn_ttl_s=120)
    stun, turn = opts.ice_servers("witness-3")
    assert stun == {"urls": ["stun:stun.court.example:3478"]}
    assert turn["username"].endswith(":witness-3")
    config = opts.rtc_configuration("witness-3")
    assert [s.urls for s in config.iceServers] == [stun["urls"], turn["urls"]]


def test_no_servers_means_no_servers():
    """aiortc falls back to Google's public STUN server on None; a court server must not."""
    assert RtcOptions().ice_servers("x") == []
    assert RtcOptions().rtc_configuration().iceServers == []
    with pytest.raises(ValueError):
        RtcOptions(turn_urls=["turn:t:3478"]).ice_servers("x")


async def test_ice_candidates_stay_in_the_port_range():
    from aiortc import RTCPeerConnection

    from media.rtc import apply_bind_addresses, apply_port_range

    apply_bind_addresses(["127.0.0.1"])
    apply_port_range((47100, 47109))
    pcs = []
    try:
        ports = []
        for _ in range(3):
            pc = RTCPeerConnection(RtcOptions().rtc_configuration())
            pcs.append(pc)
            pc.addTransceiver("audio")
            await pc.setLocalDescription(await pc.createOffer())
            ports += [int(line.split()[5]) for line in pc.localDescription.sdp.splitlines()
                      if line.startswith("a=candidate:")]
        assert len(ports) == 3 and len(set(ports)) == 3
        assert all(47100 <= p <= 47109 for p in ports), ports
        with pytest.raises(ValueError):
            apply_port_range((5000, 4000))
    finally:
        apply_port_range(None)
        apply_bind_addresses(None)
        for pc in pcs:
            await pc.close()
