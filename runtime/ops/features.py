"""What the operations implement, for the features document."""

# What the operations implement, for the features document (cli/features.py
# intersects the namespaces with the kernel's). apparmor/selinux: applied
# when the kernel has them, a clear error when asked for and absent.
FEATURES = {
    "namespaces": ("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"),
    "hooks": ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"),
    "apparmor": True,
    "selinux": True,
    "netDevices": True,
}
