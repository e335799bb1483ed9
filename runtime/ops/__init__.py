"""The operations: one module per command that changes or reads a
container, each a function of (ctx, container id, ...) that the thin
`cli/` modules call after parsing their arguments.

create, start, kill, delete, run, exec, freeze (pause/resume), update,
events, ps, state, listing (list) and validate; spawn.py holds what create and exec share, kill.py the
helpers that stop a container, recovery.py the record `delete --force`
falls back on, notify.py NOTIFY_SOCKET, devices.py what create hands the
container from outside. Kept empty of imports: the hot commands load only
the modules they call.
"""
