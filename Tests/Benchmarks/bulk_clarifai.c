/*
 * Bulk prediction benchmark client on libclarifai (C API), one process per run (bulk_bench.py):
 *
 *   bulk_clarifai --mode many|async --transport grpc|grpcs --target HOST:PORT [--model ID]
 *                 [--inputs N] [--batch B] [--concurrency C] [--rate R] [--warmup 0|1] [--token T]
 *
 * Input i is the image URL https://samples.clarifai.com/bulk/<i>.jpg (distinct, so that the test
 * server's duplicate counter sees every input).
 * many:  clarifai_predict_many(client, model, NULL, B, C, R, next_input, on_result, NULL, ...).
 * async: clarifai_predict_async with B inputs per call on one queue from this one thread, C calls
 *        in flight, clarifai_queue_next waiting (no limit) for the next completion.
 * Every input's outcome is read: 20 concepts, each name and value. With --warmup 1 one batch of
 * other URLs goes first through the same API (connections, lazy set-up), not measured. The
 * process's user+sys CPU (getrusage: every thread) and the wall time are taken around the N
 * inputs only; peak RSS is the process's ru_maxrss. One JSON line on stdout.
 * grpcs trusts the responder's certificate through $CLARIFAI_ROOT_CERTIFICATES_PATH.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "clarifai.h"

#define CONCEPTS 20
static clarifai_client *client;
static const char *model = "general-image-recognition", *url_prefix = "bulk";
static size_t total = 10000, batch = 32, concurrency = 10;
static double rate;
static unsigned char *seen;    /* per input: outcomes reported */
static size_t supplied, ok, failed, bad_answers, duplicates, requests;
static long errors[16];        /* failed inputs by CLARIFAI_ERROR_* code */
static char first_error[512];
static volatile double checksum; /* keeps the reads of every concept */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec +
         (double)r.ru_stime.tv_usec * 1e-6;
}

static void note_failure(int code) {
  errors[code >= 0 && code < 16 ? code : 0]++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "code %d: %s", code, clarifai_last_error());
}

/* Reads output `o`'s concepts; 0 when it has the 20 of the canned/test answers. */
static int read_output(const clarifai_response *r, size_t o) {
  const clarifai_concept *c;
  size_t n;
  if (clarifai_response_concepts(r, o, &c, &n) || n != CONCEPTS) return 1;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += c[i].value + (double)(unsigned char)c[i].name[0];
  checksum += sum;
  return 0;
}

static void outcome(size_t index, int code, const clarifai_response *r, size_t output) {
  if (index >= total) { bad_answers++; return; }
  if (seen[index]++) duplicates++;
  if (code != CLARIFAI_OK) { failed++; note_failure(code); return; }
  if (read_output(r, output)) { failed++; bad_answers++; if (!first_error[0]) snprintf(first_error, sizeof first_error, "output without 20 concepts"); return; }
  ok++;
}

/* ---- predict_many ---- */
static char url[256];
static int measuring;

static int next_input(void *user, clarifai_input *input) {
  size_t limit = *(size_t *)user;
  if (supplied >= limit) return 0;
  snprintf(url, sizeof url, "https://samples.clarifai.com/%s/%zu.jpg", measuring ? url_prefix : "warmup", supplied++);
  input->kind = CLARIFAI_INPUT_IMAGE;
  input->url = url;
  return 1;
}

static int on_result(void *user, size_t index, int code, const clarifai_response *result) {
  (void)user;
  if (measuring) outcome(index, code, result, 0);
  else if (code != CLARIFAI_OK) note_failure(code);
  return 0;
}

static int run_many(size_t n) {
  supplied = 0;
  int rc = clarifai_predict_many(client, model, NULL, batch, concurrency, rate, next_input, on_result, NULL, &n);
  if (rc != CLARIFAI_OK) {
    fprintf(stderr, "clarifai_predict_many: %d %s\n", rc, clarifai_last_error());
    return 1;
  }
  return 0;
}

/* ---- async from one thread ---- */
static int run_async(size_t n) {
  clarifai_queue *q = clarifai_queue_new();
  if (!q) { fprintf(stderr, "queue: %s\n", clarifai_last_error()); return 1; }
  clarifai_input *inputs = calloc(batch, sizeof *inputs);
  char (*urls)[128] = calloc(batch, sizeof *urls);
  size_t next = 0, in_flight = 0;
  int rc = 0;
  while (next < n || in_flight) {
    while (in_flight < concurrency && next < n) {
      size_t count = n - next < batch ? n - next : batch;
      for (size_t i = 0; i < count; i++) {
        snprintf(urls[i], sizeof urls[i], "https://samples.clarifai.com/%s/%zu.jpg", measuring ? url_prefix : "warmup", next + i);
        inputs[i] = (clarifai_input){ .kind = CLARIFAI_INPUT_IMAGE, .url = urls[i] };
      }
      /* The tag carries the batch's first input and its size. */
      void *tag = (void *)(uintptr_t)((next << 8) | count);
      int s = clarifai_predict_async(client, model, NULL, inputs, count, q, tag);
      if (s != CLARIFAI_OK) { fprintf(stderr, "clarifai_predict_async: %d %s\n", s, clarifai_last_error()); rc = 1; goto done; }
      requests++;
      next += count;
      in_flight++;
    }
    void *tag;
    int code;
    clarifai_response *r;
    int s = clarifai_queue_next(q, -1, &tag, &code, &r);
    if (s != CLARIFAI_OK) { fprintf(stderr, "clarifai_queue_next: %d %s\n", s, clarifai_last_error()); rc = 1; goto done; }
    in_flight--;
    size_t first = (uintptr_t)tag >> 8, count = (uintptr_t)tag & 0xff;
    if (measuring) {
      int whole = code == CLARIFAI_OK && clarifai_response_output_count(r) == count;
      if (code == CLARIFAI_OK && !whole) bad_answers++;
      for (size_t i = 0; i < count; i++) outcome(first + i, whole ? CLARIFAI_OK : (code ? code : CLARIFAI_ERROR_PROTOCOL), r, i);
    } else if (code != CLARIFAI_OK) note_failure(code);
    clarifai_response_free(r);
  }
done:
  clarifai_queue_free(q);
  free(inputs);
  free(urls);
  return rc;
}

int main(int argc, char **argv) {
  const char *mode = "many", *transport = "grpc", *target = NULL, *token = "bench-token";
  int warmup = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--mode")) mode = v;
    else if (!strcmp(k, "--transport")) transport = v;
    else if (!strcmp(k, "--target")) target = v;
    else if (!strcmp(k, "--model")) model = v;
    else if (!strcmp(k, "--inputs")) total = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--batch")) batch = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--concurrency")) concurrency = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--warmup")) warmup = atoi(v);
    else if (!strcmp(k, "--token")) token = v;
    else if (!strcmp(k, "--url-prefix")) url_prefix = v;
    else { fprintf(stderr, "unknown option %s\n", k); return 2; }
  }
  if (!target || batch < 1 || batch > 128 || concurrency < 1 || total < 1) { fprintf(stderr, "bad options\n"); return 2; }
  int is_many = !strcmp(mode, "many");
  if (!is_many && strcmp(mode, "async")) { fprintf(stderr, "--mode many|async\n"); return 2; }
  clarifai_channel *ch = !strcmp(transport, "grpcs") ? clarifai_channel_new_grpc(target) : clarifai_channel_new_grpc_insecure(target);
  if (!ch) { fprintf(stderr, "channel: %s\n", clarifai_last_error()); return 1; }
  client = clarifai_client_new(ch, token, "bench-user", "bench-app");
  clarifai_channel_free(ch);
  if (!client) { fprintf(stderr, "client: %s\n", clarifai_last_error()); return 1; }
  seen = calloc(total, 1);
  if (warmup && (is_many ? run_many(batch) : run_async(batch))) return 1;
  if (first_error[0]) { fprintf(stderr, "warm-up failed: %s\n", first_error); return 1; }
  memset(errors, 0, sizeof errors);
  requests = 0;
  measuring = 1;
  double c0 = cpu(), w0 = now();
  int rc = is_many ? run_many(total) : run_async(total);
  double w1 = now(), c1 = cpu();
  size_t missing = 0;
  for (size_t i = 0; i < total; i++) missing += !seen[i];
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"inputs\": %zu, \"ok\": %zu, \"failed\": %zu, \"missing\": %zu, \"duplicates\": %zu, \"bad_answers\": %zu, "
         "\"requests\": %zu, \"cpu_s\": %.6f, \"wall_s\": %.6f, \"maxrss_kb\": %ld, \"errors\": {",
         total, ok, failed, missing, duplicates, bad_answers, is_many ? (total + batch - 1) / batch : requests, c1 - c0,
         w1 - w0, ru.ru_maxrss);
  int sep = 0;
  for (int c = 0; c < 16; c++)
    if (errors[c]) printf("%s\"%d\": %ld", sep++ ? ", " : "", c, errors[c]);
  printf("}, \"first_error\": \"");
  for (const char *p = first_error; *p; p++) putchar(*p == '"' || *p == '\\' ? '\'' : (unsigned char)*p < 32 ? ' ' : *p);
  printf("\"}\n");
  clarifai_client_free(client);
  return rc;
}
