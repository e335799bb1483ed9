/* The C front door (door.c): launcher.c's first try. No CDEF markers: private to C. */
#ifndef OCIRUN_DOOR_H
#define OCIRUN_DOOR_H

/* Hand the command, unchanged, to the Python CLI. */
#define DOOR_DELEGATE (-1)

/* Answer argv (`ocirun [global options] state|start|kill|delete ...`): the
 * exit code, or DOOR_DELEGATE before anything was changed (see door.c). */
int door_main(int argc, char **argv);

#endif
