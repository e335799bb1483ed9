"""state: a container's state (runtime.md#state, with runc's fields)."""


def state(ctx, cid):
    with ctx.store.load(cid) as c:
        return c.oci_state()
