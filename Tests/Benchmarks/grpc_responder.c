/*
 * gRPC responder of the client benchmarks: HTTP/2 on libnghttp2, cleartext (h2c, prior knowledge)
 * or over TLS (OpenSSL, ALPN h2). Answers every POST with a canned gRPC answer and the trailers
 * grpc-status: 0.
 *
 *   grpc_responder [--tls CERT KEY] [--per-input] [s]PORT:UNARY_FILE[:STREAM_FILE] ...
 *
 * A port written "sPORT" serves TLS with --tls's certificate.
 * UNARY_FILE holds one serialized response message (framed here with the 5-byte gRPC prefix);
 * STREAM_FILE holds already framed messages, sent for paths ending in "GenerateModelOutputs".
 * --per-input (bulk benchmark): the unary answer has one output per input of the request (1 to
 * 128; PostModelOutputsRequest.inputs counted in the request body), each a copy of UNARY_FILE's
 * first output (MultiOutputResponse.outputs), the rest of UNARY_FILE kept; answers for every
 * count are built at start. A request whose inputs cannot be counted gets UNARY_FILE as it is.
 * SIGUSR1 prints the process's CPU time so far (user+sys, every thread, those ended too) as a
 * line "cpu_us N" on stdout.
 * One thread per listening port accepts; one thread per connection serves it with blocking I/O.
 * The request body is read and dropped. Large flow-control windows so that 1 MB uploads do not
 * wait for WINDOW_UPDATEs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct { unsigned char *data; size_t len; } blob;
#define MAX_INPUTS 128
typedef struct { int port; blob unary; blob stream; int fd; int tls; blob by_count[MAX_INPUTS + 1]; } endpoint;
typedef struct { int fd; endpoint *ep; nghttp2_session *session; SSL *ssl; } conn;
static SSL_CTX *tls_context;
typedef struct { const blob *body; size_t off; int streaming; unsigned char *req; size_t req_len, req_cap; } stream_state;
static int per_input;

static blob read_file(const char *path, int framed) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t pre = framed ? 5 : 0;
  blob b = { malloc((size_t)n + pre), (size_t)n + pre };
  if (framed) {
    b.data[0] = 0;
    b.data[1] = (unsigned char)(n >> 24); b.data[2] = (unsigned char)(n >> 16);
    b.data[3] = (unsigned char)(n >> 8);  b.data[4] = (unsigned char)n;
  }
  if (fread(b.data + pre, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
  fclose(f);
  return b;
}

/* Protobuf wire format, top level only: the next field's number, wire type and extent in
   [*p, end); 0 at the end or on malformed input. */
static int next_field(const unsigned char **p, const unsigned char *end, uint64_t *number, int *type,
                      const unsigned char **start, const unsigned char **stop) {
  const unsigned char *q = *p;
  uint64_t v = 0, len = 0;
  int shift = 0;
  if (q >= end) return 0;
  *start = q;
  do { if (q >= end || shift > 63) return 0; v |= (uint64_t)(*q & 0x7f) << shift; shift += 7; } while (*q++ & 0x80);
  *number = v >> 3;
  *type = (int)(v & 7);
  switch (*type) {
  case 0: do { if (q >= end) return 0; } while (*q++ & 0x80); break;
  case 1: if (end - q < 8) return 0; q += 8; break;
  case 5: if (end - q < 4) return 0; q += 4; break;
  case 2:
    shift = 0;
    do { if (q >= end || shift > 63) return 0; len |= (uint64_t)(*q & 0x7f) << shift; shift += 7; } while (*q++ & 0x80);
    if (len > (uint64_t)(end - q)) return 0;
    q += len;
    break;
  default: return 0;
  }
  *stop = *p = q;
  return 1;
}

/* --per-input: answers with 1..MAX_INPUTS outputs from a framed MultiOutputResponse. */
static void build_by_count(endpoint *ep) {
  const unsigned char *p = ep->unary.data + 5, *end = ep->unary.data + ep->unary.len, *s, *e, *out = NULL;
  size_t out_len = 0, head_len = 0;
  unsigned char *head = malloc(ep->unary.len);
  uint64_t number;
  int type;
  while (next_field(&p, end, &number, &type, &s, &e)) {
    if (number == 2 && type == 2) { if (!out) { out = s; out_len = (size_t)(e - s); } }
    else { memcpy(head + head_len, s, (size_t)(e - s)); head_len += (size_t)(e - s); }
  }
  if (!out) { fprintf(stderr, "--per-input: the unary answer of port %d has no output\n", ep->port); exit(2); }
  for (size_t k = 1; k <= MAX_INPUTS; k++) {
    size_t n = head_len + k * out_len;
    blob *b = &ep->by_count[k];
    b->len = n + 5;
    b->data = malloc(b->len);
    b->data[0] = 0;
    b->data[1] = (unsigned char)(n >> 24); b->data[2] = (unsigned char)(n >> 16);
    b->data[3] = (unsigned char)(n >> 8);  b->data[4] = (unsigned char)n;
    memcpy(b->data + 5, head, head_len);
    for (size_t i = 0; i < k; i++) memcpy(b->data + 5 + head_len + i * out_len, out, out_len);
  }
  free(head);
}

/* PostModelOutputsRequest.inputs (field 4) in a framed, uncompressed request; -1 if unknown. */
static int count_inputs(const stream_state *st) {
  if (!st->req || st->req_len < 5 || st->req[0] != 0) return -1;
  size_t n = ((size_t)st->req[1] << 24) | ((size_t)st->req[2] << 16) | ((size_t)st->req[3] << 8) | st->req[4];
  if (n > st->req_len - 5) return -1;
  const unsigned char *p = st->req + 5, *end = p + n, *s, *e;
  uint64_t number;
  int type, count = 0;
  while (next_field(&p, end, &number, &type, &s, &e))
    if (number == 4 && type == 2) count++;
  return p == end ? count : -1;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user) {
  (void)flags; (void)user;
  stream_state *st = nghttp2_session_get_stream_user_data(s, id);
  if (!per_input || !st) return 0;
  if (st->req_len + len > st->req_cap) {
    size_t cap = st->req_cap ? st->req_cap : 4096;
    while (cap < st->req_len + len) cap *= 2;
    unsigned char *r = realloc(st->req, cap);
    if (!r) return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->req = r;
    st->req_cap = cap;
  }
  memcpy(st->req + st->req_len, data, len);
  st->req_len += len;
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user) {
  (void)s; (void)id; (void)user;
  stream_state *st = src->ptr;
  size_t left = st->body->len - st->off;
  size_t n = left < len ? left : len;
  memcpy(buf, st->body->data + st->off, n);
  st->off += n;
  if (st->off == st->body->len) *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
  return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user) {
  (void)flags; (void)user;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  stream_state *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
  if (st && namelen == 5 && memcmp(name, ":path", 5) == 0) {
    static const char suffix[] = "GenerateModelOutputs";
    size_t sl = sizeof suffix - 1;
    st->streaming = valuelen >= sl && memcmp(value + valuelen - sl, suffix, sl) == 0;
  }
  return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
  (void)user;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    stream_state *st = calloc(1, sizeof *st);
    nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, st);
  }
  return 0;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
  conn *c = user;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    stream_state *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!st) return 0;
    st->body = st->streaming && c->ep->stream.data ? &c->ep->stream : &c->ep->unary;
    if (per_input && !st->streaming) {
      int k = count_inputs(st);
      if (k >= 1 && k <= MAX_INPUTS) st->body = &c->ep->by_count[k];
    }
    nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
    nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_body };
    nghttp2_submit_response(s, frame->hd.stream_id, hdrs, 2, &prd);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
  (void)user;
  if (frame->hd.type == NGHTTP2_DATA && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    stream_state *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st && st->body && st->off == st->body->len) {
      st->off++; /* trailers once */
      nghttp2_nv tr[] = { NV("grpc-status", "0") };
      nghttp2_submit_trailer(s, frame->hd.stream_id, tr, 1);
    }
  }
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *user) {
  (void)code; (void)user;
  stream_state *st = nghttp2_session_get_stream_user_data(s, id);
  if (st) free(st->req);
  free(st);
  nghttp2_session_set_stream_user_data(s, id, NULL);
  return 0;
}

static int send_all(conn *c, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : send(c->fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) { if (!c->ssl && errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static ssize_t receive(conn *c, uint8_t *buf, size_t len) {
  if (c->ssl) return SSL_read(c->ssl, buf, (int)len);
  return recv(c->fd, buf, len, 0);
}

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                     unsigned int inlen, void *arg) {
  (void)ssl; (void)arg;
  return nghttp2_select_next_protocol((unsigned char **)out, outlen, in, inlen) == 1 ? SSL_TLSEXT_ERR_OK
                                                                                    : SSL_TLSEXT_ERR_NOACK;
}

static int flush(conn *c) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (send_all(c, data, (size_t)n)) return -1;
  }
}

static void *serve(void *arg) {
  conn *c = arg;
  if (c->ep->tls) {
    c->ssl = SSL_new(tls_context);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_accept(c->ssl) != 1) {
      SSL_free(c->ssl);
      close(c->fd);
      free(c);
      return NULL;
    }
  }
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  /* libcurl 7.88 ends every finished stream with an RST_STREAM; nghttp2's rapid-reset guard
     (1,000 resets, then 33/s) would tear a long-lived connection down after ~1,000 calls. */
  nghttp2_option *options;
  nghttp2_option_new(&options);
  nghttp2_option_set_stream_reset_rate_limit(options, UINT64_MAX / 2, UINT64_MAX / 2);
  nghttp2_session_server_new2(&c->session, cb, c, options);
  nghttp2_option_del(options);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000 },
                                  { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20 },
                                  { NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1 << 20 } };
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 64 << 20);
  static __thread uint8_t buf[1 << 16];
  while (flush(c) == 0) {
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)) break;
    ssize_t n = receive(c, buf, sizeof buf);
    if (n < 0 && !c->ssl && errno == EINTR) continue;
    if (n <= 0) break;
    if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0) break;
  }
  nghttp2_session_del(c->session);
  if (c->ssl) {
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
  }
  close(c->fd);
  free(c);
  return NULL;
}

static void *accept_loop(void *arg) {
  endpoint *ep = arg;
  for (;;) {
    int fd = accept(ep->fd, NULL, NULL);
    if (fd < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; perror("accept"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->ep = ep;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    if (pthread_create(&t, &attr, serve, c)) { close(fd); free(c); }
    pthread_attr_destroy(&attr);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 3 && !strcmp(argv[1], "--tls")) {
    tls_context = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(tls_context, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls_context, argv[3], SSL_FILETYPE_PEM) != 1) {
      fprintf(stderr, "cannot load %s / %s\n", argv[2], argv[3]);
      return 1;
    }
    SSL_CTX_set_alpn_select_cb(tls_context, select_h2, NULL);
    first = 4;
  }
  if (argc > first && !strcmp(argv[first], "--per-input")) {
    per_input = 1;
    first++;
  }
  if (argc <= first) { fprintf(stderr, "usage: %s [--tls CERT KEY] [--per-input] [s]PORT:UNARY_FILE[:STREAM_FILE] ...\n", argv[0]); return 2; }
  signal(SIGPIPE, SIG_IGN);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* every thread inherits it; main takes it with sigwait */
  pthread_t threads[16];
  int n = argc - first < 16 ? argc - first : 16;
  for (int i = 0; i < n; i++) {
    endpoint *ep = calloc(1, sizeof *ep);
    char *spec = strdup(argv[first + i]);
    char *port = strtok(spec, ":"), *unary = strtok(NULL, ":"), *stream = strtok(NULL, ":");
    if (!port || !unary) { fprintf(stderr, "bad spec %s\n", argv[first + i]); return 2; }
    ep->tls = port[0] == 's';
    if (ep->tls && !tls_context) { fprintf(stderr, "%s: TLS port without --tls\n", argv[first + i]); return 2; }
    ep->port = atoi(port + ep->tls);
    ep->unary = read_file(unary, 1);
    if (stream) ep->stream = read_file(stream, 0);
    if (per_input) build_by_count(ep);
    ep->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ep->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ep->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ep->fd, (struct sockaddr *)&a, sizeof a) || listen(ep->fd, 1024)) { perror("bind/listen"); return 1; }
    pthread_create(&threads[i], NULL, accept_loop, ep);
  }
  fprintf(stderr, "grpc_responder ready\n");
  for (;;) {
    int sig;
    if (sigwait(&usr1, &sig)) continue;
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    printf("cpu_us %lld\n", (long long)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000 + r.ru_utime.tv_usec + r.ru_stime.tv_usec);
    fflush(stdout);
  }
}
