"""Loading and validating a bundle's config.json.

validate(config) returns every problem as one line naming the JSON path
(`linux.namespaces[1].type: 'foo' is not one of [...]`); load_config raises
ConfigError with all of them. Imported only by commands that read a config
(create, run, validate, exec, update): it is not on the hot path.
"""

import os

from . import errors, fastjson

CONFIG_NAME = "config.json"


def read_json(path, label):
    """Parse a JSON file; a missing, unreadable or non-regular file is a ConfigError."""
    import stat

    try:
        # O_NONBLOCK: a fifo planted as config.json must not hang create.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.ConfigError(["%s: no such file `%s`" % (label, path)]) from None
    except OSError as e:
        raise errors.ConfigError(["%s: cannot read `%s`: %s" % (label, path, errors.strerror(e.errno))]) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise errors.ConfigError(["%s: `%s` is a directory" % (label, path)])
        if not stat.S_ISREG(st.st_mode):
            raise errors.ConfigError(["%s: `%s` is not a regular file" % (label, path)])
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        raw = b"".join(chunks)
    except OSError as e:
        raise errors.ConfigError(["%s: cannot read `%s`: %s" % (label, path, errors.strerror(e.errno))]) from None
    finally:
        os.close(fd)
    try:
        return fastjson.loads(raw)
    except UnicodeDecodeError as e:
        raise errors.ConfigError(["%s: not UTF-8: %s" % (label, e)]) from None
    except ValueError as e:
        raise errors.ConfigError(["%s: invalid JSON: %s" % (label, e)]) from None


def load_config(bundle, config=None):
    """Read and validate <bundle>/config.json (or `config`, relative to the bundle).

    Returns the config as a dict; raises ConfigError listing every problem.
    """
    bundle = os.path.abspath(bundle or ".")
    cfg, label = read_config(bundle, config)
    problems = validate(cfg, bundle)
    if problems:
        raise errors.ConfigError(["%s: %s" % (label, p) for p in problems])
    return cfg


def read_config(bundle, config=None):
    """(parsed config, its label for messages) of an absolute bundle; ConfigError when unreadable."""
    if not os.path.isdir(bundle):
        raise errors.ConfigError(
            ["--bundle `%s`: %s" % (bundle, "no such directory" if not os.path.lexists(bundle) else "not a directory")]
        )
    path = os.path.join(bundle, config or CONFIG_NAME)
    label = os.path.basename(path)
    return read_json(path, label), label


def validate(cfg, bundle):
    """Every problem of a parsed config, as 'path: message' lines ([] when valid)."""
    from . import validation

    return validation.problems(cfg, bundle)
