// The floor of proxy CPU per request in bench/run.sh's pinned layout: a TCP relay that does the
// socket work every proxy there must do for a request (recv and send on both legs, epoll) and
// nothing else. One thread, edge-triggered epoll registered once per socket, one origin
// connection per client connection, bytes passed on unread, TCP_NODELAY on both legs, reads into
// a 16 KiB buffer until a short read (triaged's and nginx's rule). No parsing, no allocation per
// request. HAProxy in `mode tcp` (the bench's "relay") is a relay too, but runs its scheduler,
// stream and buffer machinery for every transfer: about 3 µs of user time per 64 B request on
// the bench machine, where this one spends under 0.5 µs.
//
// A bench target, not a proxy: no timeouts, no limits beyond a fixed backlog per direction (a
// pair whose peer falls more than kPendingMax behind is dropped). Loopback only.
//
//   cc -O2 -o floor_relay bench/floor_relay.c && ./floor_relay LISTEN_PORT ORIGIN_PORT

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kReadSize = 16384, kPendingMax = 256 * 1024, kEvents = 512 };

// One leg of a pair: its socket and what could not be sent to it yet.
struct leg {
  int fd;
  struct leg* peer;
  char* pending;
  size_t pending_len;
  struct leg* next_dead;  // freed after the epoll batch that closed it
};

static int epfd;
static struct leg* dead;

static void set_nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct leg* new_leg(int fd) {
  struct leg* l = calloc(1, sizeof *l);
  if (l == NULL || (l->pending = malloc(kPendingMax)) == NULL) abort();
  l->fd = fd;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = l};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) abort();
  return l;
}

static void close_pair(struct leg* l) {
  struct leg* p = l->peer;
  if (l->fd < 0) return;
  close(l->fd);
  close(p->fd);
  l->fd = p->fd = -1;
  l->next_dead = p;
  p->next_dead = dead;
  dead = l;
}

// Sends what is pending for `to`; false when the pair had to be closed.
static int flush_pending(struct leg* to) {
  size_t off = 0;
  while (off < to->pending_len) {
    const ssize_t n = send(to->fd, to->pending + off, to->pending_len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    close_pair(to);
    return 0;
  }
  memmove(to->pending, to->pending + off, to->pending_len - off);
  to->pending_len -= off;
  return 1;
}

// Passes `len` bytes on to `to`: straight to the socket when nothing waits before them.
static int relay(struct leg* to, const char* data, size_t len) {
  if (to->pending_len == 0) {
    const ssize_t n = send(to->fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      close_pair(to);
      return 0;
    }
    const size_t sent = n > 0 ? (size_t)n : 0;
    data += sent;
    len -= sent;
  }
  if (len == 0) return 1;
  if (to->pending_len + len > kPendingMax) {
    close_pair(to);
    return 0;
  }
  memcpy(to->pending + to->pending_len, data, len);
  to->pending_len += len;
  return 1;
}

static void on_readable(struct leg* from) {
  static char buf[kReadSize];
  while (from->fd >= 0) {
    const ssize_t n = recv(from->fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (!relay(from->peer, buf, (size_t)n)) return;
      if ((size_t)n < sizeof buf) return;  // a short read emptied the socket
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    close_pair(from);  // EOF or an error: the pair ends
    return;
  }
}

static void accept_all(int lfd, const struct sockaddr_in* origin) {
  for (;;) {
    const int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    const int u = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u < 0 || (connect(u, (const struct sockaddr*)origin, sizeof *origin) != 0 &&
                  errno != EINPROGRESS)) {
      close(c);
      if (u >= 0) close(u);
      continue;
    }
    set_nodelay(c);
    set_nodelay(u);
    struct leg* cl = new_leg(c);
    struct leg* ul = new_leg(u);
    cl->peer = ul;
    ul->peer = cl;
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LISTEN_PORT ORIGIN_PORT (both on 127.0.0.1)\n", argv[0]);
    return 2;
  }
  struct sockaddr_in listen_addr = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)atoi(argv[1])),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct sockaddr_in origin = listen_addr;
  origin.sin_port = htons((uint16_t)atoi(argv[2]));
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || bind(lfd, (struct sockaddr*)&listen_addr, sizeof listen_addr) != 0 ||
      listen(lfd, 4096) != 0) {
    perror("floor_relay: listen");
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) != 0) {
    perror("floor_relay: epoll");
    return 1;
  }
  struct epoll_event events[kEvents];
  for (;;) {
    const int n = epoll_wait(epfd, events, kEvents, -1);
    if (n < 0 && errno != EINTR) {
      perror("floor_relay: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      struct leg* l = events[i].data.ptr;
      if (l == NULL) {
        accept_all(lfd, &origin);
        continue;
      }
      if (l->fd < 0) continue;  // closed earlier in this batch
      if ((events[i].events & EPOLLOUT) != 0 && l->pending_len > 0 && !flush_pending(l)) continue;
      if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) on_readable(l);
    }
    while (dead != NULL) {
      struct leg* next = dead->next_dead;
      free(dead->pending);
      free(dead);
      dead = next;
    }
  }
}
