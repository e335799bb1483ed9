"""DE-FACTO: configs that engines and tools write, which the spec's schema or
text refuses, and that runc and crun run (ocirun: runtime/tolerance.py and
the tolerance table in oci-schemas/README.md). Each check runs the config
for real and looks at the container from inside.
"""

from __future__ import annotations

import os

import pytest

from conformance.capnames import names
from conformance.harness import Lazy, Unsupported, host_ns, mount_at, mountinfo


@pytest.mark.parametrize("prop", ["rprivate", "rslave", "rshared"])
def test_recursive_root_propagation(env, spec, prop):
    """dockerd, containerd's CRI plugin and CRI-O write rslave/rshared (volumes
    with HostToContainer/Bidirectional propagation), other tools rprivate."""
    run = env.lazy("rprop-" + prop, mutate=lambda c, b: c["linux"].__setitem__("rootfsPropagation", prop))
    with spec.check(
        "config-linux.md#rootfs-mount-propagation",
        "DE-FACTO",
        f"rootfsPropagation `{prop}` (not in the spec's list) is accepted",
    ):
        root = mount_at(mountinfo(run().facts["mountinfo"]), "/")
        assert root is not None, "no root mount in the container's mountinfo"


def test_ambient_without_inheritable(env, spec):
    """`runc spec` (1.1) lists ambient capabilities that are not inheritable:
    the kernel cannot raise them; runc >= 1.2 and crun run the container
    without them."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

    def mutate(c, b):
        c["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps}

    run = env.lazy("ambient-noinh", mutate=mutate)
    with spec.check(
        "config.md#linux-process",
        "DE-FACTO",
        "ambient capabilities that are not inheritable are dropped, not an error (runc spec's config)",
    ):
        f = run().facts
        assert set(names(int(f["status"]["CapAmb"], 16))) == set()
        assert set(names(int(f["status"]["CapEff"], 16))) == set(caps)


def test_hostname_in_joined_uts_namespace(env, spec):
    """Pods share one uts namespace: the engine sends the hostname with a
    uts entry that has a path; runc and crun set that namespace's hostname."""
    rt = env.rt
    holder_id, holder = env.bundle("utsholder", args=["/checker", "sleep", "60"])
    st = Lazy(lambda: rt.must(rt.create(holder_id, holder.path)) and rt.state(holder_id))
    try:

        def joined():
            pid = st()["pid"]

            def mutate(c, b):
                c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"] + [
                    {"type": "uts", "path": f"/proc/{pid}/ns/uts"}
                ]
                c["hostname"] = "joined-uts"

            return env.run("utsjoin", mutate=mutate)

        with spec.check(
            "config.md#hostname",
            "DE-FACTO",
            "hostname with a uts namespace joined by path sets that namespace's hostname",
        ):
            assert joined().facts["hostname"] == "joined-uts"
    finally:
        rt.cleanup(holder_id)


def test_unknown_capability_ignored(env, spec):
    """config.md (1.1+): unknown capabilities are logged and ignored."""

    def mutate(c, b):
        caps = ["CAP_KILL", "CAP_NOT_A_REAL_ONE"]
        c["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}

    run = env.lazy("unknown-cap", mutate=mutate)
    with spec.check(
        "config.md#linux-process", "MUST", "an unknown capability name is ignored (the container runs with the others)"
    ):
        f = run().facts
        assert set(names(int(f["status"]["CapEff"], 16))) == {"CAP_KILL"}


def test_user_namespace_without_mappings(env, spec):
    """A `user` namespace with no uidMappings/gidMappings: the spec has no MUST
    against it. crun runs it (mapping the namespace's 0 to its own ids, size
    1); ocirun does the same. devpts loses its gid=5, which such a namespace
    does not map."""

    def mutate(c, b):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"].pop("uidMappings", None)
        c["linux"].pop("gidMappings", None)
        c["linux"].pop("resources", None)
        for m in c["mounts"]:
            if m["type"] == "devpts":
                m["options"] = [o for o in m["options"] if not o.startswith("gid=")]

    def go():
        if not os.path.exists("/proc/self/ns/user"):
            raise Unsupported("this kernel has no user namespaces")
        return env.run("userns-nomap", mutate=mutate)

    run = Lazy(go)
    with spec.check(
        "config-linux.md#user-namespace-mappings",
        "DE-FACTO",
        "a new user namespace without uid/gid mappings is accepted and the process runs in it",
    ):
        f = run().facts
        assert f["ns"]["user"] != host_ns(os.getpid(), "user"), "no new user namespace"
