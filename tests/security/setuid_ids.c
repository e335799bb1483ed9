/* Installed setuid-root in a rootfs: prints real and effective uid. */
#include <stdio.h>
#include <unistd.h>
int main(void)
{
    printf("U %d %d\n", (int)getuid(), (int)geteuid());
    return 0;
}
