/* fakeld: planted in a rootfs as the ELF interpreter (/lib64/ld-linux-x86-64.so.2)
 * for the CVE-2019-5736 test. When the container execs a `#!/proc/self/exe`
 * script, the kernel maps the *host* binary behind /proc/self/exe (our Python
 * interpreter, if the runtime did not seal it) and hands control to us. We
 * keep an O_PATH handle on that binary as fd 3, try to open it for writing
 * right away, and exec sectool (from the rootfs) to report.
 * Freestanding: no libc, since glibc's static start-up would read the host
 * binary's program headers as if they were its own.
 */
#define O_WRONLY 01
#define O_PATH 010000000
#define AT_FDCWD -100

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
static long sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static void itoa(long v, char *out)
{
    char tmp[24];
    int n = 0, neg = v < 0;
    if (neg)
        v = -v;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 20);
    int i = 0;
    if (neg)
        out[i++] = '-';
    while (n)
        out[i++] = tmp[--n];
    out[i] = 0;
}

/* the kernel enters _start with no return address on the stack: realign */
__attribute__((force_align_arg_pointer, noreturn)) void _start(void)
{
    char fdstr[24], errstr[24];
    long fd = sys4(257 /* openat */, AT_FDCWD, (long)"/proc/self/exe", O_PATH, 0);
    long w = sys4(257, AT_FDCWD, (long)"/proc/self/exe", O_WRONLY, 0);
    if (w >= 0) {
        sys3(3 /* close */, w, 0, 0);
        w = 0;
    } else {
        w = -w;
    }
    itoa(fd, fdstr);
    itoa(w, errstr);
    char *argv[] = {"sectool", "exefd", fdstr, errstr, 0};
    char *envp[] = {0};
    sys3(59 /* execve */, (long)"/bin/sectool", (long)argv, (long)envp);
    sys3(60 /* exit */, 99, 0, 0);
    for (;;)
        ;
}
