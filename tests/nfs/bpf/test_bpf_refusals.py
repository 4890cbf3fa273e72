# SPDX-License-Identifier: BSD-3-Clause
"""Programs and filters the bpf NF must refuse once it has joined a
manager: it exits non-zero after one line naming the reason (and what to
do), without a traceback or DPDK's own log; the manager runs on, reclaims
the NF's slot, still serves a chain, and has every mbuf back at the end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.bpf_helpers import POOL_FULL, build_program
from tests.support.harness import tool
from tests.support.nf_helpers import chain_manager, error_lines
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)

HEADER = "#include <onvm/bpf.h>\n"
PASS = 'ONVM_BPF_PROGRAM("onvm") int\nprog(unsigned char *frame)\n{\n\treturn ONVM_BPF_PASS;\n}\n'

SOURCES = {
    # A back edge the compiler keeps: the length is not known, the sum
    # volatile.
    "loop": HEADER + """
ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	unsigned int i, n = onvm_md.len & 63;
	volatile unsigned int sum = 0;
#pragma nounroll
	for (i = 0; i < n; i++)
		sum += frame[i];
	return sum & 1;
}
""",
    "beyond-the-frame": HEADER + """
ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	return frame[50000];
}
""",
    # Nothing bounds the offset: the validator cannot prove it in the frame.
    "unbounded-offset": HEADER + """
ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	return frame[onvm_md.len];
}
""",
    "unknown-helper": HEADER + """
extern int onvm_bpf_secret(int);

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	return onvm_bpf_secret(frame[0]);
}
""",
    "helper-of-no-map": HEADER + """
extern int ghost__lookup(const unsigned int *key, unsigned int *value);

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	unsigned int key = 0, value = 0;

	ghost__lookup(&key, &value);
	return value;
}
""",
    # A key smaller than the map's: the helper would read past it.
    "short-key": HEADER + """
ONVM_BPF_MAP(counts, ONVM_BPF_MAP_ARRAY, unsigned int, unsigned long long, 4);

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	unsigned char key = 0;
	unsigned long long value;

	return counts__lookup((const unsigned int *)&key, &value);
}
""",
    "function-call": HEADER + """
static __attribute__((noinline)) int
pick(unsigned char *frame)
{
	return frame[0] & 1;
}

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	return pick(frame);
}
""",
    "global-variable": HEADER + """
unsigned int seen;

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	seen++;
	return ONVM_BPF_PASS;
}
""",
    "two-programs": HEADER + """
ONVM_BPF_PROGRAM("first") int
pass_all(unsigned char *frame)
{
	return ONVM_BPF_PASS;
}

ONVM_BPF_PROGRAM("second") int
drop_all(unsigned char *frame)
{
	return ONVM_BPF_DROP;
}
""",
    "no-code": HEADER + """
ONVM_BPF_MAP(counts, ONVM_BPF_MAP_ARRAY, unsigned int, unsigned long long, 4);
""",
    "map-no-entries": HEADER + """
struct onvm_bpf_map_def __attribute__((section("maps"), used)) counts = {
    ONVM_BPF_MAP_ARRAY, 4, 8, 0};
""" + PASS,
    "map-type-9": HEADER + """
struct onvm_bpf_map_def __attribute__((section("maps"), used)) counts = {9, 4, 8, 16};
""" + PASS,
    "map-key-0": HEADER + """
struct onvm_bpf_map_def __attribute__((section("maps"), used)) counts = {
    ONVM_BPF_MAP_HASH, 0, 8, 16};
""" + PASS,
    "map-not-a-def": """
struct half_a_def {
	unsigned int type, key_size;
};

struct half_a_def __attribute__((section("maps"), used)) counts = {2, 4};

__attribute__((section("onvm"), used)) int
prog(unsigned char *frame)
{
	return 1;
}
""",
    "map-against-its-map-flag": HEADER + """
ONVM_BPF_MAP(counts, ONVM_BPF_MAP_ARRAY, unsigned int, unsigned long long, 4);
""" + PASS,
}

# id: (what --program gets, more options, words of the one line)
CASES = {
    "loop": ("loop", (), ["was refused: loops detected", "#pragma unroll"]),
    "beyond-the-frame": ("beyond-the-frame", (),
                         ["was refused: memory boundary violation", "frame offsets"]),
    "unbounded-offset": ("unbounded-offset", (),
                         ["was refused: memory boundary violation", "masked"]),
    "unknown-helper": ("unknown-helper", (),
                       ["refers to 'onvm_bpf_secret'", "no helper, map helper or variable"]),
    "helper-of-no-map": ("helper-of-no-map", (), ["refers to 'ghost__lookup'"]),
    "short-key": ("short-key", (),
                  ["memory boundary violation", "map helpers take whole keys and values"]),
    "function-call": ("function-call", ("--section", "onvm"),
                      ["calls a function in section '.text'", "always_inline"]),
    "function-call-two-sections": ("function-call", (),
                                   ["2 code sections (.text, onvm)", "--section NAME",
                                    "always_inline"]),
    "global-variable": ("global-variable", (),
                        ["refers to 'seen' in section '.bss'", "no global variables"]),
    "two-programs": ("two-programs", (),
                     ["has 2 code sections (first, second): say which with --section"]),
    "wrong-section": ("two-programs", ("--section", "third"),
                      ["has no code section 'third'", "its code sections are first, second"]),
    "no-code": ("no-code", (), ["holds no code"]),
    "map-no-entries": ("map-no-entries", (),
                       ["map 'counts'", "max_entries must be 1 to 1048576"]),
    "map-type-9": ("map-type-9", (),
                   ["map 'counts'", "none of hash, array, percpu_hash, percpu_array"]),
    "map-key-0": ("map-key-0", (), ["map 'counts'", "keys must be 1 to 64 bytes"]),
    "map-not-a-def": ("map-not-a-def", (),
                      ["map 'counts' is not a struct onvm_bpf_map_def", "ONVM_BPF_MAP()"]),
    "map-against-its-map-flag": ("map-against-its-map-flag",
                                 ("--map", "counts:hash:4:8:16"),
                                 ["declares map 'counts' as array with 4-byte keys, "
                                  "8-byte values and 4 entries, unlike its --map"]),
    "jmp32": ("jmp32", (), ["invalid opcode", "-mcpu=v2"]),
    "x86-object": ("x86", (), ["is not an eBPF object (ELF machine 62)", "onvm-bpf build"]),
    "not-elf": ("text", (), ["is not an ELF object", "onvm-bpf build"]),
    "empty-file": ("empty", (), ["is not an ELF object"]),
    "directory": ("directory", (), ["is not a file: give the .o"]),
    "missing": ("missing", (), ["cannot read program", "No such file or directory"]),
}


def _object(tmp: Path, what: str) -> Path:
    """The file --program is given."""
    if what in SOURCES:
        return build_program(tmp, what, SOURCES[what])
    if what == "jmp32":
        # What clang makes for eBPF v3, which DPDK 22.11 does not run.
        src = tmp / "jmp32.c"
        src.write_text(HEADER + 'ONVM_BPF_PROGRAM("onvm") int\nprog(unsigned char *frame)\n'
                       "{\n\treturn *(unsigned int *)(frame + 26) > 7;\n}\n")
        done = subprocess.run(["clang", "-O2", "-target", "bpf", "-mcpu=v3", "-I",
                               subprocess.check_output([tool("onvm-bpf"), "include-dir"],
                                                       text=True).strip(),
                               "-c", str(src), "-o", str(tmp / "jmp32.o")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return tmp / "jmp32.o"
    if what == "x86":
        (tmp / "x86.c").write_text("int f(int x) { return x + 1; }\n")
        subprocess.run(["gcc", "-c", str(tmp / "x86.c"), "-o", str(tmp / "x86.o")], check=True,
                       timeout=60)
        return tmp / "x86.o"
    if what == "text":
        (tmp / "text.o").write_text("not an object\n")
        return tmp / "text.o"
    if what == "empty":
        (tmp / "empty.o").write_bytes(b"")
        return tmp / "empty.o"
    if what == "directory":
        (tmp / "objects.o").mkdir()
        return tmp / "objects.o"
    return tmp / "absent.o"


@pytest.mark.parametrize("case", list(CASES))
def test_refused_program_is_one_line_and_the_manager_carries_on(tmp_path, start_manager,
                                                                case):
    what, options, words = CASES[case]
    program = _object(tmp_path, what)
    packets = mixed_packets(300, seed=61)
    # The chain waits for service 2: the refused NF on service 1 joins and
    # leaves without a packet sent.
    mgr = chain_manager(start_manager, tmp_path, packets, "2,out:1")
    refused = mgr.start_nf("bpf", 1, "--", "--program", str(program), *options, wait=False)
    code = refused.wait(20)
    out = refused.output()
    lines = error_lines(out)
    assert code != 0 and len(lines) == 1, out
    assert lines[0].startswith("bpf: ") and str(program) in lines[0], out
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in out and "EAL" not in out and "error code" not in out, out

    mgr.wait_stats(lambda s: not s["nfs"], 10, "the refused NF's slot to be free")
    forward = mgr.start_nf("simple_forward", 2)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "every packet out of port 1")
    assert mgr.nf_stats(snap, forward)["act_next"] == len(packets)
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
    assert POOL_FULL in mgr.output(), mgr.output()


@pytest.mark.parametrize("expr, says", [
    ("tcp and", "bad filter 'tcp and': can't parse filter expression: syntax error "
     "(tcpdump syntax)"),
    ("port 99999999999999999999", "bad filter 'port 99999999999999999999'"),
    ("ip[99999999999999999999]", "bad filter 'ip[99999999999999999999]'"),
    ("ether host zz:00:00:00:00:01", "bad filter"),
    ("frobnicate", "bad filter 'frobnicate'"),
    # libpcap makes a loop of it, which DPDK cannot convert.
    ("ip6 protochain 6", "filter 'ip6 protochain 6' could not be converted to eBPF: "
     "cannot get eBPF length (DPDK's converter takes no backward jumps"),
])
def test_refused_filter_is_one_line(tmp_path, start_manager, expr, says):
    mgr = start_manager()
    refused = mgr.start_nf("bpf", 1, "--", "--filter", expr, wait=False)
    code = refused.wait(20)
    out = refused.output()
    lines = error_lines(out)
    assert code != 0 and len(lines) == 1, out
    assert lines[0].startswith("bpf: ") and says in lines[0], out
    assert "Traceback" not in out and "EAL" not in out, out
    mgr.wait_stats(lambda s: not s["nfs"], 10, "the refused NF's slot to be free")
    assert mgr.stop() == 0
    assert POOL_FULL in mgr.output(), mgr.output()
