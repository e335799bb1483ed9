/* sd_notify for a busybox container: send argv[1] (default "READY=1") as one
 * datagram to $NOTIFY_SOCKET. Exit 2 without NOTIFY_SOCKET, 1 if the send fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    const char *path = getenv("NOTIFY_SOCKET");
    const char *msg = argc > 1 ? argv[1] : "READY=1";
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int s;

    if (!path || !*path || strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "sdnotify: no usable NOTIFY_SOCKET\n");
        return 2;
    }
    strcpy(a.sun_path, path);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = '\0';
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("sdnotify: sendto");
        return 1;
    }
    return 0;
}
