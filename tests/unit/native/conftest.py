# SPDX-License-Identifier: BSD-3-Clause
"""A shared region for the native unit tests: made in ordinary memory, laid
out as the manager lays it out in hugepages (cache-line aligned, zeroed)."""

from __future__ import annotations

import pytest

from onvm.pydpdk.manager import ffi
from tests.support.cdata import aligned


@pytest.fixture()
def shared():
    return aligned(ffi, "struct onvm_shared")
