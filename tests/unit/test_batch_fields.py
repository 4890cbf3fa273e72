# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nflib.Batch on fake mbufs: the fields C parses for a whole batch, checked
against scapy; verdict helpers; and onvm_pkt_apply_verdicts writing packet metadata.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether

from onvm import contract
from onvm.nflib import (
    DROP,
    HOLD,
    NEXT,
    Action,
    Batch,
    out_port,
    to_service,
    verdict_action,
    verdict_destination,
)
from onvm.nflib.batch import FIELDS, GROUPS
from onvm.pydpdk.nf import ffi, lib
from tests.unit.fake_mbuf import MACS, FakeMbuf, mbuf_array, pkt_meta_at_fake_offset

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806

PACKETS = {
    "tcp4": Ether(**MACS) / IP(src="10.1.2.3", dst="192.168.7.9")
    / TCP(sport=1234, dport=80, flags="SA") / (b"x" * 10),
    "udp4": Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53),
    "icmp4": Ether(**MACS) / IP(src="172.16.0.1", dst="172.16.0.2") / ICMP(id=9, seq=1),
    "udp6": Ether(**MACS) / IPv6(src="2001:db8::1", dst="fe80::abcd:1")
    / UDP(sport=546, dport=547),
    "tcp6": Ether(**MACS) / IPv6(src="::1", dst="::2") / TCP(sport=40000, dport=443, flags="PA"),
    "icmp6": Ether(**MACS) / IPv6(src="2001:db8::a", dst="2001:db8::b") / ICMPv6EchoRequest(),
    "arp": Ether(**MACS) / ARP(psrc="10.0.0.1", pdst="10.0.0.2"),
    "vlan_tcp4": Ether(**MACS) / Dot1Q(vlan=42) / IP(src="1.2.3.4", dst="5.6.7.8")
    / TCP(sport=7, dport=9, flags="F"),
    "qinq_udp6": Ether(**MACS) / Dot1AD(vlan=100) / Dot1Q(vlan=5)
    / IPv6(src="2001:db8::5", dst="2001:db8::6") / UDP(sport=11, dport=12),
    "ipv4_options": Ether(**MACS) / IP(src="3.3.3.3", options=[IPOption_NOP()] * 8)
    / TCP(sport=4321, dport=22, flags="R"),
    "ipv4_later_fragment": Ether(**MACS) / IP(src="9.9.9.9", dst="8.8.8.8", frag=185, proto=17)
    / (b"g" * 16),
    "tcp4_syn_options": Ether(**MACS) / IP(src="10.4.4.4", dst="10.5.5.5")
    / TCP(sport=5555, dport=443, flags="S", options=[
        ("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456789, 0)), ("NOP", None),
        ("WScale", 7)]),
    "tcp6_ack_timestamps": Ether(**MACS) / IPv6(src="2001:db8::7", dst="2001:db8::8")
    / TCP(sport=443, dport=5555, flags="A", options=[
        ("NOP", None), ("NOP", None), ("Timestamp", (4000000000, 123456789)),
        ("SAck", (1000, 2000))]) / b"data",
}
RAW = {name: bytes(p) for name, p in PACKETS.items()}


def mapped(addr: str) -> bytes:
    """IPv4-mapped IPv6 form ::ffff:a.b.c.d, as the flow key holds IPv4."""
    return bytes(10) + b"\xff\xff" + socket.inet_aton(addr)


def scapy_fields(raw: bytes) -> dict:
    """What every Batch array should hold for a whole packet, according to scapy."""
    sp = Ether(raw)
    tags, layer = [], sp.payload
    while isinstance(layer, Dot1Q):
        tags.append(layer)
        layer = layer.payload
    want = {
        "ether_type": tags[-1].type if tags else sp.type,
        "vlan": tags[0].vlan if tags else 0,
        "ip_version": 0, "proto": 0, "tcp_flags": 0, "src4": 0, "dst4": 0,
        "src6": bytes(16), "dst6": bytes(16), "src_port": 0, "dst_port": 0,
        "length": len(raw), "l3_offset": 0, "l4_offset": 0,
    }
    if IP in sp:
        ip = sp[IP]
        l3 = len(raw) - len(bytes(ip))
        want.update(
            ip_version=4, proto=ip.proto, l3_offset=l3,
            l4_offset=l3 + ip.ihl * 4 if ip.frag == 0 else 0,
            src4=int(IPv4Address(ip.src)), dst4=int(IPv4Address(ip.dst)),
            src6=mapped(ip.src), dst6=mapped(ip.dst),
        )
    elif IPv6 in sp:
        ip6 = sp[IPv6]
        l3 = len(raw) - len(bytes(ip6))
        want.update(
            ip_version=6, proto=ip6.nh, l3_offset=l3, l4_offset=l3 + 40,
            src6=IPv6Address(ip6.src).packed, dst6=IPv6Address(ip6.dst).packed,
        )
    for l4 in (TCP, UDP):
        if l4 in sp:
            want.update(src_port=sp[l4].sport, dst_port=sp[l4].dport)
    want.update(tcp_options=0, tcp_mss=0, tcp_wscale=0, tcp_tsval=0, tcp_tsecr=0)
    if TCP in sp:
        want["tcp_flags"] = int(sp[TCP].flags)
        for name, value in sp[TCP].options:
            if name == "MSS":
                want.update(tcp_mss=value, tcp_options=want["tcp_options"] | contract.TCPOPT_MSS)
            elif name == "WScale":
                want.update(tcp_wscale=value,
                            tcp_options=want["tcp_options"] | contract.TCPOPT_WSCALE)
            elif name == "SAckOK":
                want["tcp_options"] |= contract.TCPOPT_SACK_OK
            elif name == "SAck":
                want["tcp_options"] |= contract.TCPOPT_SACK
            elif name == "Timestamp":
                want.update(tcp_tsval=value[0], tcp_tsecr=value[1],
                            tcp_options=want["tcp_options"] | contract.TCPOPT_TIMESTAMP)
    return want


def batch_row(batch: Batch, i: int) -> dict:
    """Packet i's value in each array scapy has an opinion on."""
    row = {name: getattr(batch, name)[i] for name in FIELDS if name not in
           ("in_port", "flow_hash", "rx_ns")}
    row = {k: bytes(v) if k in ("src6", "dst6") else int(v) for k, v in row.items()}
    return row


def load(raws: list[bytes], batch: Batch | None = None, **fake_args):
    """A Batch loaded with fake mbufs of `raws`; returns (batch, fakes, mbuf array)."""
    fakes = [FakeMbuf(raw, **fake_args) for raw in raws]
    pkts = mbuf_array(fakes)
    batch = Batch() if batch is None else batch
    batch._load(pkts, len(fakes))
    return batch, fakes, pkts


# ---- fields ----


def test_mixed_batch_fields_equal_scapy():
    names = list(RAW)
    batch, _fakes, _ = load([RAW[n] for n in names])
    assert len(batch) == len(names)
    for i, name in enumerate(names):
        assert batch_row(batch, i) == scapy_fields(RAW[name]), name


def test_every_array_has_one_entry_per_packet():
    batch, _fakes, _ = load(list(RAW.values()))
    for name, (dtype, shape, _group) in FIELDS.items():
        array = getattr(batch, name)
        assert array.dtype == dtype
        assert array.shape == (len(RAW), *shape), name
    assert batch.verdicts.shape == batch.flow_keys.shape == (len(RAW),)


def test_truncated_tcp_has_addresses_and_ports_but_no_flags():
    raw = RAW["tcp4"][: 14 + 20 + 10]  # ports fit, the flags byte does not
    batch, _fakes, _ = load([raw])
    want = scapy_fields(RAW["tcp4"]) | {"tcp_flags": 0, "length": len(raw)}
    assert batch_row(batch, 0) == want


def test_tcp_flags_need_the_whole_tcp_header():
    raw = RAW["tcp4"]
    batch, _fakes, _ = load([raw[: 14 + 20 + n] for n in (13, 14, 19, 20)])
    assert batch.tcp_flags.tolist() == [0, 0, 0, 0x12]


def test_truncated_ip_header_leaves_only_the_ethertype():
    raw = RAW["tcp4"][: 14 + 19]
    batch, _fakes, _ = load([raw])
    want = {name: 0 for name in batch_row(batch, 0)} | {
        "ether_type": ETH_IPV4, "length": len(raw), "src6": bytes(16), "dst6": bytes(16)}
    assert batch_row(batch, 0) == want


def test_truncated_udp_ports_need_four_bytes():
    raw = RAW["udp4"]
    batch, _fakes, _ = load([raw[:37], raw[:38]])
    assert batch.src_port.tolist() == [0, 5353]
    assert batch.dst_port.tolist() == [0, 53]
    assert batch.l4_offset.tolist() == [34, 34]


def test_runt_frame_is_all_zero_but_its_length():
    batch, _fakes, _ = load([b"\x01" * 10])
    row = batch_row(batch, 0)
    assert row.pop("length") == 10
    assert row == {name: bytes(16) if name in ("src6", "dst6") else 0 for name in row}


def test_vlan_tag_cut_short_is_no_tag_and_no_ip():
    raw = RAW["vlan_tcp4"][:17]
    batch, fakes, _ = load([raw])
    pkt = fakes[0].packet()
    assert int(batch.vlan[0]) == 0
    assert pkt.vlan is None
    assert int(batch.ether_type[0]) == pkt.ethertype
    assert (int(batch.ip_version[0]), int(batch.l3_offset[0])) == (0, 0)


def test_in_port_comes_from_the_mbuf():
    fakes = [FakeMbuf(RAW["udp4"], port=p) for p in (0, 3, 65535)]
    batch = Batch()
    batch._load(mbuf_array(fakes), 3)
    assert batch.in_port.tolist() == [0, 3, 65535]


RX_RSS_HASH = 1 << 1  # RTE_MBUF_F_RX_RSS_HASH: hash.rss holds the flow hash


def test_flow_hash_comes_from_the_mbuf_rss_hash_when_marked():
    fakes = [FakeMbuf(RAW["udp4"]) for _ in range(3)]
    for fake, rss in zip(fakes, (0, 0xDEADBEEF, 7), strict=True):
        fake.rss = rss
        fake.m.ol_flags = RX_RSS_HASH
    batch = Batch()
    batch._load(mbuf_array(fakes), 3)
    assert batch.flow_hash.tolist() == [0, 0xDEADBEEF, 7]


def test_flow_hash_is_the_keys_when_no_route_needed_one():
    """Port RX leaves the hash out when nothing needs it: the batch then
    gives what the manager would have computed, not hash.rss's leftovers."""
    fakes = [FakeMbuf(RAW[name]) for name in ("udp4", "tcp4", "icmp4")]
    for fake in fakes:
        fake.rss = 0x12345678
    batch = Batch()
    batch._load(mbuf_array(fakes), 3)
    expected = []
    for fake in fakes:
        key = ffi.new("struct onvm_flow_key *")
        lib.onvm_flow_key_parse(fake.m, key)
        expected.append(lib.onvm_flow_key_hash(key))
    assert batch.flow_hash.tolist() == expected
    assert 0x12345678 not in expected


def test_length_is_the_whole_frame_not_the_ip_length():
    raw = RAW["udp4"] + bytes(60 - len(RAW["udp4"]))
    batch, _fakes, _ = load([raw])
    assert int(batch.length[0]) == 60


def test_flow_keys_equal_onvm_flow_key_parse():
    batch, fakes, _ = load(list(RAW.values()))
    key = ffi.new("struct onvm_flow_key *")
    for i, fake in enumerate(fakes):
        lib.onvm_flow_key_parse(fake.m, key)
        assert batch.flow_keys[i].tobytes() == bytes(ffi.buffer(key)), i


def test_a_reused_batch_holds_nothing_of_the_previous_packets():
    batch, _old, _ = load([RAW["vlan_tcp4"], RAW["tcp4"], RAW["tcp6"]])
    batch.verdicts[:] = out_port(2)
    batch, _new, _ = load([RAW["arp"], RAW["udp6"], RAW["tcp6"][:20]], batch)
    fresh, _fakes, _ = load([RAW["arp"], RAW["udp6"], RAW["tcp6"][:20]])
    for name in FIELDS:
        assert np.array_equal(getattr(batch, name), getattr(fresh, name)), name
    assert batch.verdicts.tolist() == [NEXT] * 3


def test_a_smaller_batch_shows_only_its_own_packets():
    batch, _old, _ = load(list(RAW.values()))
    batch, _new, _ = load([RAW["udp4"]], batch)
    assert len(batch) == 1
    assert batch.src_port.tolist() == [5353]


def test_a_full_batch_parses_its_last_packet():
    n = contract.BATCH_MAX
    raws = [RAW["udp4"]] * (n - 1) + [RAW["tcp6"]]
    batch, _fakes, _ = load(raws)
    assert len(batch) == n
    assert (int(batch.ip_version[-1]), int(batch.dst_port[-1])) == (6, 443)
    assert (batch.verdicts == NEXT).all()


def test_data_is_each_packets_writable_bytes():
    batch, fakes, _ = load([RAW["udp4"], RAW["arp"]], headroom=64)
    assert bytes(batch.data(1)) == RAW["arp"]
    batch.data(0)[0] = 0xFF
    assert fakes[0].data[0] == 0xFF
    for bad in (-1, 2):
        with pytest.raises(IndexError):
            batch.data(bad)


def test_empty_batch():
    batch = Batch()
    batch._load(ffi.new("struct rte_mbuf *[1]"), 0)
    assert len(batch) == 0
    assert batch.src4.shape == (0,) and batch.verdicts.shape == (0,)


def test_unknown_field_is_an_attribute_error():
    with pytest.raises(AttributeError):
        Batch().no_such_field  # noqa: B018


# ---- field groups ----


def group_fields(group: str) -> list[str]:
    return [name for name, (_, _, g) in FIELDS.items() if g == group]


def test_groups_cover_every_field_and_the_c_masks_are_distinct_bits():
    assert {g for _, _, g in FIELDS.values()} == set(GROUPS)
    masks = list(GROUPS.values())
    assert all(m and m & (m - 1) == 0 for m in masks)
    assert len(set(masks)) == len(masks)
    assert sum(masks) == contract.FIELDS_ALL


@pytest.mark.parametrize("group", [g for g in GROUPS if g != "keys"])
def test_a_batch_of_one_group_parses_that_group_like_a_full_batch(group):
    raws = list(RAW.values())
    full, _full_fakes, _ = load(raws)
    fakes = [FakeMbuf(raw) for raw in raws]
    part = Batch((group,))
    part._load(mbuf_array(fakes), len(fakes))
    for name in group_fields(group) + group_fields("keys"):
        assert np.array_equal(getattr(part, name), getattr(full, name)), name
    assert part.flow_keys.tobytes() == full.flow_keys.tobytes()
    assert (part.verdicts == NEXT).all()


@pytest.mark.parametrize("group", [g for g in GROUPS if g != "keys"])
def test_fields_of_groups_not_asked_for_name_their_group(group):
    others = tuple(g for g in GROUPS if g not in (group, "keys"))
    batch, _fakes, _ = load([RAW["udp4"]], Batch(others))
    for name in group_fields(group):
        with pytest.raises(AttributeError, match=f"group '{group}'"):
            getattr(batch, name)


def test_unknown_group_is_a_value_error_that_lists_the_known_ones():
    with pytest.raises(ValueError, match="l4"):
        Batch(("l5",))


TRUNCATED_PACKETS = st.sampled_from(list(RAW.values())).flatmap(
    lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=90) | TRUNCATED_PACKETS, min_size=1, max_size=8))
def test_batch_fields_agree_with_the_packet_views(raws):
    """The vector and per-packet APIs must read the same packet the same way."""
    batch, fakes, _ = load(raws)
    for i, fake in enumerate(fakes):
        pkt = fake.packet()
        assert int(batch.ether_type[i]) == pkt.ethertype
        assert int(batch.proto[i]) == pkt.proto
        assert int(batch.length[i]) == len(raws[i])
        assert int(batch.vlan[i]) == (pkt.vlan.vid if pkt.vlan else 0)
        assert int(batch.tcp_flags[i]) == (pkt.tcp.flags if pkt.tcp else 0)
        ports = pkt.tcp or pkt.udp
        if ports:
            assert (int(batch.src_port[i]), int(batch.dst_port[i])) == (ports.sport, ports.dport)
        ip = pkt.ipv4 or pkt.ipv6
        assert int(batch.l3_offset[i]) == (ip.offset if ip else 0)
        if pkt.ipv4:
            assert int(batch.src4[i]) == int(pkt.ipv4.src)
            assert int(batch.dst4[i]) == int(pkt.ipv4.dst)
        if pkt.ipv6:
            assert bytes(batch.src6[i]) == pkt.ipv6.src.packed
        assert int(batch.verdicts[i]) == NEXT


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=90) | TRUNCATED_PACKETS, min_size=1, max_size=8))
def test_keys_only_batches_take_a_short_cut_to_the_same_keys(raws):
    """A batch of keys (and meta) has a quicker parse for common frames: its
    keys must be those of the full walk, for every frame."""
    full, _fakes, _ = load(raws)
    for groups in (("keys",), ("meta",)):
        part, _part_fakes, _ = load(raws, Batch(groups))
        assert part.flow_keys.tobytes() == full.flow_keys.tobytes(), groups
        assert part.ip_version.tolist() == full.ip_version.tolist(), groups
        assert part.proto.tolist() == full.proto.tolist(), groups


# ---- verdicts ----


def test_action_values_are_the_c_enum():
    assert [int(a) for a in Action] == [
        Action.DROP, Action.NEXT, Action.TONF, Action.OUT, Action.HOLD]
    assert (DROP, NEXT, HOLD) == (Action.DROP, Action.NEXT, Action.HOLD)


@pytest.mark.parametrize(
    ("verdict", "action", "destination"),
    [
        (DROP, Action.DROP, 0),
        (NEXT, Action.NEXT, 0),
        (to_service(0), Action.TONF, 0),
        (to_service(7), Action.TONF, 7),
        (to_service(65535), Action.TONF, 65535),
        (out_port(1), Action.OUT, 1),
        (out_port(65535), Action.OUT, 65535),
    ],
)
def test_verdict_helpers_round_trip(verdict, action, destination):
    assert verdict_action(verdict) is action
    assert verdict_destination(verdict) == destination
    assert verdict == int(action) | destination << 8


def test_verdicts_fit_the_uint32_array():
    batch, _fakes, _ = load([RAW["udp4"]] * 3)
    batch.verdicts[:] = [DROP, to_service(65535), out_port(4)]
    assert [verdict_action(int(v)) for v in batch.verdicts] == [
        Action.DROP, Action.TONF, Action.OUT]
    assert verdict_destination(int(batch.verdicts[1])) == 65535


def meta_of(fake: FakeMbuf):
    return lib.onvm_pkt_meta(fake.m)


def test_apply_verdicts_writes_action_and_destination_into_the_metadata():
    batch, fakes, pkts = load([RAW["udp4"]] * 5)
    verdicts = [DROP, NEXT, to_service(12), out_port(3), to_service(65535)]
    batch.verdicts[:] = verdicts
    with pkt_meta_at_fake_offset():
        for fake in fakes:
            meta_of(fake).action, meta_of(fake).destination = 0xEE, 0xEEEE
        lib.onvm_pkt_apply_verdicts(pkts, len(fakes), batch._fields.verdicts)
        got = [(meta_of(f).action, meta_of(f).destination) for f in fakes]
    assert got == [(int(verdict_action(v)), verdict_destination(v)) for v in verdicts]


def test_apply_verdicts_turns_an_unknown_action_into_drop():
    fakes = [FakeMbuf(RAW["udp4"]) for _ in range(3)]
    verdicts = ffi.new("uint32_t[]", [4 | 9 << 8, 0xFF, 0x1234_5601])
    with pkt_meta_at_fake_offset():
        lib.onvm_pkt_apply_verdicts(mbuf_array(fakes), 3, verdicts)
        got = [(meta_of(f).action, meta_of(f).destination) for f in fakes]
    assert got == [(Action.DROP, 9), (Action.DROP, 0),
                   (Action.NEXT, 0x3456)]


def test_apply_verdicts_leaves_the_rest_of_the_metadata_alone():
    fakes = [FakeMbuf(RAW["udp4"])]
    with pkt_meta_at_fake_offset():
        meta = meta_of(fakes[0])
        meta.chain_index, meta.owner, meta.chain, meta.timestamp = 2, 5, 9, 123456789
        lib.onvm_pkt_apply_verdicts(mbuf_array(fakes), 1, ffi.new("uint32_t[]", [out_port(1)]))
        kept = (meta.chain_index, meta.owner, meta.chain, meta.timestamp)
    assert kept == (2, 5, 9, 123456789)


def test_counted_apply_writes_only_what_is_not_next_and_counts_every_packet():
    fakes = [FakeMbuf(RAW["udp4"]) for _ in range(7)]
    verdicts = [NEXT, DROP, to_service(12), NEXT | 7 << 8, out_port(3), 7 | 9 << 8, HOLD]
    counts = ffi.new("uint64_t[5]", [1, 2, 3, 4, 5])
    with pkt_meta_at_fake_offset():
        for fake in fakes:
            meta_of(fake).action, meta_of(fake).destination = 0xEE, 0xEEEE
        lib.onvm_pkt_apply_verdicts_counted(mbuf_array(fakes), len(fakes),
                                            ffi.new("uint32_t[]", verdicts), counts)
        got = [(meta_of(f).action, meta_of(f).destination) for f in fakes]
    untouched = (0xEE, 0xEEEE)  # a NEXT packet keeps what it arrived with
    assert got == [untouched, (Action.DROP, 0), (Action.TONF, 12),
                   untouched, (Action.OUT, 3), (Action.DROP, 9), (Action.HOLD, 0)]
    assert list(counts) == [1 + 2, 2 + 2, 3 + 1, 4 + 1, 5 + 1]


# ---- receive time and TCP options ----


def test_rx_ns_is_zero_where_no_metadata_field_is_registered():
    batch, _fakes, _ = load([RAW["udp4"]] * 2)
    assert [int(v) for v in batch.rx_ns] == [0, 0]


def test_malformed_tcp_options_end_the_walk_and_keep_what_came_before():
    good = bytes(Ether(**MACS) / IP() / TCP(options=[("MSS", 1400), ("NOP", None),
                                                    ("NOP", None), ("NOP", None),
                                                    ("NOP", None)]))
    raw = bytearray(good)
    l4 = 14 + 20
    raw[l4 + 24] = 8   # a timestamp option...
    raw[l4 + 25] = 40  # ...whose length runs past the header
    batch, _fakes, _ = load([bytes(raw), good[: l4 + 22]])
    assert int(batch.tcp_mss[0]) == 1400
    assert int(batch.tcp_options[0]) == contract.TCPOPT_MSS
    assert int(batch.tcp_options[1]) == 0  # cut inside the MSS option


@pytest.mark.parametrize("name", ["tcp4_syn_options", "tcp6_ack_timestamps", "tcp4"])
def test_the_tcp_view_reads_the_options_scapy_wrote(name):
    from onvm.nflib import Packet

    fake = FakeMbuf(RAW[name])
    tcp = Packet(fake.m).tcp
    want = dict(Ether(RAW[name])[TCP].options)
    got = tcp.options()
    assert got.get("mss") == want.get("MSS")
    assert got.get("wscale") == want.get("WScale")
    assert got.get("sack_permitted", False) == ("SAckOK" in want)
    assert got.get("timestamp") == want.get("Timestamp")
    if "SAck" in want:
        assert got["sack"] == [tuple(want["SAck"])]
    assert (tcp.tsval, tcp.tsecr) == (want.get("Timestamp") or (None, None))
