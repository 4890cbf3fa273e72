# SPDX-License-Identifier: BSD-3-Clause
"""The one exception hierarchy of onvm.

Every error a user can meet is an OnvmError whose message is one line that
names the problem and the fix; the command-line tools print it and exit
non-zero instead of showing a traceback.
"""


class OnvmError(Exception):
    """Base of every onvm error."""

    exit_code = 1


class ConfigError(OnvmError):
    """A configuration file or command-line value is invalid."""

    exit_code = 2


class EnvironmentProblem(OnvmError):
    """The machine lacks something onvm needs: root, hugepages, DPDK."""

    exit_code = 3


class ManagerExists(OnvmError):
    """A manager with the same name is already running."""

    exit_code = 4


class ManagerNotRunning(OnvmError):
    """No manager with the given name is running."""

    exit_code = 5


class DpdkError(OnvmError):
    """A DPDK call failed; carries its errno and rte_strerror text."""

    def __init__(self, what: str, errno: int, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.errno = errno
        self.detail = detail


class PortError(DpdkError):
    """A port could not be probed, configured or started."""


class RuleError(OnvmError):
    """A 5-tuple rule (firewall, flow rule) is malformed."""

    exit_code = 2


class ControlError(OnvmError):
    """An error reply of the control protocol, or a request a client could
    not deliver: `code` is one of onvm.manager.protocol's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
