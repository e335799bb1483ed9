/* The C front door (door.c): launcher.c's first try, and the Python CLI's
 * for the same commands (runtime/__main__.py, through cffi): one
 * implementation, two callers. */
#ifndef OCIRUN_DOOR_H
#define OCIRUN_DOOR_H

#include <stdint.h>

/* CDEF-BEGIN */
enum { OCIRUN_DOOR_DELEGATE = -1 }; /* not answered: the caller goes on in Python */

/* Answer argv (`ocirun [global options] state|start|kill|delete ...`, argv[0]
 * the program): the exit code, having written the output to outfd and the
 * error or warning lines to errfd (and --log); or OCIRUN_DOOR_DELEGATE
 * before anything was changed and with nothing written (see door.c for what
 * is handed over, and the one exception). */
int ocirun_door(int argc, char **argv, int outfd, int errfd);
/* After OCIRUN_DOOR_DELEGATE: the CLOCK_MONOTONIC deadline (ms) of the wait
 * the door began before handing over (delete: REMOVE_TIMEOUT), or -1. The
 * caller finishes within it: one bound, not one per door. */
int64_t ocirun_door_handover_deadline(void);
/* CDEF-END */

#define DOOR_DELEGATE OCIRUN_DOOR_DELEGATE

#endif
