/*
 * Benchmark client on libclarifai (C API). --api struct: clarifai_predict_url / _bytes /
 * clarifai_predict (32 inputs), concepts read through struct buffers; --api json: clarifai_call
 * with request JSON, answer read with clarifai_response_json. Scenario e: clarifai_call_stream.
 */
#include "bench_common.h"
#include "clarifai.h"

#define MODEL "general-image-recognition"
#define URL "https://samples.clarifai.com/metro-north.jpg"
static clarifai_client *client;
static char *image, *req_json;
static size_t image_len;
static clarifai_input batch[32];
static int use_json;

static int bench_setup(const bench_opts *o) {
  /* grpcs trusts the responder's certificate through $CLARIFAI_ROOT_CERTIFICATES_PATH. */
  clarifai_channel *ch = !strcmp(o->transport, "rest")    ? clarifai_channel_new_json(o->target)
                         : !strcmp(o->transport, "grpcs") ? clarifai_channel_new_grpc(o->target)
                                                          : clarifai_channel_new_grpc_insecure(o->target);
  if (!ch || (o->connections > 0 && clarifai_channel_set_connections(ch, o->connections) != CLARIFAI_OK)) {
    fprintf(stderr, "channel: %s\n", clarifai_last_error());
    return 1;
  }
  client = clarifai_client_new(ch, "bench-token", "bench-user", "bench-app");
  clarifai_channel_free(ch);
  if (!client) return 1;
  use_json = !strcmp(o->api, "json");
  image = bench_read_file(o->data_dir, "image.bin", &image_len);
  for (int i = 0; i < 32; i++) batch[i] = (clarifai_input){ .kind = CLARIFAI_INPUT_IMAGE, .url = URL };
  const char *s = o->scenario;
  if (!strcmp(s, "a") || !strcmp(s, "b"))
    req_json = strdup("{\"model_id\": \"" MODEL "\", \"inputs\": [{\"data\": {\"image\": {\"url\": \"" URL "\"}}}]}");
  else if (!strcmp(s, "d")) {
    size_t cap = 32 * 100 + 100;
    req_json = malloc(cap);
    strcpy(req_json, "{\"model_id\": \"batch32\", \"inputs\": [");
    for (int i = 0; i < 32; i++) strcat(req_json, i ? ", {\"data\": {\"image\": {\"url\": \"" URL "\"}}}" : "{\"data\": {\"image\": {\"url\": \"" URL "\"}}}");
    strcat(req_json, "]}");
  } else if (!strcmp(s, "c")) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = image_len, cap = n / 3 * 4 + 200, k;
    req_json = malloc(cap);
    k = (size_t)sprintf(req_json, "{\"model_id\": \"" MODEL "\", \"inputs\": [{\"data\": {\"image\": {\"base64\": \"");
    const unsigned char *p = (const unsigned char *)image;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
      req_json[k++] = b64[p[i] >> 2]; req_json[k++] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
      req_json[k++] = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]; req_json[k++] = b64[p[i + 2] & 63];
    }
    if (n - i == 1) { req_json[k++] = b64[p[i] >> 2]; req_json[k++] = b64[(p[i] & 3) << 4]; req_json[k++] = '='; req_json[k++] = '='; }
    else if (n - i == 2) { req_json[k++] = b64[p[i] >> 2]; req_json[k++] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)]; req_json[k++] = b64[(p[i + 1] & 15) << 2]; req_json[k++] = '='; }
    strcpy(req_json + k, "\"}}}]}");
  } else if (!strcmp(s, "e"))
    req_json = strdup("{\"model_id\": \"llm\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"Write 1000 tokens\"}}}]}");
  return 0;
}

static int check(int rc, clarifai_response *r, size_t outputs) {
  int bad = rc != CLARIFAI_OK;
  if (!bad && use_json) {
    const char *j = clarifai_response_json(r);
    bad = !j || strlen(j) < 1000;
  } else if (!bad) {
    bad = clarifai_response_output_count(r) != outputs;
    for (size_t o = 0; !bad && o < outputs; o++) {
      const clarifai_concept *c;
      size_t n;
      bad = clarifai_response_concepts(r, o, &c, &n) || n != 20 || c[19].value <= 0.0f || !c[19].name[0];
    }
  }
  static int reported;
  if (bad && !reported++) fprintf(stderr, "call failed: %d %s\n", rc, clarifai_last_error());
  clarifai_response_free(r);
  return bad;
}

static int on_message(const clarifai_response *m, void *user) {
  const char *t = clarifai_response_text(m, 0);
  if (t && t[0]) ++*(int *)user;
  return 0;
}

static int bench_call(int thread) {
  (void)thread;
  clarifai_response *r = NULL;
  const char *s = bench_o.scenario;
  if (!strcmp(s, "e")) {
    int n = 0;
    int rc = clarifai_call_stream(client, "GenerateModelOutputs", req_json, on_message, &n);
    if (rc || n != 1000) { fprintf(stderr, "stream: %d %d %s\n", rc, n, clarifai_last_error()); return 1; }
    return 0;
  }
  size_t outputs = !strcmp(s, "d") ? 32 : 1;
  int rc;
  if (use_json) rc = clarifai_call(client, "PostModelOutputs", req_json, &r);
  else if (!strcmp(s, "c")) rc = clarifai_predict_bytes(client, MODEL, NULL, image, image_len, &r);
  else if (!strcmp(s, "d")) rc = clarifai_predict(client, "batch32", NULL, batch, 32, &r);
  else rc = clarifai_predict_url(client, MODEL, NULL, URL, &r);
  return check(rc, r, outputs);
}

int main(int argc, char **argv) { return bench_main(argc, argv); }
