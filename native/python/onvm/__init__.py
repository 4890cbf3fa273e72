# SPDX-License-Identifier: BSD-3-Clause
"""onvm: a userspace NFV platform on DPDK.

Packages: onvm.manager (the NF manager), onvm.nflib (writing NFs in Python),
onvm.nfs (bundled NFs), onvm.pydpdk (cffi bindings to DPDK and the native
data plane).
"""

from onvm._build_info import DPDK_VERSION, VERSION
from onvm.errors import OnvmError

__version__ = VERSION
__all__ = ["DPDK_VERSION", "OnvmError", "__version__"]
