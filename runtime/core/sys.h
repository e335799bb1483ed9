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
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
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
#ifndef SYS_statmount
#define SYS_statmount 457
#endif

#define OCIRUN_RESOLVE_NO_MAGICLINKS 0x02
#define OCIRUN_RESOLVE_NO_XDEV 0x01
#define OCIRUN_RESOLVE_NO_SYMLINKS 0x04
#define OCIRUN_RESOLVE_BENEATH 0x08
#define OCIRUN_RESOLVE_IN_ROOT 0x10
#define OCIRUN_OPEN_TREE_CLONE 1
#define OCIRUN_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define OCIRUN_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define OCIRUN_MOUNT_ATTR_IDMAP 0x00100000
#define OCIRUN_FSOPEN_CLOEXEC 0x01
#define OCIRUN_FSCONFIG_CMD_CREATE 6
#define OCIRUN_FSMOUNT_CLOEXEC 0x01
#define OCIRUN_CLOSE_RANGE_CLOEXEC (1U << 2)
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct ocirun_open_how {
    uint64_t flags, mode, resolve;
};
struct ocirun_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* statx(STATX_MNT_ID_UNIQUE) and statmount(2) (Linux 6.8): which mount an fd is on. */
#define OCIRUN_STATX_MNT_ID_UNIQUE 0x4000U
#define OCIRUN_STATX_ATTR_MOUNT_ROOT 0x2000
#define OCIRUN_STATMOUNT_MNT_BASIC 0x2U
#define OCIRUN_STATMOUNT_MNT_POINT 0x10U
struct ocirun_mnt_id_req {
    uint32_t size, spare;
    uint64_t mnt_id, param;
};
struct ocirun_statmount {
    uint32_t size, mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags, fs_type;
    uint64_t mnt_id, mnt_parent_id;
    uint32_t mnt_id_old, mnt_parent_id_old;
    uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
    uint32_t mnt_root, mnt_point;
    uint64_t spare2[50];
    char str[];
};

#endif
