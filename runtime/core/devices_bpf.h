/* The cgroup v2 device filter: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * built from the container's device rules and attached to its cgroup.
 *
 * cgroup v2 has no devices.allow/devices.deny: the kernel asks every program
 * attached to the cgroup (and its ancestors) whether an open or mknod of a
 * device may go ahead. Python (runtime/cgroups) computes the effective rule
 * list, defaults included; this file only translates and attaches it.
 */
#ifndef OCIRUN_DEVICES_BPF_H
#define OCIRUN_DEVICES_BPF_H

#include "ocirun.h"
#include <stdint.h>

/* CDEF-BEGIN */
/* One rule. The last rule that matches a request decides; none matching: deny.
 * An allow rule matches when the request asks for no more than `access`; a
 * deny rule matches when the request asks for any of `access`. */
struct ocirun_dev_rule {
    int64_t major;   /* -1: any major */
    int64_t minor;   /* -1: any minor */
    uint32_t access; /* bits: 1 mknod, 2 read, 4 write (the kernel's BPF_DEVCG_ACC_*) */
    uint8_t type;    /* 'a' (any), 'b' or 'c' */
    uint8_t allow;   /* 1 allow, 0 deny */
    uint8_t pad[2];
};

/* Writes the program into insns (8 bytes each, struct bpf_insn) when insns is
 * not NULL; returns the instruction count, or -1 if it needs more than max_insns. */
int32_t ocirun_devices_prog_build(const struct ocirun_dev_rule *rules, uint32_t n_rules, uint64_t *insns,
                                  uint32_t max_insns);

/* Loads the program and attaches it to the cgroup2 directory cgroup_fd with
 * BPF_F_ALLOW_MULTI, then detaches the programs that were there before (so an
 * update replaces the filter; during the swap both apply, which only denies more).
 * 0 on success; -1 on failure with err filled (stage devices, the message
 * naming linux.resources.devices, the step, and the verifier's last line if
 * it refused the program). */
int32_t ocirun_devices_attach(int32_t cgroup_fd, const struct ocirun_dev_rule *rules, uint32_t n_rules,
                              struct ocirun_error *err);
/* CDEF-END */

#endif
