# SPDX-License-Identifier: BSD-3-Clause
"""Bad input that needs no running manager and no root: onvm-manager flags,
EAL arguments and config files, onvm-ctl arguments and unreachable
endpoints, the bundled Python NFs' own options and rules files (which
they check before they join a manager), and paths of a user's NF that
onvm-nf cannot run. Each case is a real command that must exit with its
code after one line naming the problem, never a traceback.
tests/integration/test_bad_input.py has the cases that need a manager."""

from __future__ import annotations

import secrets
import shutil
import socket

import pytest

from onvm.manager.bringup import runtime
from tests.support.bad_input import BIG, Bad, params, run_case

pytestmark = pytest.mark.timeout(120)

USAGE, CONFIG, UNREACHABLE, ERROR_REPLY = 2, 2, 3, 1
START = ("onvm-manager", "start", "--name", "{mgr}")


def manager(id: str, *args: str, says: str, code: int = CONFIG, **files: str) -> Bad:  # noqa: A002
    return Bad(id, (*START, *args), code, says, files)


def config(id: str, text: str, says: str) -> Bad:  # noqa: A002
    """onvm-manager start --config FILE, FILE holding `text`."""
    return Bad(id, (*START, "--config", "{tmp}/manager.toml"), CONFIG, says,
               {"manager.toml": text})


def ctl(id: str, *args: str, says: str, code: int = USAGE) -> Bad:  # noqa: A002
    return Bad(id, ("onvm-ctl", "--name", "{mgr}", *args), code, says)


def nf(id: str, name: str, *args: str, says: str, code: int = USAGE,  # noqa: A002
       **files: str) -> Bad:
    """A bundled Python NF given its own options `args` (after --)."""
    return Bad(id, ("onvm-nf", name, "--service", "1", "--name", "{mgr}", "--", *args), code,
               says, files)


def rules(id: str, text: str, says: str) -> Bad:  # noqa: A002
    """firewall.py with a rules file holding `text`."""
    return nf(id, "firewall.py", "--rules", "{tmp}/rules.toml", says=says,
              **{"rules.toml": text})


MANAGER_FLAGS = [
    manager("chain-5000-digit-service", "--chain", f"1,{BIG}", says="chain hop '999"),
    manager("chain-5000-digit-port", "--chain", f"out:{BIG}", says="out: takes a port id"),
    manager("chain-service-64", "--chain", "64", says="service id (1 to 63)"),
    manager("cores-5000-digit-range", "--cores", f"0-{BIG}", says="beyond the largest"),
    manager("cores-5000-digit", "--cores", BIG, says="beyond the largest supported CPU"),
    manager("burst-size-5000-digit", "--burst-size", BIG, says="--burst-size must be a whole"),
    manager("burst-size-word", "--burst-size", "many", says="--burst-size must be a whole"),
    manager("burst-size-fraction", "--burst-size", "1.5", says="from 1 to 64, not '1.5'"),
    manager("burst-size-zero", "--burst-size", "0", says="from 1 to 64, not '0'"),
    manager("num-mbufs-float", "--num-mbufs", "1e3", says="--num-mbufs must be a whole"),
    manager("latency-sample-negative", "--latency-sample", "-1",
            says="--latency-sample must be a whole number from 0 to 1048576"),
    manager("latency-sample-huge", "--latency-sample", BIG,
            says="--latency-sample must be a whole"),
    manager("latency-sample-nan", "--latency-sample", "nan", says="--latency-sample must be"),
    manager("latency-sample-over", "--latency-sample", "1048577",
            says="from 0 to 1048576, not '1048577'"),
    manager("num-mbufs-2-to-32", "--num-mbufs", str(1 << 32), says="to 4294967295"),
    manager("stats-interval-nan", "--stats-interval", "nan", says="--stats-interval must be"),
    manager("stats-interval-inf", "--stats-interval", "inf", says="not 'inf'"),
    manager("stats-interval-negative", "--stats-interval", "-1", says="from 0 to 3600"),
    manager("control-tcp-5000-digit", "--control-tcp", BIG, says="a port from 1 to 65535"),
    manager("prometheus-port-70000", "--prometheus", "70000", says="a port from 1 to 65535"),
    manager("web-port-70000", "--web", "70000", says="web '70000': give host:port or a port"),
    manager("web-port-zero", "--web", "127.0.0.1:0", says="a port from 1 to 65535"),
    manager("web-port-word", "--web", "localhost:http", says="a port from 1 to 65535"),
    manager("web-5000-digit", "--web", BIG, says="a port from 1 to 65535"),
    manager("web-empty-port", "--web", "127.0.0.1:", says="a port from 1 to 65535"),
    manager("unknown-flag", "--bogus", says="unrecognized arguments: --bogus"),
    manager("flag-without-value", "--burst-size", says="expected one argument"),
    manager("rx-timestamps-with-value", "--rx-timestamps=yes",
            says="argument --rx-timestamps: ignored explicit argument 'yes'"),
]

EAL_ARGS = [
    manager("eal-unknown-option", "--", "--bogus", says="'--bogus' is not a DPDK 22.11 EAL"),
    manager("eal-corelist", "--", "-l", "0-99", says="-l is refused"),
    manager("eal-coremask", "--", "-c", "0x3", says="use --cores"),
    manager("eal-lcores", "--", "--lcores=0@0", says="use --cores"),
    manager("eal-main-lcore", "--", "--main-lcore", "1", says="use --cores"),
    manager("eal-file-prefix", "--", "--file-prefix=other", says="use --name"),
    manager("eal-proc-type", "--", "--proc-type=secondary", says="always the DPDK primary"),
    manager("eal-in-memory", "--", "--in-memory", says="--in-memory is refused"),
    manager("eal-help", "--", "-h", says="-h is refused"),
    manager("eal-missing-value", "--", "--log-level", says="--log-level needs a value"),
    manager("eal-value-for-a-flag", "--", "--no-pci=1", says="--no-pci takes no value"),
    manager("eal-not-an-option", "--", "stray", says="'stray' is not a DPDK 22.11 EAL"),
]

CONFIG_FILES = [
    config("toml-ring-size-2-to-32", "[dataplane]\nnf_ring_size = 4294967296\n",
           "nf_ring_size must be a whole number from 64 to 65536"),
    config("toml-ring-size-not-power-of-two", "[dataplane]\nnf_ring_size = 1000\n",
           "nf_ring_size must be a power of two"),
    config("toml-rx-timestamps-string", "[ports]\nrx_timestamps = \"yes\"\n",
           says="'ports.rx_timestamps' has the wrong type (str)"),
    config("toml-rx-desc-33", "[dataplane]\nport_rx_desc = 33\n",
           "port_rx_desc must be a power of two from 32 to 32768, not 33"),
    config("toml-tx-desc-too-many", "[dataplane]\nport_tx_desc = 65536\n",
           "port_tx_desc must be a whole number from 32 to 32768"),
    config("toml-num-mbufs-5000-digit", f"[dataplane]\nnum_mbufs = {BIG}\n",
           "an integer too long"),
    config("toml-burst-size-2-to-70", f"[dataplane]\nburst_size = {1 << 70}\n",
           "burst_size must be a whole number from 1 to 64"),
    config("toml-mbuf-cache-float", "[dataplane]\nmbuf_cache = 1e3\n", "has the wrong type"),
    config("toml-chain-grace-2-to-63", f"[dataplane]\nchain_grace_ms = {1 << 63}\n",
           "chain_grace_ms must be a whole number from 0 to 60000"),
    config("toml-stats-interval-nan", "[manager]\nstats_interval = nan\n",
           "stats_interval must be a number from 0 to 3600 seconds, not 'nan'"),
    config("toml-stop-timeout-inf", "[manager]\nnf_stop_timeout = inf\n",
           "nf_stop_timeout must be a number"),
    config("toml-request-bytes-negative", "[control]\nmax_request_bytes = -1\n",
           "max_request_bytes must be a whole number from 1024"),
    config("toml-publish-interval-zero", "[control]\nstats_publish_interval = 0\n",
           "stats_publish_interval must be a number from 0.01"),
    config("toml-control-tcp-5000-digit", f"[control]\ntcp = '{BIG}'\ncurve_keys = '/k'\n",
           "a port from 1 to 65535"),
    config("toml-web-port-70000", "[control]\nweb = '70000'\n", "a port from 1 to 65535"),
    config("toml-web-number", "[control]\nweb = 8080\n", "'control.web' has the wrong type"),
    config("toml-eal-file-prefix", "[eal]\nargs = ['--file-prefix=x']\n", "use --name"),
    config("toml-chain-5000-digit", f"[chains]\ndefault = '{BIG}'\n", "chain hop '999"),
    config("toml-cores-5000-digit", f"[manager]\ncores = '{BIG}'\n", "beyond the largest"),
    manager("config-is-a-directory", "--config", "{tmp}",
            says="is a directory: give the TOML file in it"),
    manager("config-missing", "--config", "{tmp}/nope.toml", says="does not exist"),
]

CTL = [
    ctl("timeout-nan", "--timeout", "nan", "status", says="argument --timeout: must be"),
    ctl("timeout-inf", "--timeout", "inf", "status", says="not 'inf'"),
    ctl("timeout-1e10", "--timeout", "1e10", "status", says="from 0.001 to 86400 seconds"),
    ctl("timeout-zero", "--timeout", "0", "status", says="not '0'"),
    ctl("nf-stop-2-to-70", "nf", "stop", str(1 << 70), says="from 1 to 63"),
    ctl("nf-stop-word", "nf", "stop", "x", says="argument id: must be a whole number"),
    ctl("nf-metrics-64", "nf", "metrics", "64", says="from 1 to 63"),
    ctl("nf-metrics-5000-digit", "nf", "metrics", BIG, says="argument NF_ID: must be"),
    ctl("flow-add-idle-nan", "flow", "add", "--chain", "default", "--idle-timeout", "nan",
        says="argument --idle-timeout: must be"),
    ctl("flow-add-idle-inf", "flow", "add", "--chain", "default", "--idle-timeout", "inf",
        says="not 'inf'"),
    ctl("flow-add-idle-negative", "flow", "add", "--chain", "default", "--idle-timeout",
        "-1", says="argument --idle-timeout"),
    ctl("flow-delete-5000-digit", "flow", "delete", BIG, says="argument id: must be"),
    ctl("scale-service-2-to-70", "scale", str(1 << 70), "--instances", "1",
        says="argument service: must be a whole number from 1 to 63"),
    ctl("scale-instances-99", "scale", "2", "--instances", "99", says="from 0 to 16"),
    *[ctl(f"scale-respawn-limit-{label}", "scale", "2", "--instances", "1", "--respawn",
          "--respawn-limit", value,
          says=f"argument --respawn-limit: must be a whole number from 1 to 1000, not '{shown}'")
      for label, value, shown in [("zero", "0", "0"), ("negative", "-3", "-3"),
                                  ("1001", "1001", "1001"), ("2-to-70", str(1 << 70), str(1 << 70)),
                                  ("5000-digit", BIG, "9" * 24 + "..."), ("word", "many", "many"),
                                  ("fraction", "2.5", "2.5"), ("empty", "", "")]],
    ctl("scale-respawn-limit-alone", "scale", "2", "--instances", "1", "--respawn-limit", "3",
        says="--respawn-limit goes with --respawn"),
    ctl("capture-port-99", "capture", "--port", "99", "-w", "x.pcapng", says="from 0 to 15"),
    ctl("capture-seconds-nan", "capture", "--nf", "1", "--seconds", "nan", "-w", "x.pcapng",
        says="argument --seconds"),
    ctl("capture-count-5000-digit", "capture", "--port", "0", "--count", BIG, "-w", "x",
        says="argument --count"),
    ctl("watch-count-zero", "stats", "--watch", "--count", "0", says="argument --count"),
    ctl("connect-port-99999", "--connect", "tcp://127.0.0.1:99999", "status",
        says="from 1 to 65535"),
    ctl("connect-no-port", "--connect", "tcp://127.0.0.1", "status",
        says="give tcp://HOST:PORT"),
    ctl("args-after-dashes", "status", "--", "x", says="only scale takes arguments"),
    ctl("dead-socket", "--connect", "ipc://{tmp}/dead.sock", "status", code=UNREACHABLE,
        says="no manager listens on"),
    ctl("no-socket", "--connect", "ipc://{tmp}/none.sock", "status", code=UNREACHABLE,
        says="does not exist"),
    ctl("nothing-on-tcp", "--connect", "tcp://127.0.0.1:{closed_port}", "status",
        code=UNREACHABLE, says="nothing listens on"),
    ctl("keys-missing", "--connect", "tcp://127.0.0.1:{closed_port}", "--keys",
        "{tmp}/nokeys", "status", code=ERROR_REPLY, says="cannot read CURVE keys"),
]

PYTHON_NFS = [
    nf("sf-dest-70000", "simple_forward.py", "--dest", "70000", says="from 1 to 63"),
    nf("sf-dest-5000-digit", "simple_forward.py", "--dest", BIG, says="argument --dest"),
    nf("sf-out-negative", "simple_forward.py", "--out", "-1", says="from 0 to 15"),
    nf("sf-out-70000", "simple_forward.py", "--out", "70000", says="argument --out"),
    nf("sf-dest-and-out", "simple_forward.py", "--dest", "2", "--out", "1",
       says="not allowed with argument"),
    nf("sf-unknown", "simple_forward.py", "--bogus", says="unrecognized arguments"),
    nf("arp-bad-mac", "arp_response.py", "--ip", "10.0.0.1", "--mac", "bad",
       says="'bad' is not a MAC address"),
    nf("arp-mac-byte-too-big", "arp_response.py", "--ip", "10.0.0.1", "--mac",
       "02:00:00:00:00:1ff", says="is not a MAC address"),
    nf("arp-bad-ip", "arp_response.py", "--ip", "10.0.0.300", says="not an IPv4 address"),
    nf("arp-no-ip", "arp_response.py", says="the following arguments are required: --ip"),
    nf("fw-rules-directory", "firewall.py", "--rules", "{tmp}", says="is a directory"),
    nf("fw-rules-missing", "firewall.py", "--rules", "{tmp}/nope.toml",
       says="does not exist"),
    nf("fw-batch-zero", "firewall.py", "--rules", "{tmp}/r.toml", "--batch", "0",
       says="argument --batch: must be a whole number from 1 to 1024", **{"r.toml": ""}),
    nf("fw-batch-10-to-9", "firewall.py", "--rules", "{tmp}/r.toml", "--batch", "1000000000",
       says="argument --batch", **{"r.toml": ""}),
    rules("fw-default-array", "default = ['drop']\n", "default must be 'pass' or 'drop'"),
    rules("fw-default-table", "default = {a = 1}\n", "default must be 'pass' or 'drop'"),
    rules("fw-action-array", "[[rules]]\naction = ['pass']\n", "rule 1: action must be"),
    rules("fw-action-table", "[[rules]]\naction = {a = 1}\n", "rule 1: action must be"),
    rules("fw-unknown-top-level", "defualt = 'pass'\n", "unknown key(s) defualt"),
    rules("fw-src-number", "[[rules]]\naction = 'pass'\nsrc = 10\n",
          "source 10 is not an address"),
    rules("fw-dst-not-cidr", "[[rules]]\naction = 'pass'\ndst = '10'\n",
          "destination '10' is not an IPv4 or IPv6 address or CIDR"),
    rules("fw-rules-not-tables", "rules = 5\n", "rules must be [[rules]] tables"),
    rules("fw-5000-digit-port", f"[[rules]]\naction = 'pass'\ndst_port = {BIG}\n",
          "an integer too long"),
    rules("fw-port-70000", "[[rules]]\naction = 'drop'\ndst_port = 70000\n",
          "not within 0-65535"),
    nf("ft-interval-zero", "flow_tracker.py", "--interval", "0",
       says="argument --interval: must be a number from 0.01"),
    nf("ft-interval-negative", "flow_tracker.py", "--interval", "-1",
       says="argument --interval"),
    nf("ft-top-negative", "flow_tracker.py", "--top", "-1",
       says="argument --top: must be a whole number from 0"),
    nf("ft-idle-nan", "flow_tracker.py", "--idle-timeout", "nan",
       says="argument --idle-timeout"),
    nf("bm-py-unknown", "basic_monitor.py", "--bogus", says="unrecognized arguments: --bogus"),
]


def user_nf(id: str, path: str, says: str, **files: str) -> Bad:  # noqa: A002
    """onvm-nf given the path of a user's NF that cannot run."""
    return Bad(id, ("onvm-nf", path, "--service", "1", "--name", "{mgr}"), USAGE, says, files)


USER_NFS = [
    user_nf("user-nf-missing", "{tmp}/nope", "no NF file '"),
    user_nf("user-nf-py-missing", "{tmp}/nope.py", "no NF file '"),
    user_nf("user-nf-directory", "{tmp}/", "is a directory: give the NF's .py file or C binary"),
    user_nf("user-nf-not-executable", "{tmp}/my_nf", "is not executable: chmod +x it",
            my_nf="#!/bin/sh\n"),
]

CASES = MANAGER_FLAGS + EAL_ARGS + CONFIG_FILES + CTL + PYTHON_NFS + USER_NFS


@pytest.fixture
def endpoints(tmp_path):
    """A socket file no one listens on, and a TCP port no one listens on."""
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "dead.sock"))
    dead.close()  # the file stays: what a manager killed with -9 leaves
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    return {"closed_port": closed_port}


@pytest.fixture
def manager_name():
    """A name no manager uses; whatever a case left under it is removed."""
    name = f"bi-{secrets.token_hex(4)}"
    yield name
    left = [p for p in (runtime.RUN_ROOT / name, runtime.DPDK_RUN_ROOT /
                        runtime.file_prefix(name)) if p.exists()]
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    assert runtime.remove_dpdk_files(name) == 0 and not left, f"left behind: {left}"


def test_the_table_covers_every_tool():
    assert len(CASES) >= 60
    assert {c.argv[0] for c in CASES} == {"onvm-manager", "onvm-ctl", "onvm-nf"}


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input_is_one_line_and_an_exit_code(case, tmp_path, manager_name, endpoints):
    run_case(case, tmp_path, manager_name, **endpoints)
