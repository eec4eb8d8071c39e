/*
 * gRPC responder of the client benchmarks: HTTP/2 on libnghttp2, cleartext (h2c, prior knowledge)
 * or over TLS (OpenSSL, ALPN h2). Answers every POST with a canned gRPC answer and the trailers
 * grpc-status: 0.
 *
 *   grpc_responder [--tls CERT KEY] [s]PORT:UNARY_FILE[:STREAM_FILE] ...
 *
 * A port written "sPORT" serves TLS with --tls's certificate.
 * UNARY_FILE holds one serialized response message (framed here with the 5-byte gRPC prefix);
 * STREAM_FILE holds already framed messages, sent for paths ending in "GenerateModelOutputs".
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
#include <sys/socket.h>
#include <unistd.h>

typedef struct { unsigned char *data; size_t len; } blob;
typedef struct { int port; blob unary; blob stream; int fd; int tls; } endpoint;
typedef struct { int fd; endpoint *ep; nghttp2_session *session; SSL *ssl; } conn;
static SSL_CTX *tls_context;
typedef struct { const blob *body; size_t off; int streaming; } stream_state;

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
  free(nghttp2_session_get_stream_user_data(s, id));
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
  if (argc <= first) { fprintf(stderr, "usage: %s [--tls CERT KEY] [s]PORT:UNARY_FILE[:STREAM_FILE] ...\n", argv[0]); return 2; }
  signal(SIGPIPE, SIG_IGN);
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
    ep->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ep->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ep->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ep->fd, (struct sockaddr *)&a, sizeof a) || listen(ep->fd, 1024)) { perror("bind/listen"); return 1; }
    pthread_create(&threads[i], NULL, accept_loop, ep);
  }
  fprintf(stderr, "grpc_responder ready\n");
  for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
  return 0;
}
