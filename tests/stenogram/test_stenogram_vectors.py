"""Known-answer vectors: RFC 8032 (Ed25519), RFC 8785 (JCS), RFC 6962 (Merkle tree hashes)."""

import json

import pytest

from stenogram import merkle
from stenogram.canonical import canonical_bytes, canonical_sha256
from stenogram.signing import Ed25519Signer, verify_signature

# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature)
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.mark.parametrize("sk,pk,msg,sig", RFC8032)
def test_ed25519_signer_reproduces_rfc8032(sk, pk, msg, sig):
    s = Ed25519Signer.from_seed(bytes.fromhex(sk))
    assert s.public_key.hex() == pk
    assert s.sign(bytes.fromhex(msg)).hex() == sig
    info = s.public_key_info()
    assert verify_signature(info, bytes.fromhex(msg), bytes.fromhex(sig))
    bad = bytearray(bytes.fromhex(sig))
    bad[0] ^= 1
    assert not verify_signature(info, bytes.fromhex(msg), bytes(bad))
    assert not verify_signature(info, bytes.fromhex(msg) + b"\0", bytes.fromhex(sig))


def test_jcs_rfc8785_section_3_2_2_example():
    text = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
            '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
            '"literals": [null, true, false]}')
    want = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonical_bytes(json.loads(text)) == want.encode("utf-8")


def test_jcs_sorts_keys_by_utf16_code_units():
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    out = canonical_bytes({k: 0 for k in keys}).decode("utf-8")
    order = [k for k in json.loads(out)]
    # RFC 8785 section 3.2.3: the emoji (a surrogate pair, 0xD83D) sorts before U+FB33.
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize("number,text", [
    (0.0, "0"), (-0.0, "0"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (9007199254740992.0, "9007199254740992"), (0.000001, "0.000001"), (1e-7, "1e-7"),
    (295147905179352830000.0, "295147905179352830000"), (-1e-7, "-1e-7")])
def test_jcs_number_serialisation_rfc8785_appendix_b(number, text):
    assert canonical_bytes(number) == text.encode()


def test_key_order_and_whitespace_do_not_change_a_hash():
    a = json.loads('{"b": [1, 2, {"y": "қ", "x": null}], "a": "ә ғ"}')
    b = json.loads('{\n  "a" : "ә ғ",\n\t"b":[1,2,{"x":null,"y":"қ"}]\n}')
    assert canonical_sha256(a) == canonical_sha256(b)
    assert canonical_sha256(a) != canonical_sha256({**a, "a": "ә ғ "})


CT_DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
           "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
LEAVES = [merkle.leaf_hash(bytes.fromhex(d)) for d in CT_DATA]


def test_merkle_roots_match_rfc6962_reference_vectors():
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    for n in range(1, 9):
        assert merkle.root(LEAVES[:n]).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize("index,size,proof", [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"])])
def test_merkle_inclusion_proofs_match_reference(index, size, proof):
    got = merkle.inclusion_proof(LEAVES, index, size)
    assert [p.hex() for p in got] == proof
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert merkle.verify_inclusion(LEAVES[index], index, size, got, root)
    assert not merkle.verify_inclusion(LEAVES[index], index ^ 1, size, got, root)
    assert not merkle.verify_inclusion(LEAVES[index], index, size, got[:-1], root)


@pytest.mark.parametrize("first,second,proof", [
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"])])
def test_merkle_consistency_proofs_match_reference(first, second, proof):
    got = merkle.consistency_proof(LEAVES, first, second)
    assert [p.hex() for p in got] == proof
    r1, r2 = bytes.fromhex(CT_ROOTS[first - 1]), bytes.fromhex(CT_ROOTS[second - 1])
    assert merkle.verify_consistency(first, second, r1, r2, got)
    assert not merkle.verify_consistency(first, second, r2, r1, got)
    assert not merkle.verify_consistency(first, second, r1, r2, got[1:])


def test_merkle_every_proof_of_every_small_tree_verifies_and_mangled_ones_fail():
    leaves = [merkle.leaf_hash(bytes([i, i * 7 % 256])) for i in range(33)]
    roots = [merkle.root(leaves[:n]) for n in range(34)]
    for n in range(1, 34):
        for i in range(n):
            p = merkle.inclusion_proof(leaves, i, n)
            assert merkle.verify_inclusion(leaves[i], i, n, p, roots[n])
            if p:
                bad = [bytes([p[0][0] ^ 1]) + p[0][1:]] + p[1:]
                assert not merkle.verify_inclusion(leaves[i], i, n, bad, roots[n])
        for m in range(0, n + 1):
            p = merkle.consistency_proof(leaves, m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], p)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, roots[m - 1] if m > 1 else roots[n],
                                                     roots[n], p)


def test_leaf_and_node_prefixes_differ():
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    # a leaf whose data looks like two child hashes is not that node
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)
