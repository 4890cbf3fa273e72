# SPDX-License-Identifier: BSD-3-Clause
"""What users type, read one way on both sides: whole numbers and real
numbers within bounds, command lines whose errors are one line, and the
TOML files they write (config, rules).

onvm-manager's flags and config file, onvm-ctl and the bundled Python NFs
read every number through here. A value that is not a number, NaN or
infinite, or out of range (however many digits it has) is a ValueError
naming the range, which each tool turns into its own one-line error: never
a traceback, never a number too large for the C type it ends up in.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable

from onvm.errors import OnvmError

__all__ = ["ArgumentParser", "integer", "integer_arg", "number", "number_arg", "shown"]

INTEGER_RE = re.compile(r"[+-]?[0-9]+")
SHOWN_MAX = 24  # characters of a bad value quoted back to the user


def shown(value: object) -> str:
    """`value` as quoted in an error: a 5000-digit number is not echoed whole."""
    text = str(value)
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "..."


def _figure(bound: float) -> str:
    """A bound as people write it: 2592000, not 2.592e+06; 0.01 as 0.01."""
    if isinstance(bound, int) or (bound.is_integer() and abs(bound) < 1e15):
        return str(int(bound))
    return f"{bound:g}"


def _out_of_range(value: object, lo: float, hi: float, unit: str, whole: bool) -> ValueError:
    kind = "a whole number" if whole else "a number"
    return ValueError(f"must be {kind} from {_figure(lo)} to {_figure(hi)}{unit}, "
                      f"not '{shown(value)}'")


def integer(value: object, lo: int, hi: int) -> int:
    """`value`, an int or its decimal text, if it is from lo to hi.

    Raises ValueError naming the range otherwise (bools are not numbers).
    """
    if isinstance(value, str):
        text = value.strip()
        if not INTEGER_RE.fullmatch(text):
            raise _out_of_range(value, lo, hi, "", True)
        # More digits than either bound has cannot be in range; int() would
        # refuse thousands of them anyway.
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > max(len(str(abs(lo))), len(str(abs(hi)))):
            raise _out_of_range(value, lo, hi, "", True)
        number_value = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number_value = value
    else:
        raise _out_of_range(value, lo, hi, "", True)
    if not lo <= number_value <= hi:
        raise _out_of_range(value, lo, hi, "", True)
    return number_value


def number(value: object, lo: float, hi: float, unit: str = "") -> float:
    """`value`, an int, a float or its text, if it is finite and from lo to hi.

    `unit` follows the range in the message (" seconds"). Raises ValueError
    otherwise: NaN and infinities never pass.
    """
    if isinstance(value, str):
        try:
            number_value = float(value.strip())
        except ValueError:
            raise _out_of_range(value, lo, hi, unit, False) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number_value = float(value)
        except OverflowError:  # an int beyond any float
            raise _out_of_range(value, lo, hi, unit, False) from None
    else:
        raise _out_of_range(value, lo, hi, unit, False)
    if not math.isfinite(number_value) or not lo <= number_value <= hi:
        raise _out_of_range(value, lo, hi, unit, False)
    return number_value


def _argparse_type(parse: Callable[[str], object], name: str) -> Callable[[str], object]:
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = name  # what argparse calls the type in its messages
    return convert


def integer_arg(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse `type=` for a whole number from lo to hi."""
    return _argparse_type(lambda text: integer(text, lo, hi), "integer")


def number_arg(lo: float, hi: float, unit: str = "") -> Callable[[str], float]:
    """An argparse `type=` for a finite number from lo to hi."""
    return _argparse_type(lambda text: number(text, lo, hi, unit), "number")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line instead of the usage text
    and a line: `PROG: error: MESSAGE (--help lists the options)`. Its
    subparsers are of the same class. Options are taken only as spelled:
    argparse would read a typo such as `--no-limit` as the option it
    begins (`--no-limits`), and start a run nobody asked for."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def read_user_file(path: str | os.PathLike[str], what: str, error: type[OnvmError],
                   is_a_directory: str, limit: int | None = None) -> bytes:
    """The bytes of a file users named (`what`: "config file", "rules file";
    "-": standard input), at most `limit` + 1 of them; or `error` with one
    line saying what is wrong (`is_a_directory`: what to give instead)."""
    try:
        if str(path) == "-":
            return sys.stdin.buffer.read(-1 if limit is None else limit + 1)
        with open(path, "rb") as f:
            return f.read(-1 if limit is None else limit + 1)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory: {is_a_directory}") from None
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None


def read_toml(path: str | os.PathLike[str], what: str,
              error: type[OnvmError] = OnvmError) -> dict:
    """A TOML file users wrote (`what`: "config file", "rules file"), or
    `error` with one line saying what is wrong with it."""
    data = read_user_file(path, what, error, "give the TOML file in it")
    try:
        return tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} {path} is not valid TOML: {e}") from None
    except ValueError:  # tomllib turns digits into an int whatever their number
        raise error(f"{what} {path} holds an integer too long to be any value") from None

