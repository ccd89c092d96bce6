"""Running local servers: one managed-process helper, the cgroup creator, loopback helpers."""
