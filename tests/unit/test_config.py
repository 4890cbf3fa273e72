# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.bringup.config: chain and core specs, TOML files, validation, overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from onvm.errors import ConfigError
from onvm.manager.bringup import config as configlib
from onvm.manager.bringup.config import (
    MAX_CHAIN_HOPS,
    MAX_PORTS,
    MAX_SERVICES,
    Config,
    Hop,
    load,
    override,
    parse_chain,
    parse_cores,
    parse_rx_queues,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "manager.toml"
TWO_CPUS = {0, 1}


# ---- parse_chain ----


def test_parse_chain_services_and_output_port():
    assert parse_chain("1,2,out:1") == [Hop("nf", 1), Hop("nf", 2), Hop("port", 1)]


def test_parse_chain_tolerates_spaces_around_hops():
    assert parse_chain(" 3 , out:0 ") == [Hop("nf", 3), Hop("port", 0)]


def test_parse_chain_accepts_the_limits():
    hops = parse_chain(f"{MAX_SERVICES - 1},out:{MAX_PORTS - 1}")
    assert hops == [Hop("nf", MAX_SERVICES - 1), Hop("port", MAX_PORTS - 1)]


@pytest.mark.parametrize("spec", ["", "   "])
def test_parse_chain_empty_spec_is_the_empty_chain(spec):
    assert parse_chain(spec) == []


def test_hop_str_round_trips_through_parse_chain():
    hops = parse_chain("5,out:2,tee:9,7")
    assert parse_chain(",".join(str(h) for h in hops)) == hops


def test_parse_chain_tee_hops_copy_to_services():
    assert parse_chain("tee:2, tee:3,out:1") == [Hop("tee", 2), Hop("tee", 3), Hop("port", 1)]
    assert parse_chain(f"tee:{MAX_SERVICES - 1}") == [Hop("tee", MAX_SERVICES - 1)]


@pytest.mark.parametrize(
    "spec, bad_hop",
    [
        ("0", "0"),  # service 0 means "none"
        (str(MAX_SERVICES), str(MAX_SERVICES)),
        (f"out:{MAX_PORTS}", f"out:{MAX_PORTS}"),
        ("x", "x"),
        ("1,x,2", "x"),
        ("-1", "-1"),
        ("out:", "out:"),
        ("out:-1", "out:-1"),
        ("1,,2", ""),
        ("1.5", "1.5"),
        ("tee:0", "tee:0"),
        (f"tee:{MAX_SERVICES}", f"tee:{MAX_SERVICES}"),
        ("tee:", "tee:"),
        ("tee:x", "tee:x"),
        ("tee:-2", "tee:-2"),
        ("tee:1e3", "tee:1e3"),
        ("tee:out:1", "tee:out:1"),
    ],
)
def test_parse_chain_rejects_bad_hop_naming_it(spec, bad_hop):
    with pytest.raises(ConfigError) as err:
        parse_chain(spec)
    assert f"'{bad_hop}'" in str(err.value)


def test_parse_chain_rejects_a_huge_tee_service_in_one_line():
    with pytest.raises(ConfigError) as err:
        parse_chain("tee:" + "9" * 400)
    assert "tee: takes a service id from 1 to" in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_parse_chain_accepts_max_hops():
    assert len(parse_chain(",".join(["1"] * MAX_CHAIN_HOPS))) == MAX_CHAIN_HOPS


def test_parse_chain_rejects_more_than_max_hops():
    with pytest.raises(ConfigError, match=f"at most {MAX_CHAIN_HOPS}"):
        parse_chain(",".join(["1"] * (MAX_CHAIN_HOPS + 1)))


@pytest.mark.parametrize("spec", ["²", "out:²"])
def test_parse_chain_non_ascii_digit_is_a_config_error(spec):
    with pytest.raises(ConfigError):
        parse_chain(spec)


# ---- parse_cores ----


@pytest.mark.parametrize(
    "spec, cores",
    [
        ("0,1", [0, 1]),
        ("0-1", [0, 1]),
        ("1,0", [1, 0]),  # order is kept: the first is the control core
        ("3", [3]),
        ("0-2,5", [0, 1, 2, 5]),
        (" 0 , 1 ", [0, 1]),
        ("2-2", [2]),
        ([0, 1], [0, 1]),
        ([1], [1]),
        (["0-1"], [0, 1]),
        # The control CPU may also run a worker: two workers on two CPUs.
        ("0,0,1", [0, 0, 1]),
        ("0,0", [0, 0]),
        ("1,0-1", [1, 0, 1]),
    ],
)
def test_parse_cores_valid(spec, cores):
    assert parse_cores(spec) == cores


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1-0", "backwards"),
        ("0,1,1", "names a worker CPU twice"),
        ("0-2,1", "names a worker CPU twice"),
        ([2, 1, 1], "twice"),
        ("0,0,0", "twice"),
        ("", "at least one"),
        (",", "at least one"),
        ([], "at least one"),
        ("x", "'x'"),
        ("0,a", "'a'"),
        ("-1", "'-1'"),
        ("0-", "'0-'"),
        ("1.5", "'1.5'"),
        ("0-1-2", "'0-1-2'"),
        ([True], "'True'"),
        ([0.5], "'0.5'"),
    ],
)
def test_parse_cores_rejects(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_cores(spec)


# ---- load ----

FULL_TOML = """
[manager]
name = "edge-1"
cores = "0-1"
wait_for_chain = true
stats_interval = 2.5
nf_stop_timeout = 7

[dataplane]
burst_size = 16
nf_ring_size = 1024
num_mbufs = 8191
mbuf_cache = 128
max_flow_rules = 512
port_rx_desc = 512
port_tx_desc = 256
rx_queues = 4
chain_grace_ms = 50
idle_sleep_us = 500
wake_batch = 8
wake_delay_us = 5
nf_to_nf = "direct"
latency_sample = 16

[control]
tcp = "0.0.0.0:5555"
curve_keys = "/etc/onvm/keys"
stats_publish_interval = 0.5
prometheus = "9100"
web = "127.0.0.1:8080"
max_request_bytes = 4096
capture_dir = "/srv/onvm/captures"

[ports]
devargs = ["net_null0", "net_null1"]
rx_timestamps = true

[chains]
default = "1,out:1"

[eal]
args = ["--log-level=8"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manager.toml"
    path.write_text(text)
    return path


def test_load_none_gives_defaults():
    assert load(None) == Config()


def test_load_sets_every_documented_key(tmp_path):
    config = load(_write(tmp_path, FULL_TOML))
    assert config == Config(
        name="edge-1",
        cores=[0, 1],
        wait_for_chain=True,
        stats_interval=2.5,
        nf_stop_timeout=7,
        burst_size=16,
        nf_ring_size=1024,
        num_mbufs=8191,
        mbuf_cache=128,
        max_flow_rules=512,
        port_rx_desc=512,
        port_tx_desc=256,
        rx_queues=4,
        chain_grace_ms=50,
        idle_sleep_us=500,
        wake_batch=8,
        wake_delay_us=5,
        nf_to_nf="direct",
        latency_sample=16,
        control_tcp="0.0.0.0:5555",
        curve_keys="/etc/onvm/keys",
        stats_publish_interval=0.5,
        prometheus="9100",
        web="127.0.0.1:8080",
        max_request_bytes=4096,
        capture_dir="/srv/onvm/captures",
        ports=["net_null0", "net_null1"],
        rx_timestamps=True,
        chain=[Hop("nf", 1), Hop("port", 1)],
        eal_args=["--log-level=8"],
    )


def test_load_full_file_covers_every_key_of_the_default_file(tmp_path):
    """FULL_TOML must keep up with configs/manager.toml."""
    import tomllib

    def keys(text: str) -> set[str]:
        return set(configlib._flatten(tomllib.loads(text)))

    assert keys(DEFAULT_CONFIG.read_text()) == keys(FULL_TOML)


def test_load_partial_file_keeps_other_defaults(tmp_path):
    config = load(_write(tmp_path, "[dataplane]\nburst_size = 8\n"))
    assert config == dataclasses.replace(Config(), burst_size=8)


def test_load_cores_as_list(tmp_path):
    assert load(_write(tmp_path, "[manager]\ncores = [1, 0]\n")).cores == [1, 0]


def test_load_empty_file_gives_defaults(tmp_path):
    assert load(_write(tmp_path, "")) == Config()


@pytest.mark.parametrize(
    "text, key",
    [
        ("[manager]\nfoo = 1\n", "manager.foo"),
        ("[dataplane]\nburst = 32\n", "dataplane.burst"),
        ("name = 'x'\n", "name"),  # a known key outside its table
        ("[manager.name]\nx = 1\n", "manager.name.x"),
        ("[nosuchtable]\nkey = 1\n", "nosuchtable.key"),
    ],
)
def test_load_rejects_unknown_key_naming_it(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert f"'{key}'" in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "text, key",
    [
        ("[manager]\nname = 5\n", "manager.name"),
        ("[manager]\ncores = 1\n", "manager.cores"),
        ("[manager]\nwait_for_chain = 1\n", "manager.wait_for_chain"),
        ("[manager]\nwait_for_chain = 'yes'\n", "manager.wait_for_chain"),
        ("[manager]\nstats_interval = '1'\n", "manager.stats_interval"),
        ("[dataplane]\nburst_size = true\n", "dataplane.burst_size"),  # bool is not an int
        ("[dataplane]\nnum_mbufs = false\n", "dataplane.num_mbufs"),
        ("[dataplane]\nnf_ring_size = 4096.0\n", "dataplane.nf_ring_size"),
        ("[dataplane]\nburst_size = '32'\n", "dataplane.burst_size"),
        ("[ports]\ndevargs = 'net_null0'\n", "ports.devargs"),
        ("[ports]\nrx_timestamps = 1\n", "ports.rx_timestamps"),
        ("[ports]\nrx_timestamps = 'yes'\n", "ports.rx_timestamps"),
        ("[chains]\ndefault = [1, 2]\n", "chains.default"),
        ("[eal]\nargs = '--no-pci'\n", "eal.args"),
    ],
)
def test_load_rejects_wrong_type_naming_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match="wrong type") as err:
        load(_write(tmp_path, text))
    assert f"'{key}'" in str(err.value)


@pytest.mark.parametrize("key", ["stats_interval", "nf_stop_timeout"])
def test_load_rejects_bool_for_seconds(tmp_path, key):
    with pytest.raises(ConfigError, match="wrong type"):
        load(_write(tmp_path, f"[manager]\n{key} = true\n"))


@pytest.mark.parametrize(
    "text",
    [
        "[ports]\ndevargs = ['net_null0', 1]\n",
        "[eal]\nargs = [true]\n",
    ],
)
def test_load_rejects_lists_of_non_strings(tmp_path, text):
    with pytest.raises(ConfigError, match="list of strings"):
        load(_write(tmp_path, text))


def test_load_checks_chain_and_cores_values(tmp_path):
    with pytest.raises(ConfigError, match="'x'"):
        load(_write(tmp_path, "[chains]\ndefault = '1,x'\n"))
    with pytest.raises(ConfigError, match="backwards"):
        load(_write(tmp_path, "[manager]\ncores = '1-0'\n"))


@pytest.mark.parametrize(
    "text",
    [
        "[manager\nname = 'x'\n",
        "x = [\n",
        "[manager]\nname = \n",
        "[manager]\nname = 'a'\nname = 'b'\n",  # duplicate key
    ],
)
def test_load_rejects_malformed_toml(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_load_rejects_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[manager]\nname = '\xe9'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as err:
        load(path)
    assert str(path) in str(err.value)


def test_load_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory: give the TOML file in it"):
        load(tmp_path)


# ---- the documented default file ----


def test_default_config_file_loads_and_validates():
    config = load(DEFAULT_CONFIG).validate(available_cpus=TWO_CPUS)
    assert config.name == "onvm"
    assert config.cores == [0, 1]


def test_default_config_file_matches_builtin_defaults():
    """configs/manager.toml documents the defaults used without a file."""
    assert load(DEFAULT_CONFIG) == Config()


# ---- Config.validate ----


def test_validate_returns_the_config():
    config = Config()
    assert config.validate(available_cpus=TWO_CPUS) is config


def test_validate_default_config_on_this_machine():
    import os

    cpus = sorted(os.sched_getaffinity(0))
    Config(cores=cpus[:2]).validate()


@pytest.mark.parametrize("name", ["", "a b", "a/b", "x" * 33, "naïve", "a.b", "a\tb"])
def test_validate_rejects_bad_name(name):
    with pytest.raises(ConfigError, match="name"):
        Config(name=name).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("name", ["a", "onvm", "t_1-x", "x" * 32])
def test_validate_accepts_good_name(name):
    Config(name=name).validate(available_cpus=TWO_CPUS)


def test_validate_rejects_name_with_trailing_newline():
    with pytest.raises(ConfigError, match="name"):
        Config(name="onvm\n").validate(available_cpus=TWO_CPUS)


def test_validate_rejects_nonexistent_core_naming_it_and_the_available_ones():
    with pytest.raises(ConfigError) as err:
        Config(cores=[0, 99]).validate(available_cpus=TWO_CPUS)
    assert "core 99" in str(err.value)
    assert "0,1" in str(err.value)


def test_validate_uses_the_given_cpus_not_the_machine():
    Config(cores=[40, 41]).validate(available_cpus={40, 41})
    with pytest.raises(ConfigError, match="core 0"):
        Config(cores=[0, 1]).validate(available_cpus={40, 41})


def test_validate_single_core_shares_it():
    config = Config(cores=[1]).validate(available_cpus=TWO_CPUS)
    assert config.control_core == 1
    assert config.worker_cores == [1]


def test_validate_rejects_too_many_workers():
    cpus = set(range(configlib.MAX_WORKERS + 2))
    Config(cores=list(range(configlib.MAX_WORKERS + 1))).validate(available_cpus=cpus)
    with pytest.raises(ConfigError, match="at most"):
        Config(cores=list(range(configlib.MAX_WORKERS + 2))).validate(available_cpus=cpus)


@pytest.mark.parametrize("size", [0, 1, 32, 100, 1000, 4095, -4096])
def test_validate_rejects_bad_nf_ring_size(size):
    with pytest.raises(ConfigError, match="nf_ring_size"):
        Config(nf_ring_size=size).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("size", [64, 128, 4096, 1 << 16])
def test_validate_accepts_power_of_two_nf_ring_size(size):
    Config(nf_ring_size=size).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("burst", [0, -1, 65, 1000])
def test_validate_rejects_burst_size_out_of_range(burst):
    with pytest.raises(ConfigError, match="burst_size"):
        Config(burst_size=burst).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("burst", [1, 32, 64])
def test_validate_accepts_burst_size_in_range(burst):
    Config(burst_size=burst).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("mbufs", [0, 1023, -1])
def test_validate_rejects_too_few_mbufs(mbufs):
    with pytest.raises(ConfigError, match="num_mbufs"):
        Config(num_mbufs=mbufs).validate(available_cpus=TWO_CPUS)


def test_validate_accepts_minimum_mbufs():
    Config(num_mbufs=1024).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("cache", [-1, 513])
def test_validate_rejects_mbuf_cache_out_of_range(cache):
    with pytest.raises(ConfigError, match="mbuf_cache"):
        Config(mbuf_cache=cache).validate(available_cpus=TWO_CPUS)


def test_validate_rejects_negative_stats_interval():
    Config(stats_interval=0).validate(available_cpus=TWO_CPUS)
    with pytest.raises(ConfigError, match="stats_interval"):
        Config(stats_interval=-0.5).validate(available_cpus=TWO_CPUS)


def test_validate_rejects_too_many_ports():
    ports = [f"net_null{i}" for i in range(MAX_PORTS + 1)]
    Config(ports=ports[:-1]).validate(available_cpus=TWO_CPUS)
    with pytest.raises(ConfigError, match="ports"):
        Config(ports=ports).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize("devargs", ["", "  "])
def test_validate_rejects_empty_port(devargs):
    with pytest.raises(ConfigError, match="empty --port"):
        Config(ports=["net_null0", devargs]).validate(available_cpus=TWO_CPUS)


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_flow_rules", 0),
        ("max_flow_rules", 16385),
        ("port_rx_desc", 0),
        ("port_tx_desc", -1),
        ("chain_grace_ms", -1),
        ("idle_sleep_us", -1),
        ("idle_sleep_us", 10**30),
        ("idle_sleep_us", float("nan")),
        ("wake_batch", 0),
        ("wake_batch", 1 << 17),
        ("wake_delay_us", 1_000_001),
        ("wake_delay_us", "20us"),
    ],
)
def test_validate_rejects_unusable_sizes(field, value):
    with pytest.raises(ConfigError, match=field):
        Config(**{field: value}).validate(available_cpus=TWO_CPUS)


# ---- override ----


def test_override_applies_given_flags_only():
    base = Config(name="a", burst_size=16, ports=["net_null0"])
    new = override(base, name="b", burst_size=None, ports=None, num_mbufs=2048)
    assert new.name == "b"
    assert new.burst_size == 16
    assert new.ports == ["net_null0"]
    assert new.num_mbufs == 2048


def test_override_does_not_change_the_original():
    base = Config()
    new = override(base, name="other", cores=[1])
    assert base == Config()
    assert (new.name, new.cores) == ("other", [1])


def test_override_false_and_zero_are_given_values():
    base = Config(wait_for_chain=True, stats_interval=3.0)
    new = override(base, wait_for_chain=False, stats_interval=0)
    assert new.wait_for_chain is False
    assert new.stats_interval == 0


def test_override_nothing_is_equal():
    assert override(Config(name="x")) == Config(name="x")


def test_override_unknown_flag_raises():
    with pytest.raises(TypeError):
        override(Config(), no_such_field=1)


# As written in TOML (\u0000 is a NUL character).
@pytest.mark.parametrize("value", ["captures", "", "./x", "/tmp/a\\u0000b"])
def test_capture_dir_must_be_an_absolute_path(tmp_path, value):
    path = tmp_path / "c.toml"
    path.write_text(f'[control]\ncapture_dir = "{value}"\n')
    with pytest.raises(ConfigError, match="capture_dir .* must be an absolute path"):
        configlib.load(path).validate(available_cpus={0, 1})


def test_capture_dir_from_the_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[control]\ncapture_dir = "/srv/captures"\n')
    assert configlib.load(path).validate(available_cpus={0, 1}).capture_dir == "/srv/captures"


# ---- rx_queues ----


@pytest.mark.parametrize("value, parsed", [
    ("auto", "auto"), (" AUTO ", "auto"), (1, 1), (16, 16), ("4", 4),
])
def test_rx_queues_valid(value, parsed):
    assert parse_rx_queues(value) == parsed


@pytest.mark.parametrize("value", [0, 17, -1, "0", "many", "", "nan", "1.5", "9" * 5000,
                                   True, 2.0, None])
def test_rx_queues_rejects_with_one_line(value):
    with pytest.raises(ConfigError) as err:
        parse_rx_queues(value)
    message = str(err.value)
    assert 'rx_queues takes "auto"' in message and "from 1 to 16" in message
    assert "\n" not in message and len(message) < 200


def test_load_rx_queues(tmp_path):
    assert load(_write(tmp_path, "[dataplane]\nrx_queues = 2\n")).rx_queues == 2
    assert load(_write(tmp_path, "[dataplane]\nrx_queues = 'auto'\n")).rx_queues == "auto"
    path = _write(tmp_path, "[dataplane]\nrx_queues = 99\n")
    with pytest.raises(ConfigError, match="'dataplane.rx_queues' takes") as err:
        load(path)
    assert str(path) in str(err.value)
    with pytest.raises(ConfigError, match="wrong type"):
        load(_write(tmp_path, "[dataplane]\nrx_queues = true\n"))
    with pytest.raises(ConfigError, match="wrong type"):
        load(_write(tmp_path, "[dataplane]\nrx_queues = 2.0\n"))


def test_the_shipped_config_says_auto():
    assert load(DEFAULT_CONFIG).rx_queues == "auto"


@pytest.mark.parametrize("mode", ["", "Direct", "both", "direct ", "x" * 5000, "\0"])
def test_nf_to_nf_takes_manager_or_direct(mode):
    with pytest.raises(ConfigError, match="nf_to_nf .*give manager or direct"):
        Config(nf_to_nf=mode).validate(available_cpus=TWO_CPUS)


def test_nf_to_nf_of_the_wrong_type_in_a_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[dataplane]\nnf_to_nf = 1\n")
    with pytest.raises(ConfigError, match="nf_to_nf"):
        configlib.load(path)
