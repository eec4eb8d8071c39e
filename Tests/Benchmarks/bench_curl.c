/*
 * The floor: raw libcurl doing the same HTTP exchange as the clients (the header lines libclarifai
 * sends: its user agent, request-id prefix and accepted encodings too), with pre-built request
 * bodies (data/req_*.json for REST, data/req_*.pb, already gRPC-framed, for gRPC) and no
 * JSON/protobuf work on the answer: it is collected into a buffer and its size and the HTTP
 * status (and for gRPC the grpc-status trailer) are checked. One easy handle per thread, reused
 * (keep-alive / one HTTP/2 connection per thread); --api fresh opens a new connection per call;
 * --api parsed-url hands libcurl the URL parsed once (CURLOPT_CURLU), as libclarifai does, instead
 * of as text (CURLOPT_URL), which libcurl parses and writes back out for every transfer.
 */
#include "bench_common.h"
#include <clarifai.h> /* CLARIFAI_VERSION_STRING only: the floor does not link the library */
#include <curl/curl.h>

typedef struct { char *data; size_t len, cap; int grpc_ok; } sink;
typedef struct { CURL *h; CURLU *parsed_url; sink s; struct curl_slist *hdr; int reuses_h2c; } worker;
static worker workers[64];
static char *body, url[1024];
static size_t body_len, min_answer;
static int grpc, tls, fresh, parsed_url;
/* libcurl < 8.0 breaks a cleartext HTTP/2 (h2c) connection that a request with prior knowledge
   reuses (curl issue #10634): as libclarifai does there, a thread's first call asks for prior
   knowledge and opens the connection, the next ones ask for HTTP/2 (CURL_HTTP_VERSION_2_0) and
   reuse it (libclarifai also refuses them a new connection, which the responder never makes
   them need). */
static int h2c_by_hand;

static size_t on_data(char *p, size_t sz, size_t n, void *u) {
  sink *s = u;
  size_t k = sz * n;
  if (s->len + k > s->cap) { s->cap = (s->len + k) * 2; s->data = realloc(s->data, s->cap); }
  memcpy(s->data + s->len, p, k);
  s->len += k;
  return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u) {
  sink *s = u;
  if (sz * n >= 14 && !strncasecmp(p, "grpc-status: 0", 14)) s->grpc_ok = 1;
  return sz * n;
}

static int bench_setup(const bench_opts *o) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  tls = !strcmp(o->transport, "grpcs");
  grpc = tls || !strcmp(o->transport, "grpc");
  fresh = !strcmp(o->api, "fresh");
  parsed_url = !strcmp(o->api, "parsed-url");
  h2c_by_hand = grpc && !tls && !fresh && curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
  const char *s = o->scenario, *name = !strcmp(s, "c") ? "bytes" : !strcmp(s, "d") ? "batch" : !strcmp(s, "e") ? "stream" : "url";
  char file[64];
  snprintf(file, sizeof file, "req_%s.%s", name, grpc ? "pb" : "json");
  body = bench_read_file(o->data_dir, file, &body_len);
  min_answer = !strcmp(s, "d") ? 30000 : !strcmp(s, "e") ? 50000 : 1000;
  if (grpc)
    snprintf(url, sizeof url, "%s://%s/clarifai.api.V2/%s", tls ? "https" : "http", o->target,
             !strcmp(s, "e") ? "GenerateModelOutputs" : "PostModelOutputs");
  else
    snprintf(url, sizeof url, "%s/v2/users/bench-user/apps/bench-app/models/%s/outputs", o->target,
             !strcmp(s, "d") ? "batch32" : "general-image-recognition");
  char user_agent[128];
  snprintf(user_agent, sizeof user_agent, "libclarifai/%s (libcurl/%s)", CLARIFAI_VERSION_STRING,
           curl_version_info(CURLVERSION_NOW)->version);
  for (int t = 0; t < o->threads; t++) {
    worker *w = &workers[t];
    w->h = curl_easy_init();
    w->hdr = curl_slist_append(NULL, "authorization: Key bench-token");
    w->hdr = curl_slist_append(w->hdr, "X-Clarifai-Request-ID-Prefix: libclarifai-c-" CLARIFAI_VERSION_STRING);
    w->hdr = curl_slist_append(w->hdr, grpc ? "content-type: application/grpc" : "content-type: application/json");
    w->hdr = curl_slist_append(w->hdr, grpc ? "Accept:" : "Accept: application/json");
    w->hdr = curl_slist_append(w->hdr, "expect:");
    if (grpc) {
      w->hdr = curl_slist_append(w->hdr, "te: trailers");
      w->hdr = curl_slist_append(w->hdr, "grpc-accept-encoding: gzip");
    } else {
      curl_easy_setopt(w->h, CURLOPT_ACCEPT_ENCODING, "gzip");
    }
    curl_easy_setopt(w->h, CURLOPT_USERAGENT, user_agent);
    if (parsed_url) {
      w->parsed_url = curl_url();
      if (!w->parsed_url || curl_url_set(w->parsed_url, CURLUPART_URL, url, 0) != CURLUE_OK) {
        fprintf(stderr, "curl_url_set(%s) failed\n", url);
        return 1;
      }
      curl_easy_setopt(w->h, CURLOPT_CURLU, w->parsed_url);
    } else {
      curl_easy_setopt(w->h, CURLOPT_URL, url);
    }
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->hdr);
    curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(w->h, CURLOPT_WRITEDATA, &w->s);
    curl_easy_setopt(w->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(w->h, CURLOPT_HEADERDATA, &w->s);
    curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->h, CURLOPT_HTTP_VERSION, tls ? CURL_HTTP_VERSION_2TLS
                                                 : grpc ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_1_1);
    /* TLS: the responder's certificate, from the variable libclarifai reads too. */
    if (tls) curl_easy_setopt(w->h, CURLOPT_CAINFO, getenv("CLARIFAI_ROOT_CERTIFICATES_PATH"));
    /* libcurl < 8 stalls an HTTP/2 transfer whose answer (with trailers) arrives faster than its
       receive buffer (16 kB by default) is drained, until its 200 ms / 1 s poll timeout: the floor
       uses a 512 kB buffer on gRPC (the batch answer is 32 kB, the stream 60 kB). */
    if (grpc) curl_easy_setopt(w->h, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (fresh) { curl_easy_setopt(w->h, CURLOPT_FRESH_CONNECT, 1L); curl_easy_setopt(w->h, CURLOPT_FORBID_REUSE, 1L); }
  }
  return 0;
}

static int bench_call(int thread) {
  worker *w = &workers[thread];
  w->s.len = 0;
  w->s.grpc_ok = 0;
  CURLcode rc = curl_easy_perform(w->h);
  if (h2c_by_hand && rc == CURLE_OK && !w->reuses_h2c) {
    curl_easy_setopt(w->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
    w->reuses_h2c = 1;
  }
  long status = 0;
  curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
  int bad = rc != CURLE_OK || status != 200 || w->s.len < min_answer || (grpc && !w->s.grpc_ok);
  static int reported;
  if (bad && !reported++) fprintf(stderr, "call failed: curl %d HTTP %ld, %zu bytes\n", rc, status, w->s.len);
  return bad;
}

int main(int argc, char **argv) { return bench_main(argc, argv); }
