# SPDX-License-Identifier: BSD-3-Clause
"""Scenario placeholder: being written."""

NAME = "latency"
HELP = "(being written)"


def add_args(parser) -> None:
    pass


def run(args) -> dict:
    raise RuntimeError("this scenario is not written yet")


def render(result: dict) -> str:
    return ""
