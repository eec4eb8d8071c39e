/* Load test: THREADS threads share one client and make CALLS predictions each, every result
 * checked (on gRPC every 10th is a bidirectional stream of 3 messages instead; every 7th is 3
 * asynchronous predictions on a queue all threads share, whose completions any thread may
 * take: each is checked against its tag, the text it must echo; the 3 count as one call; the
 * second call of every thread echoes a text of 192 KiB, all at once, within the warm-up for runs
 * of 40 calls or more: malloc's arenas keep such blocks, which must not pass for growth); then
 * the process's resident memory is compared after a warm-up and at the end, each time after
 * malloc_trim(): glibc keeps memory freed by other threads in per-thread arenas (here up to
 * ~100 MB over 32 threads, all of it free: it is the memory in use that must stay flat).
 *   load rest|grpc|grpcs THREADS CALLS [CONNECTIONS]
 * Server from CLARIFAI_API_BASE / CLARIFAI_GRPC_BASE, token from CLARIFAI_PAT. Prints
 * "N passed, M failed" and "rss_kb warm=<kB> end=<kB>". */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker {
  clarifai_client *client;
  clarifai_queue *queue;
  int index, calls, passed, failed, streams;
  pthread_barrier_t *warm;
};

/* StreamModelOutputs: 3 requests, then their 3 echoes in order; 1 when all came back right. */
static int stream_echoes(clarifai_client *client, const char *text) {
  clarifai_stream *stream = NULL;
  char request[192], expected[128];
  int ok = clarifai_stream_open(client, "StreamModelOutputs", &stream) == CLARIFAI_OK;
  for (int i = 0; ok && i < 3; i++) {
    snprintf(request, sizeof request, "{\"model_id\": \"text-echo\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"%s %d\"}}}]}", text, i);
    ok = clarifai_stream_send(stream, request) == CLARIFAI_OK;
  }
  ok = ok && clarifai_stream_close_send(stream) == CLARIFAI_OK;
  clarifai_response *message = NULL;
  int received = 0;
  while (ok && clarifai_stream_recv(stream, &message) == CLARIFAI_OK && message != NULL) {
    snprintf(expected, sizeof expected, "echo: %s %d", text, received++);
    ok = strcmp(clarifai_response_text(message, 0), expected) == 0;
    clarifai_response_free(message);
  }
  ok = ok && received == 3 && clarifai_last_error_code() == CLARIFAI_OK;
  clarifai_stream_free(stream);
  return ok;
}

/* Starts 3 predictions on the shared queue, then takes 3 completions (maybe other threads'):
   how many echoed their tag. */
static int async_echoes(clarifai_client *client, clarifai_queue *queue, const char *text) {
  int ok = 0;
  for (int i = 0; i < 3; i++) {
    char *tag = malloc(128);
    snprintf(tag, 128, "%s async %d", text, i);
    clarifai_input input = {.kind = CLARIFAI_INPUT_TEXT, .text = tag};
    if (clarifai_predict_async(client, "text-echo", NULL, &input, 1, queue, tag) != CLARIFAI_OK) {
      free(tag);
      return 0;
    }
  }
  for (int i = 0; i < 3; i++) {
    void *tag = NULL;
    int code = -1;
    clarifai_response *out = NULL;
    if (clarifai_queue_next(queue, -1, &tag, &code, &out) != CLARIFAI_OK) return 0;
    const char *text = code == CLARIFAI_OK ? clarifai_response_text(out, 0) : NULL;
    ok += text != NULL && strncmp(text, "echo: ", 6) == 0 && strcmp(text + 6, tag) == 0;
    clarifai_response_free(out);
    free(tag);
  }
  return ok;
}

static long resident_kb(void) {
  malloc_trim(0);
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (status && fgets(line, sizeof line, status))
    if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  if (status) fclose(status);
  return kb;
}

/* A text of 192 KiB starting with `text`: on gRPC its request (over 128 KiB) goes out from where
 * it is, behind its frame's header, read by libcurl through a callback; 1 when echoed whole. */
static int large_echoes(clarifai_client *client, const char *text) {
  enum { LARGE = 192 << 10 };
  char *large = malloc(LARGE + 1);
  if (large == NULL) return 0;
  size_t length = strlen(text);
  memcpy(large, text, length);
  memset(large + length, 'x', LARGE - length);
  large[LARGE] = '\0';
  clarifai_response *out = NULL;
  int rc = clarifai_predict_text(client, "text-echo", NULL, large, &out);
  const char *echo = rc == CLARIFAI_OK ? clarifai_response_text(out, 0) : NULL;
  int echoed = echo != NULL && strncmp(echo, "echo: ", 6) == 0 && strcmp(echo + 6, large) == 0;
  clarifai_response_free(out);
  free(large);
  return echoed;
}

static void *run(void *arg) {
  struct worker *w = arg;
  char url[96], expected[32];
  for (int i = 0; i < w->calls; i++) {
    if (i == w->calls / 20) pthread_barrier_wait(w->warm); /* everyone past the warm-up */
    snprintf(url, sizeof url, "thread %d call %d", w->index, i);
    snprintf(expected, sizeof expected, "echo: ");
    if (i % 7 == 6) {
      if (async_echoes(w->client, w->queue, url) == 3) {
        w->passed++;
      } else if (++w->failed <= 3) {
        fprintf(stderr, "thread %d async %d: %s\n", w->index, i, clarifai_last_error());
      }
      continue;
    }
    if (i == 1) {
      if (large_echoes(w->client, url)) {
        w->passed++;
      } else if (++w->failed <= 3) {
        fprintf(stderr, "thread %d large %d: %s\n", w->index, i, clarifai_last_error());
      }
      continue;
    }
    if (w->streams && i % 10 == 9) {
      if (stream_echoes(w->client, url)) {
        w->passed++;
      } else if (++w->failed <= 3) {
        fprintf(stderr, "thread %d stream %d: %s\n", w->index, i, clarifai_last_error());
      }
      continue;
    }
    clarifai_response *out = NULL;
    int rc = clarifai_predict_text(w->client, "text-echo", NULL, url, &out);
    const char *text = rc == CLARIFAI_OK ? clarifai_response_text(out, 0) : NULL;
    if (text && strncmp(text, expected, 6) == 0 && strcmp(text + 6, url) == 0) {
      w->passed++;
    } else {
      w->failed++;
      if (w->failed <= 3) fprintf(stderr, "thread %d call %d: %s %s\n", w->index, i, clarifai_error_name(rc), clarifai_last_error());
    }
    clarifai_response_free(out);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: %s rest|grpc|grpcs THREADS CALLS [CONNECTIONS]\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[2]), calls = atoi(argv[3]), connections = argc == 5 ? atoi(argv[4]) : 1;
  clarifai_channel *channel = strcmp(argv[1], "grpc") == 0    ? clarifai_channel_new_grpc_insecure(NULL)
                              : strcmp(argv[1], "grpcs") == 0 ? clarifai_channel_new_grpc(getenv("CLARIFAI_GRPCS_BASE"))
                                                              : clarifai_channel_new_json(NULL);
  if (channel && clarifai_channel_set_connections(channel, connections) != CLARIFAI_OK) {
    clarifai_channel_free(channel);
    channel = NULL;
  }
  clarifai_client *client = channel ? clarifai_client_new(channel, NULL, "test-user", "load") : NULL;
  clarifai_channel_free(channel);
  if (!client || threads < 1 || calls < 20) {
    fprintf(stderr, "setup: %s\n", clarifai_last_error());
    return 2;
  }
  clarifai_queue *queue = clarifai_queue_new();
  pthread_barrier_t warm;
  pthread_barrier_init(&warm, NULL, (unsigned)threads + 1);
  struct worker *workers = calloc((size_t)threads, sizeof *workers);
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  for (int t = 0; t < threads; t++) {
    workers[t] = (struct worker){client, queue, t, calls, 0, 0, strcmp(argv[1], "rest") != 0, &warm};
    pthread_create(&ids[t], NULL, run, &workers[t]);
  }
  pthread_barrier_wait(&warm);
  long warm_kb = resident_kb();
  int passed = 0, failed = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    passed += workers[t].passed;
    failed += workers[t].failed;
  }
  long end_kb = resident_kb();
  clarifai_queue_free(queue);
  clarifai_client_free(client);
  free(workers);
  free(ids);
  printf("rss_kb warm=%ld end=%ld\n", warm_kb, end_kb);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
