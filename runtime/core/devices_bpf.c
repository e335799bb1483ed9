/* The cgroup v2 device filter: rules -> eBPF instructions -> bpf(2).
 *
 * The program the kernel runs per device access sees
 *     struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
 * where access_type = (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*. It returns 1
 * to allow and 0 to deny.
 *
 * Shape of the generated program:
 *     w2 = ctx->access_type; w3 = w2 & 0xffff (device type); w2 >>= 16 (access)
 *     w4 = ctx->major; w5 = ctx->minor
 *     for each rule, LAST FIRST (the last matching rule wins):
 *         if type/major/minor differ: go to next rule
 *         allow rule: if the request wants access outside the rule's: next rule
 *         deny rule:  if the request wants none of the rule's access:  next rule
 *         return allow
 *     return 0 (default deny)
 * Every test is a 32-bit compare (BPF_JMP32) so majors and minors above 2^31
 * compare as the unsigned numbers they are.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices_bpf.h"
#include "internal.h"

#define MAX_INSNS 8192
#define MAX_OLD_PROGS 64
#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
#define FIELD "linux.resources.devices"

struct prog {
    struct bpf_insn *insns; /* NULL: only count */
    uint32_t n, cap;
    int overflow;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (p->n >= p->cap) {
        p->overflow = 1;
        return;
    }
    if (p->insns) {
        struct bpf_insn *i = &p->insns[p->n];
        memset(i, 0, sizeof *i);
        i->code = code;
        i->dst_reg = dst;
        i->src_reg = src;
        i->off = off;
        i->imm = imm;
    }
    p->n++;
}

static int rule_dev_type(const struct ocirun_dev_rule *r)
{
    return r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : r->type == 'c' ? BPF_DEVCG_DEV_CHAR : 0;
}

/* Instructions one rule takes; jumps inside it skip to its end. */
static uint32_t rule_len(const struct ocirun_dev_rule *r)
{
    uint32_t n = 2; /* r0 = verdict; exit */
    uint32_t acc = r->access & ACC_ALL;
    if (rule_dev_type(r))
        n++;
    if (r->major >= 0)
        n++;
    if (r->minor >= 0)
        n++;
    if (acc != ACC_ALL)
        n += 3; /* w6 = w2; w6 &= mask; test */
    return n;
}

static void emit_rule(struct prog *p, const struct ocirun_dev_rule *r)
{
    uint32_t len = rule_len(r), start = p->n, acc = r->access & ACC_ALL;
    /* Offset from the instruction being emitted now to the rule's end. */
#define TO_END ((int16_t)(len - (p->n - start) - 1))
    if (rule_dev_type(r))
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_3, 0, TO_END, rule_dev_type(r));
    if (r->major >= 0)
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, TO_END, (int32_t)(uint32_t)r->major);
    if (r->minor >= 0)
        emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, TO_END, (int32_t)(uint32_t)r->minor);
    if (acc != ACC_ALL) {
        emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_2, 0, 0);
        if (r->allow) {
            /* Any requested bit outside the rule's access: not this rule. */
            emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_6, 0, 0, (int32_t)(~acc & ACC_ALL));
            emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_6, 0, TO_END, 0);
        } else {
            /* No requested bit among the denied ones: not this rule. */
            emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_6, 0, 0, (int32_t)acc);
            emit(p, BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_6, 0, TO_END, 0);
        }
    }
#undef TO_END
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static void build(struct prog *p, const struct ocirun_dev_rule *rules, uint32_t n_rules)
{
    emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
    emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
    emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff);
    emit(p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16);
    emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
    emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
    for (uint32_t i = n_rules; i-- > 0;) {
        emit_rule(p, &rules[i]);
        /* A rule matching everything decides alone: the verifier refuses
         * the unreachable code that would follow it. */
        if (rule_len(&rules[i]) == 2)
            return;
    }
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int32_t ocirun_devices_prog_build(const struct ocirun_dev_rule *rules, uint32_t n_rules, uint64_t *insns,
                                  uint32_t max_insns)
{
    struct prog p = {(struct bpf_insn *)insns, 0, max_insns, 0};
    build(&p, rules, n_rules);
    return p.overflow ? -1 : (int32_t)p.n;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

/* A failed bpf(2) step: `e` is the errno it left (saved before any close). */
static int32_t fail(struct ocirun_error *err, int e, const char *what)
{
    return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e ? e : EINVAL, FIELD ": %s", what);
}

int32_t ocirun_devices_attach(int32_t cgroup_fd, const struct ocirun_dev_rule *rules, uint32_t n_rules,
                              struct ocirun_error *err)
{
    static struct bpf_insn insns[MAX_INSNS];
    static char vlog[4096];
    struct prog p = {insns, 0, MAX_INSNS, 0};
    union bpf_attr attr;
    uint32_t old_ids[MAX_OLD_PROGS], n_old = 0, old_flags = 0;
    int prog_fd, e;

    build(&p, rules, n_rules);
    if (p.overflow)
        return fail(err, E2BIG, "build the device filter: too many rules");

    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = p.n;
    attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
    strncpy(attr.prog_name, "ocirun_devices", sizeof attr.prog_name - 1);
    prog_fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (prog_fd < 0) {
        e = errno;
        /* Load again with the verifier's log, to say why. */
        vlog[0] = 0;
        attr.log_level = 1;
        attr.log_buf = (uint64_t)(uintptr_t)vlog;
        attr.log_size = sizeof vlog;
        int fd2 = (int)sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd2 >= 0)
            close(fd2);
        /* The verifier ends with a statistics line; the one before says why. */
        size_t len = strlen(vlog);
        while (len && vlog[len - 1] == '\n')
            vlog[--len] = 0;
        char *last = strrchr(vlog, '\n');
        if (last && strncmp(last + 1, "processed ", 10) == 0) {
            *last = 0;
            last = strrchr(vlog, '\n');
        }
        last = last ? last + 1 : vlog;
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e ? e : EINVAL,
                           FIELD ": load the device filter (bpf BPF_PROG_LOAD)%s%s", last[0] ? ": verifier: " : "",
                           last);
    }

    /* Which programs are attached now: they go once ours is in place. */
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
    attr.query.prog_cnt = MAX_OLD_PROGS;
    if (sys_bpf(BPF_PROG_QUERY, &attr) == 0) {
        n_old = attr.query.prog_cnt;
        old_flags = attr.query.attach_flags;
    } else if (errno != ENOENT) {
        e = errno;
        close(prog_fd);
        return fail(err, e, "list the cgroup's device filters (bpf BPF_PROG_QUERY)");
    }

    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) != 0) {
        if (n_old == 0 || (old_flags & BPF_F_ALLOW_MULTI)) {
            e = errno;
            close(prog_fd);
            return fail(err, e, "attach the device filter (bpf BPF_PROG_ATTACH)");
        }
        /* Someone attached a single program without ALLOW_MULTI: attaching
         * with its own flags replaces it in one step. */
        attr.attach_flags = old_flags;
        if (sys_bpf(BPF_PROG_ATTACH, &attr) != 0) {
            e = errno;
            close(prog_fd);
            return fail(err, e, "replace the device filter (bpf BPF_PROG_ATTACH)");
        }
        n_old = 0;
    }
    close(prog_fd); /* the attachment holds its own reference */

    for (uint32_t i = 0; i < n_old && i < MAX_OLD_PROGS; i++) {
        memset(&attr, 0, sizeof attr);
        attr.prog_id = old_ids[i];
        int old_fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        if (old_fd < 0) {
            if (errno == ENOENT)
                continue; /* detached meanwhile */
            return fail(err, errno, "open an old device filter (bpf BPF_PROG_GET_FD_BY_ID)");
        }
        memset(&attr, 0, sizeof attr);
        attr.target_fd = (uint32_t)cgroup_fd;
        attr.attach_bpf_fd = (uint32_t)old_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, &attr) != 0 && errno != ENOENT) {
            e = errno;
            close(old_fd);
            return fail(err, e, "detach an old device filter (bpf BPF_PROG_DETACH)");
        }
        close(old_fd);
    }
    return 0;
}
