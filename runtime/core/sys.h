/* Private: syscalls and constants that older libc headers may lack. */
#ifndef OCIRUN_SYS_H
#define OCIRUN_SYS_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#define OCIRUN_RESOLVE_NO_MAGICLINKS 0x02
#define OCIRUN_RESOLVE_IN_ROOT 0x10
#define OCIRUN_OPEN_TREE_CLONE 1
#define OCIRUN_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define OCIRUN_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define OCIRUN_MOUNT_ATTR_IDMAP 0x00100000
#define OCIRUN_CLOSE_RANGE_CLOEXEC (1U << 2)
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct ocirun_open_how { uint64_t flags, mode, resolve; };
struct ocirun_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

#endif
