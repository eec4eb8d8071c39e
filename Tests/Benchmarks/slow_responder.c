/* A REST responder that takes a fixed time per answer, as a real model server does: HTTP/1.1
 * keep-alive on loopback, a thread per connection; each request (headers and a Content-Length
 * body) is answered after sleeping DELAY_US microseconds with the canned JSON of FILE.
 *
 *   slow_responder PORT FILE DELAY_US
 *
 * For `make bench`: nginx answers in ~10 us of its CPU, so the client's share of a call is at its
 * largest there; this one shows the client's cost beside a server that is not instantaneous. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *answer;
static size_t answer_len;
static long delay_us;

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The Content-Length of a request's header block (0 when it has none). */
static size_t content_length(const char *headers, size_t len) {
  static const char name[] = "\r\ncontent-length:";
  for (size_t i = 0; i + sizeof name - 1 < len; i++) {
    if (strncasecmp(headers + i, name, sizeof name - 1) == 0) return strtoul(headers + i + sizeof name - 1, NULL, 10);
  }
  return 0;
}

static void *serve(void *arg) {
  int fd = (int)(long)arg;
  char buffer[1 << 16];
  size_t have = 0;
  for (;;) {
    char *end = memmem(buffer, have, "\r\n\r\n", 4);
    if (end == NULL) {
      if (have == sizeof buffer) break; /* headers larger than the buffer: not this benchmark's */
      ssize_t n = read(fd, buffer + have, sizeof buffer - have);
      if (n <= 0) break;
      have += (size_t)n;
      continue;
    }
    size_t header_len = (size_t)(end - buffer) + 4;
    size_t body_left = content_length(buffer, header_len);
    /* Drop the request: its headers and body (the body may run past what is buffered). */
    size_t buffered = have - header_len < body_left ? have - header_len : body_left;
    body_left -= buffered;
    memmove(buffer, buffer + header_len + buffered, have - header_len - buffered);
    have -= header_len + buffered;
    while (body_left > 0) {
      ssize_t n = read(fd, buffer, body_left < sizeof buffer ? body_left : sizeof buffer);
      if (n <= 0) goto done;
      body_left -= (size_t)n;
    }
    struct timespec pause = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&pause, NULL);
    char head[160];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", answer_len);
    if (write_all(fd, head, (size_t)head_len) != 0 || write_all(fd, answer, answer_len) != 0) break;
  }
done:
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PORT FILE DELAY_US\n", argv[0]);
    return 2;
  }
  FILE *file = fopen(argv[2], "rb");
  if (file == NULL || fseek(file, 0, SEEK_END) != 0) {
    perror(argv[2]);
    return 1;
  }
  answer_len = (size_t)ftell(file);
  rewind(file);
  answer = malloc(answer_len);
  if (answer == NULL || fread(answer, 1, answer_len, file) != answer_len) {
    perror(argv[2]);
    return 1;
  }
  fclose(file);
  delay_us = atol(argv[3]);

  int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0) {
    perror("bind");
    return 1;
  }
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    pthread_t thread;
    if (pthread_create(&thread, NULL, serve, (void *)(long)fd) != 0) {
      close(fd);
      continue;
    }
    pthread_detach(thread);
  }
}
