# SPDX-License-Identifier: BSD-3-Clause
"""The control server: ZeroMQ sockets served from the manager's control
thread, the commands they run, and the Prometheus exporter."""
