"""Where ocirun accepts what the spec's schema or text does not: one home.

Engines and tools write configs that the runtime-spec's schema refuses, or
that its text leaves unsaid, and runc and crun run them. ocirun runs them too,
and `ocirun validate` still reports each one as a warning line (`validate
--strict` makes them errors). The schemas in oci-schemas/ stay the spec's: a
tolerance lives here, never in an edited schema. oci-schemas/README.md has
the same list as a table, with the peers' behaviour behind each entry.

Each tolerance is a (path, message) warning; `schema_tolerated` says which
schema findings it covers (they are then warnings, not errors), `warnings`
lists every tolerated form a config uses (for validate), validation.py's
one pass accepts those forms, and plan.py translates them (default_id_maps,
ambient_dropped) without checking again.
"""

# rootfsPropagation: the spec lists private, shared, slave and unbindable;
# dockerd, containerd's CRI plugin and CRI-O write the recursive forms
# (rslave for HostToContainer volumes, rshared for Bidirectional), and runc
# and crun accept them. The propagation ocirun sets on `/` is recursive either
# way, so an r-form means the same as the plain one.
RECURSIVE_PROPAGATION = ("rprivate", "rshared", "rslave", "runbindable")


def schema_tolerated(cfg, path, message):
    """The warning that replaces a schema finding, or None if it stays an error."""
    if path == "linux.rootfsPropagation" and _propagation(cfg) in RECURSIVE_PROPAGATION:
        return _propagation_warning(cfg)
    return None


def warnings(cfg):
    """(path, message) of every tolerated form the config uses."""
    out = []
    if _propagation(cfg) in RECURSIVE_PROPAGATION:
        out.append(("linux.rootfsPropagation", _propagation_warning(cfg)))
    linux = cfg.get("linux") if isinstance(cfg.get("linux"), dict) else {}
    uts = joined_namespace(linux, "uts")
    for key in ("hostname", "domainname"):
        if cfg.get(key) and uts:
            out.append(
                (
                    key,
                    "sets the %s of the joined uts namespace `%s` (the spec asks for a new one; "
                    "runc and crun set it, as pods that share a uts namespace need)" % (key, uts),
                )
            )
    out.extend(("process.capabilities.ambient", m) for m in ambient_dropped_messages(cfg.get("process")))
    if unmapped_userns(linux):
        out.append(("linux.uidMappings", UNMAPPED_WARNING))
    return out


# A new user namespace without uidMappings and gidMappings: the spec has no
# MUST against it, and crun (1.8.1) runs it: it maps the namespace's 0 to its
# own uid and gid, size 1, for both. ocirun does the same. With no map at all
# (what the kernel leaves) the container could not even set up its own /dev:
# a filesystem mounted in that namespace refuses to create files for an id it
# does not map (EOVERFLOW). Only 0 is mapped, so the process must be user 0:0
# (additionalGids at most [0]); the container's root is ocirun's own user, with
# the capabilities the config gives, in its own namespace. runc 1.1 refuses
# such a config.
UNMAPPED_WARNING = (
    "a new user namespace without uid or gid mappings: its 0 is mapped to the runtime's own "
    "uid and gid (size 1), as crun does"
)
UNMAPPED_USER_MESSAGE = (
    "a user namespace without uid/gid mappings maps only 0 (to the runtime's own ids): "
    "the process must be uid 0, gid 0, additionalGids at most [0]"
)


def default_id_maps(uid, gid):
    """The (uidMappings, gidMappings) of a new user namespace the config gives none."""
    return ([{"containerID": 0, "hostID": uid, "size": 1}], [{"containerID": 0, "hostID": gid, "size": 1}])


def unmapped_userns(linux):
    """Does linux ask for a new user namespace with neither uid nor gid mappings?"""
    if not isinstance(linux, dict):
        return False
    new_user = any(
        isinstance(ns, dict) and ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces") or ()
    )
    return new_user and not linux.get("uidMappings") and not linux.get("gidMappings")


def unmapped_user_ok(process):
    """Does process.user fit a user namespace without maps (only 0 is mapped)?"""
    user = (process or {}).get("user") if isinstance(process, dict) else None
    if not isinstance(user, dict):
        return True
    return user.get("uid", 0) == 0 and user.get("gid", 0) == 0 and set(user.get("additionalGids") or ()) <= {0}


def joined_namespace(linux, ns_type):
    """The path of a namespace of that type joined by path, or None."""
    for ns in linux.get("namespaces") or ():
        if isinstance(ns, dict) and ns.get("type") == ns_type and ns.get("path"):
            return ns["path"]
    return None


def ambient_dropped(caps, names):
    """Ambient capability names that cannot be raised: the kernel raises an
    ambient capability only if it is both permitted and inheritable. runc 1.1's
    `spec` lists ambient ones without inheritable ones; runc >= 1.2 and crun
    warn and go on, and so does ocirun."""
    permitted = set(caps.get("permitted") or ())
    inheritable = set(caps.get("inheritable") or ())
    return [n for n in names if n not in permitted or n not in inheritable]


def ambient_dropped_messages(process):
    caps = (process or {}).get("capabilities") if isinstance(process, dict) else None
    if not isinstance(caps, dict):
        return []
    dropped = ambient_dropped(caps, caps.get("ambient") or ())
    return [ambient_message(n) for n in dropped]


def ambient_message(name):
    return (
        "%s is not both permitted and inheritable, so it cannot be raised: ignored (as runc >= 1.2 and crun do)" % name
    )


def _propagation(cfg):
    linux = cfg.get("linux")
    return linux.get("rootfsPropagation") if isinstance(linux, dict) else None


def _propagation_warning(cfg):
    prop = _propagation(cfg)
    return (
        "%r is not in the spec's list (private, shared, slave, unbindable); accepted as the recursive "
        "form engines write, as runc and crun do" % prop
    )
