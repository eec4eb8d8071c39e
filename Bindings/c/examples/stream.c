/* stream: runs a generative model with GenerateModelOutputs, a server-streaming method on a gRPC
 * channel, and prints the text of each message as it arrives.
 *
 *   stream MODEL_ID "some prompt"
 *   stream --insecure stream-count 5        # cleartext HTTP/2 (h2c), e.g. a local server
 *   stream --max 3 MODEL_ID "some prompt"   # stop (cancel the stream) after 3 messages
 *
 * Target from $CLARIFAI_GRPC_BASE (default api.clarifai.com:443 over TLS; with --insecure it
 * must be set), token from $CLARIFAI_PAT, the model's owner from $CLARIFAI_USER_ID and
 * $CLARIFAI_APP_ID (default clarifai/main).
 *
 * Exit status: 0 when the stream ended normally (or was stopped by --max), the
 * CLARIFAI_ERROR_* code of the failure otherwise (5, CLARIFAI_ERROR_API, when a message carried a
 * Clarifai status other than SUCCESS), 64 for bad usage. */
#include <clarifai.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends s to out as a JSON string literal; returns the number of bytes written (out may be
   NULL to measure). */
static size_t json_quote(char *out, const char *s) {
  size_t n = 0;
#define PUT(c) do { if (out) out[n] = (c); n++; } while (0)
  PUT('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      PUT('\\');
      PUT((char)*p);
    } else if (*p < 0x20) {
      char escape[7];
      snprintf(escape, sizeof escape, "\\u%04x", *p);
      for (int i = 0; i < 6; i++) PUT(escape[i]);
    } else {
      PUT((char)*p);
    }
  }
  PUT('"');
#undef PUT
  return n;
}

/* {"model_id": MODEL, "inputs": [{"data": {"text": {"raw": TEXT}}}]}, to free() */
static char *generate_request(const char *model_id, const char *text) {
  static const char *parts[] = {"{\"model_id\": ", ", \"inputs\": [{\"data\": {\"text\": {\"raw\": ", "}}}]}"};
  size_t len = strlen(parts[0]) + json_quote(NULL, model_id) + strlen(parts[1]) + json_quote(NULL, text) +
               strlen(parts[2]) + 1;
  char *json = malloc(len), *p = json;
  if (!json) return NULL;
  p += sprintf(p, "%s", parts[0]);
  p += json_quote(p, model_id);
  p += sprintf(p, "%s", parts[1]);
  p += json_quote(p, text);
  sprintf(p, "%s", parts[2]);
  return json;
}

struct progress {
  long max;      /* stop after this many messages; 0 means never */
  long received;
  int failed;    /* a message carried a non-SUCCESS status */
};

static int on_message(const clarifai_response *message, void *userdata) {
  struct progress *progress = userdata;
  progress->received++;
  int code = clarifai_response_status_code(message);
  if (code != 10000) {
    fprintf(stderr, "message %ld: status %d %s %s\n", progress->received, code,
            clarifai_response_status_description(message), clarifai_response_status_details(message));
    progress->failed = 1;
  }
  for (size_t i = 0; i < clarifai_response_output_count(message); i++) {
    const char *text = clarifai_response_text(message, i);
    if (text) printf("%s\n", text);
  }
  fflush(stdout);
  return progress->max > 0 && progress->received >= progress->max; /* non-zero cancels the stream */
}

int main(int argc, char **argv) {
  int insecure = 0;
  struct progress progress = {0, 0, 0};
  int arg = 1;
  for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
    if (strcmp(argv[arg], "--insecure") == 0) {
      insecure = 1;
    } else if (strcmp(argv[arg], "--max") == 0 && arg + 1 < argc) {
      char *end;
      progress.max = strtol(argv[++arg], &end, 10);
      if (*end || progress.max < 1) break;
    } else {
      break;
    }
  }
  if (argc - arg != 2) {
    fprintf(stderr, "usage: %s [--insecure] [--max N] MODEL_ID TEXT\n", argv[0]);
    return 64;
  }
  const char *user_id = getenv("CLARIFAI_USER_ID") ? getenv("CLARIFAI_USER_ID") : "clarifai";
  const char *app_id = getenv("CLARIFAI_APP_ID") ? getenv("CLARIFAI_APP_ID") : "main";

  /* NULL target: $CLARIFAI_GRPC_BASE (or api.clarifai.com for TLS) */
  clarifai_channel *channel = insecure ? clarifai_channel_new_grpc_insecure(NULL) : clarifai_channel_new_grpc(NULL);
  clarifai_client *client = channel ? clarifai_client_new(channel, NULL, user_id, app_id) : NULL;
  clarifai_channel_free(channel); /* the client keeps it alive */
  if (!client) {
    fprintf(stderr, "setup failed: %s\n", clarifai_last_error());
    return CLARIFAI_ERROR_INVALID_ARGUMENT;
  }

  char *request = generate_request(argv[arg], argv[arg + 1]);
  if (!request) {
    clarifai_client_free(client);
    return CLARIFAI_ERROR_INTERNAL;
  }
  int rc = clarifai_call_stream(client, "GenerateModelOutputs", request, on_message, &progress);
  if (rc == CLARIFAI_ERROR_CANCELLED && progress.max > 0 && progress.received >= progress.max) {
    rc = CLARIFAI_OK; /* we stopped it */
  } else if (rc != CLARIFAI_OK) {
    fprintf(stderr, "%s: %s\n", clarifai_error_name(rc), clarifai_last_error());
  }
  if (rc == CLARIFAI_OK && progress.failed) rc = CLARIFAI_ERROR_API;
  free(request);
  clarifai_client_free(client);
  return rc;
}
