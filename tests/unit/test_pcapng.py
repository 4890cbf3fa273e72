# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.tables.pcapng: files it writes read back identically in scapy and tshark."""

from __future__ import annotations

import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import UDP, IPv6
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapNgReader, rdpcap

from onvm.manager.tables.pcapng import PcapngWriter

TSHARK = shutil.which("tshark")
CAPINFOS = shutil.which("capinfos")
SNAPLEN = 96

TCP_PACKET = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80) / b"GET /")
UDP6_PACKET = bytes(Ether() / IPv6(src="fd00::1", dst="fd00::2") / UDP(dport=53) / b"query")
LONG_PACKET = bytes(Ether() / IP() / TCP() / (b"z" * 400))  # cut to SNAPLEN
ODD_PACKET = bytes(Ether() / IP() / TCP() / b"odd")  # 57 bytes: needs 3 bytes of padding

# (packet, timestamp in ns, orig_len given to write or None)
PACKETS = [
    (TCP_PACKET, 1_700_000_000_123_456_789, None),
    (UDP6_PACKET, 1_700_000_000_999_999_999, None),
    (LONG_PACKET, 1_700_000_001_000_000_001, None),
    (ODD_PACKET, 1_700_000_002_000_000_000, 1500),
]


def expected(packet: bytes, orig_len: int | None) -> tuple[bytes, int]:
    """What a reader must see: the captured bytes and the original length."""
    return packet[:SNAPLEN], len(packet) if orig_len is None else orig_len


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "capture.pcapng"
    with PcapngWriter(path, snaplen=SNAPLEN, comment="unit test", interface_name="port0") as w:
        for packet, timestamp_ns, orig_len in PACKETS:
            w.write(packet, timestamp_ns=timestamp_ns, orig_len=orig_len)
        assert w.packets == len(PACKETS)
    return path


def test_packets_are_odd_and_long_enough_to_exercise_padding_and_truncation() -> None:
    assert len(ODD_PACKET) % 4 != 0
    assert len(LONG_PACKET) > SNAPLEN


def test_scapy_reads_back_bytes_lengths_and_nanosecond_timestamps(capture: Path) -> None:
    read = rdpcap(str(capture))
    assert len(read) == len(PACKETS)
    for packet, (sent, timestamp_ns, orig_len) in zip(read, PACKETS, strict=True):
        data, wirelen = expected(sent, orig_len)
        assert bytes(packet) == data
        assert packet.wirelen == wirelen
        assert Decimal(packet.time) == Decimal(timestamp_ns) / 10**9


def test_scapy_sees_the_interface_and_nanosecond_resolution(capture: Path) -> None:
    with RawPcapNgReader(str(capture)) as reader:
        metadata = [meta for _, meta in reader]
    assert [(m.tshigh << 32) | m.tslow for m in metadata] == [ts for _, ts, _ in PACKETS]
    assert {(m.linktype, m.tsresol, m.ifname) for m in metadata} == {(1, 10**9, b"port0")}


def test_ipv6_udp_packet_decodes(capture: Path) -> None:
    packet = rdpcap(str(capture))[1]
    assert packet[IPv6].dst == "fd00::2"
    assert packet[UDP].dport == 53
    assert bytes(packet[UDP].payload) == b"query"


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_tshark_reads_lengths_and_timestamps(capture: Path) -> None:
    fields = ["-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.time_epoch"]
    lines = tshark(capture, "-T", "fields", *fields).splitlines()
    assert len(lines) == len(PACKETS)
    for line, (sent, timestamp_ns, orig_len) in zip(lines, PACKETS, strict=True):
        frame_len, cap_len, time_epoch = line.split("\t")
        data, wirelen = expected(sent, orig_len)
        assert (int(frame_len), int(cap_len)) == (wirelen, len(data))
        assert Decimal(time_epoch) == Decimal(timestamp_ns) / 10**9


@pytest.mark.skipif(CAPINFOS is None, reason="capinfos (from wireshark) is not installed")
def test_capinfos_sees_the_section_and_interface_options(capture: Path) -> None:
    info = subprocess.run(
        [CAPINFOS, str(capture)], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "Capture application: onvm" in info
    assert "Capture comment:     unit test" in info
    assert "Name = port0" in info
    assert "nanoseconds (9)" in info


def test_blocks_repeat_their_length_and_stay_aligned(capture: Path) -> None:
    blob = capture.read_bytes()
    types = []
    offset = 0
    while offset < len(blob):
        block_type, length = struct.unpack_from("<II", blob, offset)
        assert length % 4 == 0
        (trailer,) = struct.unpack_from("<I", blob, offset + length - 4)
        assert trailer == length
        types.append(block_type)
        offset += length
    assert offset == len(blob)
    assert types == [0x0A0D0D0A, 0x00000001] + [0x00000006] * len(PACKETS)
    assert struct.unpack_from("<I", blob, 8) == (0x1A2B3C4D,)


def test_options_end_with_endofopt(tmp_path: Path) -> None:
    path = tmp_path / "bare.pcapng"
    PcapngWriter(path).close()
    blob = path.read_bytes()
    shb_length = struct.unpack_from("<I", blob, 4)[0]
    # shb_userappl "onvm" (4 bytes, no padding), then opt_endofopt, then the trailer.
    assert blob[24:36] == struct.pack("<HH", 4, 4) + b"onvm" + struct.pack("<HH", 0, 0)
    assert shb_length == 40
    # The IDB holds if_tsresol 9 (1 byte padded to 4), then opt_endofopt.
    idb = blob[shb_length:]
    assert idb[16:28] == struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)


def test_file_without_packets_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcapng"
    with PcapngWriter(path) as w:
        assert w.packets == 0
    assert len(rdpcap(str(path))) == 0
    if TSHARK is not None:
        assert tshark(path, "-T", "fields", "-e", "frame.len") == ""


def test_memoryview_is_written_like_bytes(tmp_path: Path) -> None:
    path = tmp_path / "view.pcapng"
    with PcapngWriter(path) as w:
        w.write(memoryview(bytearray(TCP_PACKET)), timestamp_ns=1)
    assert bytes(rdpcap(str(path))[0]) == TCP_PACKET


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with PcapngWriter(tmp_path / "bad.pcapng") as w:
        with pytest.raises(ValueError, match="orig_len"):
            w.write(TCP_PACKET, timestamp_ns=0, orig_len=len(TCP_PACKET) - 1)
        with pytest.raises(ValueError, match="timestamp"):
            w.write(TCP_PACKET, timestamp_ns=-1)
        assert w.packets == 0


def test_unwritable_path_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        PcapngWriter(tmp_path / "no such directory" / "capture.pcapng")


def tshark(path: Path, *args: str) -> str:
    return subprocess.run(
        [TSHARK, "-r", str(path), *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_the_writer_never_truncates_or_follows_a_link(tmp_path):
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep")
    link = tmp_path / "link.pcapng"
    link.symlink_to(existing)
    with pytest.raises(FileExistsError):
        PcapngWriter(existing)
    with pytest.raises(OSError):
        PcapngWriter(link)
    assert existing.read_bytes() == b"keep"
    PcapngWriter(tmp_path / "new.pcapng").close()
    assert (tmp_path / "new.pcapng").stat().st_mode & 0o777 == 0o600
