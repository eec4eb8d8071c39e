/* C-level tests of libclarifai: bad input everywhere, and real calls against the local test
 * server. Run by Tests/Python/test_c_program.py, which starts the server and sets
 * CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE and CLARIFAI_PAT; CLARIFAI_TEST_CHANNEL=grpc runs the
 * calls on the cleartext gRPC channel instead of REST, =grpcs on the TLS gRPC channel (target
 * CLARIFAI_GRPCS_BASE, certificate CLARIFAI_ROOT_CERTIFICATES_PATH). Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (cond) {                                                                         \
      passed++;                                                                         \
    } else {                                                                            \
      failed++;                                                                         \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, \
              #cond, clarifai_last_error());                                            \
    }                                                                                   \
  } while (0)

#define CONTAINS(text, part) ((text) != NULL && strstr((text), (part)) != NULL)

static const char *model = "general-image-recognition";
static int on_grpc; /* the calls go over the cleartext gRPC channel, not REST */
static int on_tls_grpc; /* ... over the TLS gRPC channel */

static long milliseconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* A new channel of the kind the tests run on (CLARIFAI_TEST_CHANNEL), with connections of its own. */
static clarifai_channel *new_test_channel(void) {
  return on_tls_grpc ? clarifai_channel_new_grpc(getenv("CLARIFAI_GRPCS_BASE"))
         : on_grpc   ? clarifai_channel_new_grpc_insecure(NULL)
                     : clarifai_channel_new_json(NULL);
}

static void test_codec(void) {
  void *bytes = (void *)&bytes;
  size_t len = 99;
  char *json = (char *)&json;
  CHECK(clarifai_json_to_proto(NULL, "{}", &bytes, &len) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(bytes == NULL && len == 0);
  CHECK(clarifai_json_to_proto("clarifai.api.Concept", NULL, &bytes, &len) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_json_to_proto("clarifai.api.Concept", "{}", NULL, &len) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_json_to_proto("clarifai.api.Concept", "{}", &bytes, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_json_to_proto("no.Such", "{}", &bytes, &len) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "no.Such"));
  CHECK(clarifai_json_to_proto("clarifai.api.Concept", "{}", &bytes, &len) == CLARIFAI_OK);
  CHECK(bytes != NULL && len == 0);
  clarifai_free(bytes);
  CHECK(clarifai_json_to_proto("clarifai.api.Concept", "{\"id\": \"cat\", \"value\": 0.5}", &bytes, &len) == CLARIFAI_OK);
  CHECK(clarifai_proto_to_json("clarifai.api.Concept", bytes, len, &json) == CLARIFAI_OK);
  CHECK(json != NULL && strcmp(json, "{\"id\":\"cat\",\"value\":0.5}") == 0);
  clarifai_free(json);
  CHECK(clarifai_proto_to_json("clarifai.api.Concept", bytes, len - 1, &json) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(json == NULL);
  clarifai_free(bytes);
  CHECK(clarifai_proto_to_json("google.protobuf.Struct", NULL, 0, &json) == CLARIFAI_OK && strcmp(json, "{}") == 0);
  clarifai_free(json);
  /* Concept.value is marked cl_show_if_empty: the REST form prints it even at 0. */
  CHECK(clarifai_proto_to_json("clarifai.api.Concept", NULL, 0, &json) == CLARIFAI_OK && strcmp(json, "{\"value\":0}") == 0);
  clarifai_free(json);
  CHECK(clarifai_proto_to_json("clarifai.api.Concept", NULL, 3, &json) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_proto_to_json("clarifai.api.Concept", "", 0, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  clarifai_free(NULL);
}

static int count_messages(const clarifai_response *message, void *userdata) {
  (void)message;
  (*(int *)userdata)++;
  return 0;
}

static void test_versions_and_errors(void) {
  CHECK(strcmp(clarifai_version(), CLARIFAI_VERSION_STRING) == 0);
  CHECK(clarifai_version_number() == CLARIFAI_VERSION_NUMBER);
  CHECK(CLARIFAI_VERSION_NUMBER == CLARIFAI_VERSION_MAJOR * 10000 + CLARIFAI_VERSION_MINOR * 100 + CLARIFAI_VERSION_PATCH);
  CHECK(strcmp(clarifai_api_version(), "12.6.0") == 0);
  CHECK(strcmp(clarifai_error_name(CLARIFAI_OK), "CLARIFAI_OK") == 0);
  CHECK(strcmp(clarifai_error_name(CLARIFAI_ERROR_TIMEOUT), "CLARIFAI_ERROR_TIMEOUT") == 0);
  CHECK(strcmp(clarifai_error_name(CLARIFAI_ERROR_INTERNAL), "CLARIFAI_ERROR_INTERNAL") == 0);
  CHECK(strcmp(clarifai_error_name(CLARIFAI_ERROR_AUTH), "CLARIFAI_ERROR_AUTH") == 0);
  CHECK(strcmp(clarifai_error_name(10), "CLARIFAI_ERROR_UNKNOWN") == 0);
  CHECK(strcmp(clarifai_error_name(-1), "CLARIFAI_ERROR_UNKNOWN") == 0);
  CHECK(strcmp(clarifai_error_name(99), "CLARIFAI_ERROR_UNKNOWN") == 0);
  CHECK(clarifai_method_count() == 273);
  CHECK(clarifai_method_name(clarifai_method_count()) == NULL);
  int found = 0;
  for (size_t i = 0; i < clarifai_method_count(); i++) found += strcmp(clarifai_method_name(i), "PostModelOutputs") == 0;
  CHECK(found == 1);
}

static void test_null_arguments(clarifai_client *client) {
  clarifai_response *out = (clarifai_response *)&out; /* must be reset to NULL */
  CHECK(clarifai_call(NULL, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "client is NULL"));
  CHECK(clarifai_call(client, NULL, NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "method is NULL"));
  CHECK(clarifai_call(client, "ListConcepts", NULL, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "out is NULL"));
  CHECK(clarifai_predict_url(client, NULL, NULL, "https://x/y.jpg", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "model_id is NULL"));
  CHECK(clarifai_predict_url(client, model, NULL, NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_bytes(client, model, NULL, NULL, 10, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_bytes(client, model, NULL, "x", 0, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_file(client, model, NULL, NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_text(client, model, NULL, NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict(client, model, NULL, NULL, 1, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict(client, model, NULL, NULL, 0, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_call_proto(NULL, "ListConcepts", NULL, 0, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_call_proto(client, "ListConcepts", NULL, 5, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  int messages = 0;
  CHECK(clarifai_call_stream(NULL, "GenerateModelOutputs", NULL, count_messages, &messages) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_call_stream(client, "GenerateModelOutputs", NULL, NULL, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(messages == 0);
  const void *proto = (const void *)1;
  size_t proto_len = 5;
  CHECK(clarifai_response_proto(NULL, &proto, &proto_len) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(proto == NULL && proto_len == 0);
  CHECK(clarifai_channel_new_grpc("https://api.clarifai.com") == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "host[:port]"));
  CHECK(clarifai_channel_set_timeout_ms(NULL, 10) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_ca_file(NULL, "/etc/hostname") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_new(NULL, "t", NULL, NULL) == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "channel is NULL"));
  /* Getters and frees take NULL. */
  CHECK(clarifai_response_status_code(NULL) == 0);
  CHECK(clarifai_response_json(NULL) == NULL);
  CHECK(clarifai_response_output_count(NULL) == 0);
  CHECK(clarifai_response_text(NULL, 0) == NULL);
  const clarifai_concept *concepts = (const clarifai_concept *)1;
  size_t count = 7;
  CHECK(clarifai_response_concepts(NULL, 0, &concepts, &count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(concepts == NULL && count == 0);
  clarifai_response_free(NULL);
  clarifai_client_free(NULL);
  clarifai_channel_free(NULL);
}

static void test_bad_input(clarifai_client *client) {
  clarifai_response *out = NULL;
  CHECK(clarifai_call(client, "NoSuchMethod", NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "unknown method 'NoSuchMethod'"));
  CHECK(clarifai_call(client, "ListConcepts", "{\"per_page\": ", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "invalid JSON"));
  CHECK(clarifai_call(client, "ListConcepts", "[1,2]", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "expected a JSON object"));
  CHECK(clarifai_call(client, "ListConcepts", "{\"no_such_field\": 1}", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "no_such_field"));
  if (!on_grpc) { /* REST needs the path's fields before sending */
    CHECK(clarifai_call(client, "GetModel", "{}", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
    CHECK(CONTAINS(clarifai_last_error(), "model_id"));
  }
  CHECK(clarifai_call(client, "GenerateModelOutputs", "{}", &out) == CLARIFAI_ERROR_UNSUPPORTED);
  CHECK(clarifai_call(client, "ListConcepts", "{\"page\": \"\xff\xfe\"}", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_file(client, model, NULL, "/no/such/file.jpg", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "/no/such/file.jpg"));
  CHECK(clarifai_predict_file(client, model, NULL, "/dev/null", &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  clarifai_input two_sources = {CLARIFAI_INPUT_IMAGE, "https://x/y.jpg", "ab", 2, NULL, NULL};
  CHECK(clarifai_predict(client, model, NULL, &two_sources, 1, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "inputs[0]"));
  clarifai_input bad_kind = {42, "https://x/y.jpg", NULL, 0, NULL, NULL};
  CHECK(clarifai_predict(client, model, NULL, &bad_kind, 1, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "kind 42"));
  clarifai_input image_text = {CLARIFAI_INPUT_IMAGE, NULL, NULL, 0, "words", NULL};
  CHECK(clarifai_predict(client, model, NULL, &image_text, 1, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK(clarifai_channel_new_json("ftp://example.com") == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "https://"));
  /* A constructor's failure keeps its code, and a local failure has no statuses. */
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_last_error_http_status() == 0 && clarifai_last_error_grpc_status() == -1);
  CHECK(clarifai_last_error_transient() == 0);
  CHECK(clarifai_channel_new_json("https://api.clarifai.com/v2") == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "ends in /v2"));
  CHECK(clarifai_client_new((clarifai_channel *)NULL, "x", NULL, NULL) == NULL);
}

static void test_token_checks(void) {
  clarifai_channel *channel = clarifai_channel_new_json(NULL);
  CHECK(channel != NULL);
  CHECK(clarifai_client_new(channel, "secret\r\nX-Evil: 1", NULL, NULL) == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "control characters"));
  CHECK(!CONTAINS(clarifai_last_error(), "secret"));
  CHECK(clarifai_client_new(channel, "", NULL, NULL) == NULL);
  CHECK(clarifai_channel_set_timeout_ms(channel, -1) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_timeout_ms(channel, 0) == CLARIFAI_OK);
  CHECK(strcmp(clarifai_last_error(), "") == 0);
  CHECK(clarifai_channel_set_ca_file(channel, "/no/such/ca.pem") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "/no/such/ca.pem"));
  clarifai_channel_free(channel);
}

/* Handles of the wrong kind (easy to pass from ctypes, where all are void pointers) and the
   stream callback's freedom to call into the library. */
static int call_from_callback(const clarifai_response *message, void *userdata) {
  clarifai_client *client = userdata;
  clarifai_response *nested = NULL;
  int code = clarifai_predict_text(client, "text-echo", NULL, clarifai_response_text(message, 0), &nested);
  /* Since 1.1 the JSON and protobuf getters take the const message a callback gets. */
  const void *proto = NULL;
  size_t proto_len = 0;
  int ok = code == CLARIFAI_OK && strncmp(clarifai_response_text(nested, 0), "echo: ", 6) == 0 &&
           clarifai_response_json(message) != NULL && clarifai_response_proto(message, &proto, &proto_len) == CLARIFAI_OK;
  clarifai_response_free(nested);
  return ok ? 0 : 1;
}

static void test_handle_misuse(clarifai_client *client, clarifai_channel *channel) {
  clarifai_response *out = NULL;
  CHECK(clarifai_call((clarifai_client *)channel, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "client is not a clarifai_client"));
  CHECK(clarifai_channel_set_timeout_ms((clarifai_channel *)client, 10) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "channel is not a clarifai_channel"));
  const clarifai_concept *concepts = NULL;
  size_t count = 0;
  CHECK(clarifai_response_concepts((clarifai_response *)client, 0, &concepts, &count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "not a clarifai_response"));
  CHECK(clarifai_response_status_code((clarifai_response *)client) == 0);
  CHECK(clarifai_response_json((clarifai_response *)channel) == NULL);
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT);
  /* Frees of the wrong kind are ignored: the client and channel still work below. */
  clarifai_response_free((clarifai_response *)client);
  clarifai_client_free((clarifai_client *)channel);
  CHECK(clarifai_call(client, "ListConcepts", NULL, &out) == CLARIFAI_OK);
  clarifai_response_free(out);
  if (on_grpc) {
    const char *request = "{\"model_id\": \"stream-count\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"3\"}}}]}";
    CHECK(clarifai_call_stream(client, "GenerateModelOutputs", request, call_from_callback, client) == CLARIFAI_OK);
  }
}

/* Per-client settings (1.1): copies of a client, its own deadline, retries and headers, and
   session-token clients. */
static void test_client_settings(clarifai_client *client, clarifai_channel *channel) {
  CHECK(clarifai_client_dup(NULL) == NULL && clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT);
  clarifai_client *copy = clarifai_client_dup(client);
  CHECK(copy != NULL);
  CHECK(clarifai_client_set_timeout_ms(copy, -2) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_timeout_ms(copy, 15000) == CLARIFAI_OK);
  CHECK(clarifai_client_set_timeout_ms(copy, -1) == CLARIFAI_OK);
  CHECK(clarifai_client_set_max_retries(copy, 101) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_max_retries(copy, 0) == CLARIFAI_OK);
  CHECK(clarifai_client_set_max_retries(copy, -1) == CLARIFAI_OK);
  CHECK(clarifai_client_set_header(copy, "Authorization", "Key stolen") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "credential"));
  CHECK(clarifai_client_set_header(copy, "grpc-timeout", "1S") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_header(copy, "bad name", "x") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_header(copy, "x-test-extra", "one\r\nx-evil: 1") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_header(copy, NULL, "x") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_client_set_header(copy, "X-Test-Extra", "one") == CLARIFAI_OK);
  CHECK(clarifai_client_set_header(copy, "x-test-extra", NULL) == CLARIFAI_OK);
  clarifai_response *out = NULL;
  CHECK(clarifai_call(copy, "ListConcepts", NULL, &out) == CLARIFAI_OK);
  clarifai_response_free(out);
  clarifai_client_free(copy);

  clarifai_client *session = clarifai_client_new_session(channel, "test-session-token", "test-user", "main");
  CHECK(session != NULL);
  CHECK(clarifai_call(session, "ListConcepts", NULL, &out) == CLARIFAI_OK);
  clarifai_response_free(out);
  clarifai_client_free(session);
  session = clarifai_client_new_session(channel, "not-the-session-token", "test-user", "main");
  CHECK(clarifai_call(session, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_API);
  CHECK(clarifai_response_status_code(out) == 11008);
  CHECK(!CONTAINS(clarifai_last_error(), "not-the-session-token"));
  clarifai_response_free(out);
  clarifai_client_free(session);
  CHECK(clarifai_client_new_session(channel, "", NULL, NULL) == NULL);
  CHECK(clarifai_client_new_session(NULL, "t", NULL, NULL) == NULL);

  /* The caller's authorization as given, or none: the server answers, never $CLARIFAI_PAT. */
  char key[512];
  snprintf(key, sizeof key, "Key %s", getenv("CLARIFAI_PAT"));
  clarifai_client *given = clarifai_client_new_authorization(channel, key, "test-user", "main");
  CHECK(given != NULL && clarifai_call(given, "ListConcepts", NULL, &out) == CLARIFAI_OK);
  clarifai_response_free(out);
  clarifai_client_free(given);
  given = clarifai_client_new_authorization(channel, "Bearer not-a-known-token", "test-user", "main");
  CHECK(clarifai_call(given, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_API);
  CHECK(clarifai_response_status_code(out) == 11008 && !CONTAINS(clarifai_last_error(), "not-a-known-token"));
  clarifai_response_free(out);
  clarifai_client_free(given);
  given = clarifai_client_new_authorization(channel, NULL, "test-user", "main");
  CHECK(clarifai_call(given, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_API);
  CHECK(clarifai_response_status_code(out) == 11009);
  clarifai_response_free(out);
  clarifai_client_free(given);
  CHECK(clarifai_client_new_authorization(channel, "", NULL, NULL) == NULL);
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT && CONTAINS(clarifai_last_error(), "NULL"));
  CHECK(clarifai_client_new_authorization(channel, "Bearer x\r\nX-Evil: 1", NULL, NULL) == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "control characters"));
  CHECK(clarifai_client_new_authorization(NULL, NULL, NULL, NULL) == NULL);
}

/* Streams pulled message by message (1.1): a server-streaming method through the stream API, a
   cancel from another thread unblocking a recv, and what each side refuses. */
static void *cancel_later(void *stream) {
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  clarifai_stream_cancel(stream);
  return NULL;
}

enum { BIDI_MESSAGES = 20 };

static void *send_echo_requests(void *stream) {
  char request[128];
  for (int i = 0; i < BIDI_MESSAGES; i++) {
    snprintf(request, sizeof request, "{\"model_id\": \"text-echo\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"%d\"}}}]}", i);
    if (clarifai_stream_send(stream, request) != CLARIFAI_OK) return "send failed";
  }
  return clarifai_stream_close_send(stream) == CLARIFAI_OK ? NULL : "close failed";
}

static void test_streams(clarifai_client *client) {
  clarifai_stream *stream = (clarifai_stream *)&stream;
  CHECK(clarifai_stream_open(client, "ListConcepts", &stream) == CLARIFAI_ERROR_UNSUPPORTED && stream == NULL);
  CHECK(clarifai_stream_open(client, "NoSuchMethod", &stream) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_stream_open(client, "GenerateModelOutputs", NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_stream_send(NULL, "{}") == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_stream_recv((clarifai_stream *)client, (clarifai_response **)&stream) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "not a clarifai_stream"));
  clarifai_stream_cancel(NULL);
  clarifai_stream_free(NULL);
  if (!on_grpc) {
    CHECK(clarifai_stream_open(client, "GenerateModelOutputs", &stream) == CLARIFAI_ERROR_UNSUPPORTED);
    return;
  }
  const char *count = "{\"model_id\": \"stream-count\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"3\"}}}]}";
  CHECK(clarifai_stream_open(client, "GenerateModelOutputs", &stream) == CLARIFAI_OK);
  CHECK(clarifai_stream_send(stream, count) == CLARIFAI_OK);
  CHECK(clarifai_stream_send(stream, count) == CLARIFAI_ERROR_INVALID_ARGUMENT); /* server streaming: one request */
  CHECK(clarifai_stream_close_send(stream) == CLARIFAI_OK);
  CHECK(clarifai_stream_close_send(stream) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  int received = 0;
  clarifai_response *message = NULL;
  while (clarifai_stream_recv(stream, &message) == CLARIFAI_OK && message != NULL) {
    char expected[2] = {(char)('0' + received++), 0};
    CHECK(strcmp(clarifai_response_text(message, 0), expected) == 0);
    clarifai_response_free(message);
  }
  CHECK(received == 3 && message == NULL && clarifai_last_error_code() == CLARIFAI_OK);
  CHECK(clarifai_stream_recv(stream, &message) == CLARIFAI_OK && message == NULL); /* the end, again */
  clarifai_stream_free(stream);

  const char *forever = "{\"model_id\": \"stream-forever\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"x\"}}}]}";
  CHECK(clarifai_stream_open(client, "GenerateModelOutputs", &stream) == CLARIFAI_OK);
  CHECK(clarifai_stream_send(stream, forever) == CLARIFAI_OK && clarifai_stream_close_send(stream) == CLARIFAI_OK);
  pthread_t canceller;
  pthread_create(&canceller, NULL, cancel_later, stream);
  int code;
  while ((code = clarifai_stream_recv(stream, &message)) == CLARIFAI_OK && message != NULL) clarifai_response_free(message);
  pthread_join(canceller, NULL);
  CHECK(code == CLARIFAI_ERROR_CANCELLED && message == NULL);
  CHECK(clarifai_stream_recv(stream, &message) == CLARIFAI_ERROR_CANCELLED);
  CHECK(clarifai_stream_send(stream, forever) != CLARIFAI_OK);
  clarifai_stream_free(stream);

  /* Both ways at once: one thread sends, this one receives the answers in order. */
  CHECK(clarifai_stream_open(client, "StreamModelOutputs", &stream) == CLARIFAI_OK);
  pthread_t sender;
  pthread_create(&sender, NULL, send_echo_requests, stream);
  received = 0;
  int in_order = 1;
  while ((code = clarifai_stream_recv(stream, &message)) == CLARIFAI_OK && message != NULL) {
    char expected[32];
    snprintf(expected, sizeof expected, "echo: %d", received++);
    in_order &= strcmp(clarifai_response_text(message, 0), expected) == 0;
    clarifai_response_free(message);
  }
  void *send_failure = (void *)"not joined";
  pthread_join(sender, &send_failure);
  CHECK(code == CLARIFAI_OK && send_failure == NULL && received == BIDI_MESSAGES && in_order);
  clarifai_stream_free(stream);

  /* A conversation the server ends after its 2nd answer, the request stream still open. With
     libcurl 7.88 the answer that comes with the end can be lost (a documented limit): the whole
     of it is asserted where CLARIFAI_TEST_EXACT_STREAM_END is set (make test-trixie). */
  CHECK(clarifai_stream_open(client, "StreamModelOutputs", &stream) == CLARIFAI_OK);
  received = 0;
  for (int i = 0; i < 4; i++) {
    char request[128];
    snprintf(request, sizeof request, "{\"model_id\": \"bidi-end-early\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"%d\"}}}]}", i);
    if (clarifai_stream_send(stream, request) != CLARIFAI_OK) break;
    if ((code = clarifai_stream_recv(stream, &message)) != CLARIFAI_OK || message == NULL) break;
    clarifai_response_free(message);
    received++;
  }
  CHECK(clarifai_stream_close_send(stream) == CLARIFAI_OK);
  CHECK(clarifai_stream_recv(stream, &message) == CLARIFAI_OK && message == NULL);
  CHECK(getenv("CLARIFAI_TEST_EXACT_STREAM_END") ? received == 2 : received >= 1 && received <= 2);
  clarifai_stream_free(stream);
}

/* The channel settings of 1.1: limits on idle time and answer size, and what they refuse. */
static void test_channel_limits(clarifai_client *client, clarifai_channel *channel) {
  CHECK(clarifai_channel_set_idle_timeout_ms(NULL, 1000) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_idle_timeout_ms(channel, -1) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "idle_ms"));
  CHECK(clarifai_channel_set_keepalive_ms(NULL, 1000) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_keepalive_ms(channel, -1) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "interval_ms"));
  CHECK(clarifai_channel_set_keepalive_ms(channel, 0) == CLARIFAI_OK);
  CHECK(clarifai_channel_set_keepalive_ms(channel, 30000) == CLARIFAI_OK);
  CHECK(clarifai_channel_set_max_receive_bytes(NULL, 1) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_max_receive_bytes(channel, 0) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "max_bytes"));
  /* A 100-byte limit: any prediction's answer is larger. */
  CHECK(clarifai_channel_set_max_receive_bytes(channel, 100) == CLARIFAI_OK);
  clarifai_response *out = NULL;
  CHECK(clarifai_predict_url(client, model, NULL, "https://samples.clarifai.com/metro-north.jpg", &out) == CLARIFAI_ERROR_PROTOCOL);
  CHECK(CONTAINS(clarifai_last_error(), "100"));
  CHECK(out == NULL);
  CHECK(clarifai_channel_set_max_receive_bytes(channel, (size_t)-1) == CLARIFAI_OK);
  CHECK(clarifai_channel_set_idle_timeout_ms(channel, 0) == CLARIFAI_OK);
  CHECK(clarifai_predict_url(client, model, NULL, "https://samples.clarifai.com/metro-north.jpg", &out) == CLARIFAI_OK);
  clarifai_response_free(out);
  CHECK(clarifai_channel_set_idle_timeout_ms(channel, 30000) == CLARIFAI_OK);
}

/* clarifai_response_outputs_text (1.1) against the per-output functions: the same concepts text,
   output after output, the same counts, and content bits that match what regions, text and
   embedding give. Returns the contents bits of all outputs or'ed together. */
static unsigned check_outputs_text(const clarifai_response *out) {
  const char *text = NULL;
  size_t len = 0, outputs = 0;
  const size_t *counts = NULL;
  const unsigned char *contents = NULL;
  CHECK(clarifai_response_outputs_text(out, &text, &len, &outputs, &counts, &contents) == CLARIFAI_OK);
  CHECK(outputs == clarifai_response_output_count(out));
  CHECK((outputs == 0) == (counts == NULL) && (outputs == 0) == (contents == NULL));
  size_t at = 0;
  unsigned seen = 0;
  for (size_t i = 0; i < outputs; i++) {
    const char *one = NULL;
    size_t one_len = 0, one_count = 0;
    CHECK(clarifai_response_concepts_text(out, i, &one, &one_len, &one_count) == CLARIFAI_OK);
    CHECK(counts[i] == one_count);
    CHECK(at + one_len <= len && (one_len == 0 || memcmp(text + at, one, one_len) == 0));
    at += one_len;
    const clarifai_region *regions = NULL;
    const float *vector = NULL;
    size_t n = 0, dim = 0;
    CHECK(clarifai_response_regions(out, i, &regions, &n) == CLARIFAI_OK);
    CHECK(clarifai_response_embedding(out, i, &vector, &dim) == CLARIFAI_OK);
    CHECK(!!(contents[i] & CLARIFAI_OUTPUT_REGIONS) == (n > 0));
    CHECK(!!(contents[i] & CLARIFAI_OUTPUT_TEXT) == (clarifai_response_text(out, i) != NULL));
    CHECK(!!(contents[i] & CLARIFAI_OUTPUT_EMBEDDING) == (dim > 0));
    CHECK((contents[i] & ~7u) == 0);
    seen |= contents[i];
  }
  CHECK(at == len && (len == 0) == (text == NULL));
  const char *again = NULL;
  size_t again_len = 0;
  CHECK(clarifai_response_outputs_text(out, &again, &again_len, &outputs, &counts, &contents) == CLARIFAI_OK);
  CHECK(again == text && again_len == len); /* made once, kept by the response */
  return seen;
}

static void test_predictions(clarifai_client *client) {
  clarifai_response *out = NULL;
  CHECK(clarifai_predict_url(client, model, NULL, "https://samples.clarifai.com/metro-north.jpg", &out) == CLARIFAI_OK);
  CHECK(strcmp(clarifai_last_error(), "") == 0);
  CHECK(clarifai_response_status_code(out) == 10000);
  CHECK(strlen(clarifai_response_request_id(out)) > 0);
  CHECK(clarifai_response_output_count(out) == 1);
  CHECK(CONTAINS(clarifai_response_json(out), "\"outputs\""));
  const clarifai_concept *concepts = NULL;
  size_t count = 0;
  CHECK(clarifai_response_concepts(out, 0, &concepts, &count) == CLARIFAI_OK);
  CHECK(count == 20 && concepts != NULL);
  for (size_t i = 0; i < count; i++) {
    CHECK(concepts[i].value > 0.0f && concepts[i].value <= 1.0f);
    CHECK(strlen(concepts[i].name) > 0 && strlen(concepts[i].id) > 0);
    if (i > 0) CHECK(concepts[i].value <= concepts[i - 1].value);
  }
  /* The same concepts as one block of text (1.1): id, name, value, app_id, each ended by a NUL. */
  const char *text = NULL;
  size_t text_len = 0, text_count = 0;
  CHECK(clarifai_response_concepts_text(out, 0, &text, &text_len, &text_count) == CLARIFAI_OK);
  CHECK(text_count == count && text != NULL && text[text_len - 1] == '\0');
  for (size_t i = 0, at = 0; i < count && at < text_len; i++) {
    const char *fields[4];
    for (int f = 0; f < 4; f++) {
      fields[f] = text + at;
      at += strlen(text + at) + 1;
    }
    CHECK(strcmp(fields[0], concepts[i].id) == 0 && strcmp(fields[1], concepts[i].name) == 0);
    CHECK(strtof(fields[2], NULL) == concepts[i].value && strcmp(fields[3], concepts[i].app_id) == 0);
    if (i == count - 1) CHECK(at == text_len);
  }
  CHECK(clarifai_response_concepts_text(out, 1, &text, &text_len, &text_count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(text == NULL && text_len == 0 && text_count == 0);
  CHECK(clarifai_response_concepts_text(out, 0, &text, NULL, &text_count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_response_concepts_text(NULL, 0, &text, &text_len, &text_count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(check_outputs_text(out) == 0);
  size_t outputs = 9;
  const size_t *counts = NULL;
  const unsigned char *contents = NULL;
  CHECK(clarifai_response_outputs_text(out, &text, NULL, &outputs, &counts, &contents) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(text == NULL && outputs == 0 && counts == NULL && contents == NULL);
  CHECK(clarifai_response_outputs_text(NULL, &text, &text_len, &outputs, &counts, &contents) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  const clarifai_concept *again = NULL;
  CHECK(clarifai_response_concepts(out, 0, &again, &count) == CLARIFAI_OK && again == concepts);
  CHECK(clarifai_response_concepts(out, 1, &again, &count) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "out of range"));
  const void *proto = NULL;
  size_t proto_len = 0;
  CHECK(clarifai_response_proto(out, &proto, &proto_len) == CLARIFAI_OK && proto != NULL && proto_len > 100);
  char *json = NULL;
  CHECK(clarifai_proto_to_json("clarifai.api.MultiOutputResponse", proto, proto_len, &json) == CLARIFAI_OK);
  CHECK(CONTAINS(json, concepts[0].id));
  clarifai_free(json);
  /* The path getters (1.1) read the same fields as the struct views. */
  long long code = 0;
  double value = 0;
  CHECK(clarifai_response_count(out, "outputs") == 1);
  CHECK(clarifai_response_count(out, "outputs[0].data.concepts") == 20);
  CHECK(clarifai_response_int64(out, "outputs[0].status.code", &code) == CLARIFAI_OK && code == 10000);
  CHECK(strcmp(clarifai_response_string(out, "status.code"), "SUCCESS") == 0);
  CHECK(strcmp(clarifai_response_string(out, "outputs[0].data.concepts[0].name"), concepts[0].name) == 0);
  CHECK(clarifai_response_double(out, "outputs[0].data.concepts[0].value", &value) == CLARIFAI_OK && (float)value == concepts[0].value);
  CHECK(clarifai_response_string(out, "outputs[1].id") == NULL && CONTAINS(clarifai_last_error(), "past the end"));
  CHECK(clarifai_response_count(out, "outputs[0].nope") == 0 && clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_response_int64(out, "status.code", NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_response_double(out, NULL, &value) == CLARIFAI_ERROR_INVALID_ARGUMENT && value == 0);
  CHECK(clarifai_response_string(NULL, "status.code") == NULL);
  clarifai_response_free(out);

  /* The same bytes give the same concepts, from memory and from a file. */
  const char bytes[] = "\x89PNG not really an image, but bytes";
  clarifai_response *from_bytes = NULL, *from_file = NULL;
  CHECK(clarifai_predict_bytes(client, model, NULL, bytes, sizeof bytes - 1, &from_bytes) == CLARIFAI_OK);
  char path[] = "/tmp/libclarifai-test-XXXXXX";
  int fd = mkstemp(path);
  FILE *file = fdopen(fd, "wb");
  fwrite(bytes, 1, sizeof bytes - 1, file);
  fclose(file);
  CHECK(clarifai_predict_file(client, model, NULL, path, &from_file) == CLARIFAI_OK);
  remove(path);
  const clarifai_concept *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  CHECK(clarifai_response_concepts(from_bytes, 0, &a, &na) == CLARIFAI_OK);
  CHECK(clarifai_response_concepts(from_file, 0, &b, &nb) == CLARIFAI_OK);
  CHECK(na == nb && na > 0 && strcmp(a[0].name, b[0].name) == 0 && a[0].value == b[0].value);
  clarifai_response_free(from_bytes);
  clarifai_response_free(from_file);

  CHECK(clarifai_predict_text(client, "text-echo", NULL, "hello", &out) == CLARIFAI_OK);
  CHECK(clarifai_response_text(out, 0) != NULL && strcmp(clarifai_response_text(out, 0), "echo: hello") == 0);
  CHECK(clarifai_response_text(out, 5) == NULL);
  CHECK(clarifai_response_concepts_text(out, 0, &text, &text_len, &text_count) == CLARIFAI_OK);
  CHECK(text == NULL && text_len == 0 && text_count == 0); /* an output without concepts */
  CHECK(check_outputs_text(out) == CLARIFAI_OUTPUT_TEXT);
  clarifai_response_free(out);

  CHECK(clarifai_predict_url(client, "general-image-embedding", NULL, "https://x/e.jpg", &out) == CLARIFAI_OK);
  const float *vector = NULL;
  size_t dim = 0;
  CHECK(clarifai_response_embedding(out, 0, &vector, &dim) == CLARIFAI_OK && dim == 16 && vector != NULL);
  CHECK(check_outputs_text(out) == CLARIFAI_OUTPUT_EMBEDDING);
  clarifai_response_free(out);

  CHECK(clarifai_predict_url(client, "general-image-detection", NULL, "https://x/d.jpg", &out) == CLARIFAI_OK);
  const clarifai_region *regions = NULL;
  CHECK(clarifai_response_regions(out, 0, &regions, &count) == CLARIFAI_OK && count >= 1);
  for (size_t i = 0; i < count; i++) {
    CHECK(regions[i].top_row < regions[i].bottom_row && regions[i].left_col < regions[i].right_col);
    CHECK(regions[i].concept_count == 3 && strlen(regions[i].concepts[0].name) > 0);
  }
  CHECK(check_outputs_text(out) == CLARIFAI_OUTPUT_REGIONS);
  clarifai_response_free(out);

  CHECK(clarifai_call(client, "ListConcepts", "{}", &out) == CLARIFAI_OK); /* a response without outputs */
  CHECK(check_outputs_text(out) == 0 && clarifai_response_output_count(out) == 0);
  clarifai_response_free(out);
}

static void test_batches(clarifai_client *client) {
  enum { COUNT = 300 };
  static clarifai_input inputs[COUNT];
  static char urls[COUNT][64], ids[COUNT][16];
  for (int i = 0; i < COUNT; i++) {
    snprintf(urls[i], sizeof urls[i], "https://example.com/%d.jpg", i);
    snprintf(ids[i], sizeof ids[i], "in-%d", i);
    inputs[i] = (clarifai_input){CLARIFAI_INPUT_IMAGE, urls[i], NULL, 0, NULL, ids[i]};
  }
  clarifai_response *out = NULL;
  CHECK(clarifai_predict(client, model, NULL, inputs, COUNT, &out) == CLARIFAI_OK);
  CHECK(clarifai_response_output_count(out) == COUNT);
  CHECK(check_outputs_text(out) == 0);
  /* Outputs come back in input order: output 200 is the prediction for input 200 alone. */
  clarifai_response *single = NULL;
  CHECK(clarifai_predict(client, model, NULL, &inputs[200], 1, &single) == CLARIFAI_OK);
  const clarifai_concept *merged = NULL, *alone = NULL;
  size_t n1 = 0, n2 = 0;
  CHECK(clarifai_response_concepts(out, 200, &merged, &n1) == CLARIFAI_OK);
  CHECK(clarifai_response_concepts(single, 0, &alone, &n2) == CLARIFAI_OK);
  CHECK(n1 == n2 && n1 > 0 && strcmp(merged[0].id, alone[0].id) == 0 && merged[0].value == alone[0].value);
  clarifai_response_free(single);
  clarifai_response_free(out);
}

static void test_api_errors(clarifai_client *client, clarifai_channel *channel) {
  clarifai_response *out = NULL;
  CHECK(clarifai_predict_url(client, "no-such-model", NULL, "https://x/y.jpg", &out) == CLARIFAI_ERROR_API);
  CHECK(out != NULL && clarifai_response_status_code(out) == 21200);
  CHECK(CONTAINS(clarifai_last_error(), "21200"));
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_API && clarifai_last_error_transient() == 0);
  /* The answer's statuses: gRPC OK on HTTP 200, or the REST answer's HTTP error status. */
  if (on_grpc) {
    CHECK(clarifai_last_error_http_status() == 200 && clarifai_last_error_grpc_status() == 0);
  } else {
    CHECK(clarifai_last_error_http_status() == 404 && clarifai_last_error_grpc_status() == -1);
  }
  clarifai_response_free(out);

  clarifai_client *intruder = clarifai_client_new(channel, "wrong-token", NULL, NULL);
  CHECK(clarifai_call(intruder, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_API);
  CHECK(clarifai_response_status_code(out) == 11008);
  CHECK(!CONTAINS(clarifai_last_error(), "wrong-token"));
  clarifai_response_free(out);
  clarifai_client_free(intruder);

  /* The model id cannot move the request to another path. */
  CHECK(clarifai_predict_url(client, "../../x", NULL, "https://x/y.jpg", &out) == CLARIFAI_ERROR_API);
  CHECK(clarifai_response_status_code(out) == 21200);
  clarifai_response_free(out);
}

static void test_refused_connection(void) {
  clarifai_channel *channel = clarifai_channel_new_json("http://127.0.0.1:1");
  clarifai_client *client = clarifai_client_new(channel, "t", NULL, NULL);
  clarifai_channel_free(channel); /* the client keeps it alive */
  clarifai_response *out = NULL;
  CHECK(clarifai_call(client, "ListConcepts", NULL, &out) == CLARIFAI_ERROR_TRANSPORT);
  CHECK(out == NULL);
  CHECK(CONTAINS(clarifai_last_error(), "ListConcepts") && CONTAINS(clarifai_last_error(), "127.0.0.1"));
  /* No answer: no statuses; a refused connection is worth another try later. */
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_TRANSPORT && clarifai_last_error_transient() == 1);
  CHECK(clarifai_last_error_http_status() == 0 && clarifai_last_error_grpc_status() == -1);
  clarifai_client_free(client);
}

static void *last_error_in_other_thread(void *unused) {
  (void)unused;
  return (void *)(strcmp(clarifai_last_error(), "") == 0 ? "clean" : "leaked");
}

static void test_last_error_is_per_thread(clarifai_client *client) {
  clarifai_response *out = NULL;
  CHECK(clarifai_call(client, "NoSuchMethod", NULL, &out) != CLARIFAI_OK);
  pthread_t thread;
  void *result = NULL;
  pthread_create(&thread, NULL, last_error_in_other_thread, NULL);
  pthread_join(thread, &result);
  CHECK(strcmp((const char *)result, "clean") == 0);
  CHECK(CONTAINS(clarifai_last_error(), "NoSuchMethod"));
}

/* Takes completions until `want` arrived, waiting on the queue's descriptor with poll() as an
   event loop would; each tag (an index into `codes`) must come once. */
static void drain_with_poll(clarifai_queue *queue, int want, int *codes, clarifai_response **responses, int slots) {
  struct pollfd waiting = {.fd = clarifai_queue_fd(queue), .events = POLLIN};
  int got = 0;
  while (got < want) {
    int ready = poll(&waiting, 1, 20000);
    CHECK(ready == 1);
    if (ready != 1) return;
    void *tag = NULL;
    int code = -1;
    clarifai_response *out = NULL;
    while (clarifai_queue_next(queue, 0, &tag, &code, &out) == CLARIFAI_OK) {
      intptr_t index = (intptr_t)tag;
      CHECK(index >= 0 && index < slots && codes[index] == -1);
      if (index < 0 || index >= slots) continue;
      codes[index] = code;
      responses[index] = out;
      got++;
    }
    CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_TIMEOUT);
  }
  /* Drained: the descriptor is no longer readable. */
  CHECK(poll(&waiting, 1, 0) == 0);
}

static void test_async(clarifai_client *client, clarifai_channel *channel) {
  clarifai_queue *queue = clarifai_queue_new();
  CHECK(queue != NULL && clarifai_queue_fd(queue) >= 0);
  void *tag = NULL;
  int code = -1;
  clarifai_response *out = NULL;
  /* Empty: no completion at once, and a wait without limit does not hang with nothing running. */
  CHECK(clarifai_queue_next(queue, 0, &tag, &code, &out) == CLARIFAI_ERROR_TIMEOUT);
  CHECK(clarifai_queue_next(queue, -1, &tag, &code, &out) == CLARIFAI_ERROR_TIMEOUT);
  CHECK(CONTAINS(clarifai_last_error(), "nothing is running"));
  CHECK(clarifai_queue_next(queue, 0, NULL, &code, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_queue_next((clarifai_queue *)client, 0, &tag, &code, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "not a clarifai_queue"));
  CHECK(clarifai_queue_fd((const clarifai_queue *)client) == -1 && CONTAINS(clarifai_last_error(), "not a clarifai_queue"));
  CHECK(clarifai_queue_fd(NULL) == -1 && clarifai_queue_cancel(NULL, NULL) == 0);
  CHECK(clarifai_call_async(client, "ListConcepts", NULL, (clarifai_queue *)channel, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);

  /* What fails before sending is returned at once, and queues nothing. */
  CHECK(clarifai_call_async(client, "NoSuchMethod", NULL, queue, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "NoSuchMethod"));
  CHECK(clarifai_call_async(client, "ListConcepts", "{\"page\": \"x\"}", queue, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_call_async(client, "GenerateModelOutputs", NULL, queue, NULL) == CLARIFAI_ERROR_UNSUPPORTED);
  CHECK(clarifai_predict_async(client, model, NULL, NULL, 1, queue, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_async(client, model, NULL, &(clarifai_input){.kind = 0}, 1, queue, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_queue_next(queue, 0, &tag, &code, &out) == CLARIFAI_ERROR_TIMEOUT);

  /* Many calls in flight from this thread; each completion equals the blocking call's answer. */
  enum { CALLS = 300 };
  static int codes[CALLS];
  static clarifai_response *responses[CALLS];
  char url[64];
  for (int i = 0; i < CALLS; i++) {
    codes[i] = -1;
    responses[i] = NULL;
    snprintf(url, sizeof url, "https://samples.clarifai.com/%d.jpg", i % 7);
    clarifai_input input = {.kind = CLARIFAI_INPUT_IMAGE, .url = url};
    int rc = i % 10 == 9 ? clarifai_call_async(client, "GetModel", "{\"model_id\": \"no-such-model\"}", queue, (void *)(intptr_t)i)
                         : clarifai_predict_async(client, model, NULL, &input, 1, queue, (void *)(intptr_t)i);
    CHECK(rc == CLARIFAI_OK);
  }
  drain_with_poll(queue, CALLS, codes, responses, CALLS);
  for (int i = 0; i < CALLS; i++) {
    if (i % 10 == 9) {
      /* An API error comes with its response, as from the blocking call. */
      CHECK(codes[i] == CLARIFAI_ERROR_API && clarifai_response_status_code(responses[i]) == 21200);
      clarifai_response_free(responses[i]);
      continue;
    }
    CHECK(codes[i] == CLARIFAI_OK && clarifai_response_output_count(responses[i]) == 1);
    if (i < 7) {
      clarifai_response *blocking = NULL;
      snprintf(url, sizeof url, "https://samples.clarifai.com/%d.jpg", i % 7);
      CHECK(clarifai_predict_url(client, model, NULL, url, &blocking) == CLARIFAI_OK);
      const clarifai_concept *a = NULL, *b = NULL;
      size_t na = 0, nb = 0;
      CHECK(clarifai_response_concepts(responses[i], 0, &a, &na) == CLARIFAI_OK);
      CHECK(clarifai_response_concepts(blocking, 0, &b, &nb) == CLARIFAI_OK);
      CHECK(na == nb && na > 0 && strcmp(a[0].id, b[0].id) == 0 && a[0].value == b[0].value);
      clarifai_response_free(blocking);
    }
    clarifai_response_free(responses[i]);
  }

  /* A 1 MiB image by bytes (on gRPC, a blocking call sends it behind its frame's header from where
     it is; an asynchronous one from its own copy): the same concepts both ways, not a small image's. */
  enum { LARGE = 1 << 20 };
  unsigned char *large = malloc(LARGE);
  CHECK(large != NULL);
  for (size_t i = 0; large != NULL && i < LARGE; i++) large[i] = (unsigned char)(i * 7 + i / 251);
  clarifai_response *blocking_large = NULL, *small = NULL;
  CHECK(clarifai_predict_bytes(client, model, NULL, large, LARGE, &blocking_large) == CLARIFAI_OK);
  CHECK(clarifai_predict_bytes(client, model, NULL, large, 1000, &small) == CLARIFAI_OK);
  CHECK(clarifai_predict_async(client, model, NULL, &(clarifai_input){.kind = CLARIFAI_INPUT_IMAGE, .data = large, .data_len = LARGE},
                               1, queue, (void *)11) == CLARIFAI_OK);
  CHECK(clarifai_queue_next(queue, -1, &tag, &code, &out) == CLARIFAI_OK && tag == (void *)11 && code == CLARIFAI_OK);
  {
    const clarifai_concept *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    CHECK(clarifai_response_concepts(out, 0, &a, &na) == CLARIFAI_OK && clarifai_response_concepts(blocking_large, 0, &b, &nb) == CLARIFAI_OK);
    CHECK(clarifai_response_concepts(small, 0, &c, &nc) == CLARIFAI_OK);
    CHECK(na == nb && na > 0 && nc > 0 && strcmp(a[0].id, b[0].id) == 0 && a[0].value == b[0].value && a[0].value != c[0].value);
  }
  clarifai_response_free(out);
  clarifai_response_free(blocking_large);
  clarifai_response_free(small);
  free(large);

  /* A protobuf request: checked on the wire before anything is sent, answered as the JSON one. */
  unsigned char *proto = NULL;
  size_t proto_len = 0;
  CHECK(clarifai_json_to_proto("clarifai.api.GetModelRequest", "{\"model_id\": \"missing-two\"}", (void **)&proto, &proto_len) == CLARIFAI_OK);
  CHECK(clarifai_call_proto_async(client, "GetModel", proto, proto_len, queue, (void *)9) == CLARIFAI_OK);
  CHECK(clarifai_call_proto_async(client, "GetModel", "\xff", 1, queue, (void *)10) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_call_proto_async(client, "GetModel", NULL, 3, queue, (void *)10) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  clarifai_free(proto);
  CHECK(clarifai_queue_next(queue, -1, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)9 && code == CLARIFAI_ERROR_API && clarifai_response_status_code(out) == 21200);
  CHECK(CONTAINS(clarifai_last_error(), "missing-two"));
  clarifai_response_free(out);

  /* The call's failure is the last error after queue_next. */
  CHECK(clarifai_call_async(client, "GetModel", "{\"model_id\": \"missing-one\"}", queue, (void *)7) == CLARIFAI_OK);
  CHECK(clarifai_queue_next(queue, -1, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)7 && code == CLARIFAI_ERROR_API && out != NULL);
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_API && CONTAINS(clarifai_last_error(), "missing-one"));
  clarifai_response_free(out);

  /* More than 128 inputs: one completion, the outputs of all requests in input order. */
  enum { MANY = 300 };
  static clarifai_input inputs[MANY];
  static char ids[MANY][16];
  for (int i = 0; i < MANY; i++) {
    snprintf(ids[i], sizeof ids[i], "in-%d", i);
    inputs[i] = (clarifai_input){.kind = CLARIFAI_INPUT_IMAGE, .url = "https://samples.clarifai.com/b.jpg", .id = ids[i]};
  }
  CHECK(clarifai_predict_async(client, model, NULL, inputs, MANY, queue, (void *)8) == CLARIFAI_OK);
  CHECK(clarifai_queue_next(queue, -1, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)8 && code == CLARIFAI_OK && clarifai_response_output_count(out) == MANY);
  int ordered = 1;
  for (int i = 0; i < MANY && ordered; i++) {
    char path[48];
    snprintf(path, sizeof path, "outputs[%d].input.id", i);
    const char *id = clarifai_response_string(out, path);
    ordered = id != NULL && strcmp(id, ids[i]) == 0;
  }
  CHECK(ordered);
  clarifai_response_free(out);

  /* Cancel by tag: a slow call ends at once as CANCELLED; the others go on. */
  CHECK(clarifai_predict_async(client, "slow-3000", NULL, &(clarifai_input){.url = "https://x/1.jpg"}, 1, queue, (void *)1) == CLARIFAI_OK);
  CHECK(clarifai_predict_async(client, "slow-300", NULL, &(clarifai_input){.url = "https://x/2.jpg"}, 1, queue, (void *)2) == CLARIFAI_OK);
  CHECK(clarifai_queue_cancel(queue, (void *)1) == 1);
  CHECK(clarifai_queue_next(queue, 2000, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)1 && code == CLARIFAI_ERROR_CANCELLED && out == NULL);
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_CANCELLED && CONTAINS(clarifai_last_error(), "cancelled"));
  CHECK(clarifai_queue_next(queue, 5000, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)2 && code == CLARIFAI_OK);
  clarifai_response_free(out);
  CHECK(clarifai_queue_cancel(queue, (void *)2) == 0);

  /* The client's deadline, as for a blocking call. */
  clarifai_client *hurried = clarifai_client_dup(client);
  CHECK(clarifai_client_set_timeout_ms(hurried, 300) == CLARIFAI_OK);
  CHECK(clarifai_predict_async(hurried, "slow-3000", NULL, &(clarifai_input){.url = "https://x/3.jpg"}, 1, queue, (void *)3) == CLARIFAI_OK);
  clarifai_client_free(hurried); /* the call keeps what it needs */
  CHECK(clarifai_queue_next(queue, 5000, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(tag == (void *)3 && code == CLARIFAI_ERROR_TIMEOUT && out == NULL);

  /* Freeing a queue cancels what runs, without waiting for the server. */
  for (int i = 0; i < 20; i++)
    CHECK(clarifai_predict_async(client, "slow-5000", NULL, &(clarifai_input){.url = "https://x/4.jpg"}, 1, queue, NULL) == CLARIFAI_OK);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  clarifai_queue_free(queue);
  CHECK(milliseconds_since(&start) < 2000);

  /* Calls that cannot connect fail after their retries, as blocking ones. */
  clarifai_channel *nowhere = clarifai_channel_new_json("http://127.0.0.1:1");
  clarifai_client *lost = clarifai_client_new(nowhere, "t", NULL, NULL);
  clarifai_queue *lost_queue = clarifai_queue_new();
  CHECK(clarifai_call_async(lost, "ListConcepts", NULL, lost_queue, NULL) == CLARIFAI_OK);
  CHECK(clarifai_queue_next(lost_queue, -1, &tag, &code, &out) == CLARIFAI_OK);
  CHECK(code == CLARIFAI_ERROR_TRANSPORT && clarifai_last_error_transient() == 1 && CONTAINS(clarifai_last_error(), "127.0.0.1"));
  clarifai_queue_free(lost_queue);
  clarifai_client_free(lost);
  clarifai_channel_free(nowhere);
  clarifai_queue_free(NULL);
}

/* A connection whose first call ended before any answer (its deadline passed, or it was
   cancelled) takes the next calls at once: libcurl 8.13 to 8.16 would make a call that waits for
   a multiplexed connection wait for that one until its connect timeout (curl #18177). */
static void test_connection_whose_first_call_got_no_answer(void) {
  for (int cancelled = 0; cancelled < 2; cancelled++) {
    clarifai_channel *channel = new_test_channel();
    clarifai_client *client = clarifai_client_new(channel, NULL, "test-user", "main");
    clarifai_client *hurried = clarifai_client_dup(client);
    CHECK(clarifai_client_set_timeout_ms(hurried, 300) == CLARIFAI_OK);
    clarifai_queue *queue = clarifai_queue_new();
    void *tag = NULL;
    int code = -1;
    clarifai_response *out = NULL;
    CHECK(clarifai_predict_async(hurried, "slow-2000", NULL, &(clarifai_input){.url = "https://x/1.jpg"}, 1, queue, NULL) == CLARIFAI_OK);
    if (cancelled) {
      struct timespec pause = {0, 100 * 1000000};
      nanosleep(&pause, NULL); /* connected and sent, no answer yet */
      CHECK(clarifai_queue_cancel(queue, NULL) == 1);
    }
    CHECK(clarifai_queue_next(queue, 5000, &tag, &code, &out) == CLARIFAI_OK);
    CHECK(code == (cancelled ? CLARIFAI_ERROR_CANCELLED : CLARIFAI_ERROR_TIMEOUT));
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(clarifai_predict_url(client, model, NULL, "https://x/t.jpg", &out) == CLARIFAI_OK);
    CHECK(milliseconds_since(&start) < 3000);
    clarifai_response_free(out);
    clarifai_queue_free(queue);
    clarifai_client_free(hurried);
    clarifai_client_free(client);
    clarifai_channel_free(channel);
  }
}

/* Bulk prediction: inputs made up on the fly, outcomes recorded by index. */
struct bulk {
  size_t count, supplied, results, stop_after;
  int *codes;                /* per index, -1 until reported */
  int reported_twice, order_ok;
  int statuses[8];           /* status codes of a few failed inputs, by index */
  char first_concept[64];    /* input 0's top concept */
  clarifai_bulk_progress last;
  size_t progress_calls;
  char url[96];
};

static int bulk_next(void *userdata, clarifai_input *input) {
  struct bulk *b = userdata;
  if (b->supplied == b->count) return 0;
  size_t i = b->supplied++;
  input->kind = CLARIFAI_INPUT_IMAGE;
  if (i == 3) return 1; /* no source: this input alone fails, as INVALID_ARGUMENT */
  snprintf(b->url, sizeof b->url, i == 5 ? "https://samples.clarifai.com/fail/%zu.jpg" : "https://samples.clarifai.com/bulk/%zu.jpg", i);
  input->url = b->url; /* reused for the next input: the library copies it first */
  return 1;
}

static int bulk_result(void *userdata, size_t index, int code, const clarifai_response *result) {
  struct bulk *b = userdata;
  if (index >= b->count) return 1;
  if (b->codes[index] != -1) b->reported_twice++;
  b->codes[index] = code;
  if (index < 8) b->statuses[index] = clarifai_response_status_code(result);
  if (index == 3) b->order_ok &= code == CLARIFAI_ERROR_INVALID_ARGUMENT && result == NULL && CONTAINS(clarifai_last_error(), "inputs[3]");
  if (index == 0 && code == CLARIFAI_OK) {
    const clarifai_concept *concepts = NULL;
    size_t n = 0;
    if (clarifai_response_output_count(result) == 1 && clarifai_response_concepts(result, 0, &concepts, &n) == CLARIFAI_OK && n > 0)
      snprintf(b->first_concept, sizeof b->first_concept, "%s %.6f", concepts[0].id, concepts[0].value);
  }
  return b->stop_after && ++b->results >= b->stop_after;
}

static void bulk_progress(void *userdata, const clarifai_bulk_progress *progress) {
  struct bulk *b = userdata;
  b->order_ok &= progress->done >= b->last.done && progress->done <= progress->supplied;
  b->last = *progress;
  b->progress_calls++;
}

static int bulk_stop_supplying(void *userdata, clarifai_input *input) {
  struct bulk *b = userdata;
  return b->supplied == 20 ? -1 : bulk_next(userdata, input);
}

static void test_predict_many(clarifai_client *client) {
  enum { N = 1000 };
  static int codes[N];
  for (int i = 0; i < N; i++) codes[i] = -1;
  struct bulk b = {.count = N, .codes = codes, .order_ok = 1};
  CHECK(clarifai_predict_many(client, model, NULL, 32, 8, 0, bulk_next, bulk_result, bulk_progress, &b) == CLARIFAI_OK);
  int ok = 0, missing = 0;
  for (int i = 0; i < N; i++) {
    ok += codes[i] == CLARIFAI_OK;
    missing += codes[i] == -1;
  }
  CHECK(ok == N - 2 && missing == 0 && b.reported_twice == 0 && b.order_ok);
  CHECK(codes[3] == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(codes[5] == CLARIFAI_ERROR_API && b.statuses[5] == 30002 && b.statuses[4] == 10000);
  CHECK(b.last.supplied == N && b.last.done == N && b.last.failed == 2 && b.last.in_flight == 0 && b.last.rate > 0);
  CHECK(b.progress_calls >= N / 32);
  /* The same answer as a blocking prediction of the same input. */
  clarifai_response *blocking = NULL;
  CHECK(clarifai_predict_url(client, model, NULL, "https://samples.clarifai.com/bulk/0.jpg", &blocking) == CLARIFAI_OK);
  const clarifai_concept *concepts = NULL;
  size_t n = 0;
  char expected[64] = "";
  if (clarifai_response_concepts(blocking, 0, &concepts, &n) == CLARIFAI_OK && n > 0)
    snprintf(expected, sizeof expected, "%s %.6f", concepts[0].id, concepts[0].value);
  CHECK(expected[0] != '\0' && strcmp(expected, b.first_concept) == 0);
  clarifai_response_free(blocking);

  /* A throttling server: every input comes back once, none lost. */
  for (int i = 0; i < 120; i++) codes[i] = -1;
  struct bulk throttled = {.count = 120, .codes = codes, .order_ok = 1};
  CHECK(clarifai_predict_many(client, "rate-limited-40", NULL, 2, 16, 0, bulk_next, bulk_result, NULL, &throttled) == CLARIFAI_OK);
  CHECK(throttled.reported_twice == 0 && codes[0] == CLARIFAI_OK && codes[119] == CLARIFAI_OK && codes[5] == CLARIFAI_ERROR_API);

  /* Stops: from the result callback, from the input callback. */
  for (int i = 0; i < N; i++) codes[i] = -1;
  struct bulk stopped = {.count = N, .codes = codes, .stop_after = 50, .order_ok = 1};
  CHECK(clarifai_predict_many(client, model, NULL, 10, 4, 0, bulk_next, bulk_result, bulk_progress, &stopped) == CLARIFAI_ERROR_CANCELLED);
  CHECK(CONTAINS(clarifai_last_error(), "stopped"));
  CHECK(stopped.results == 50 && stopped.supplied < N); /* nothing reported after the stop */
  for (int i = 0; i < N; i++) codes[i] = -1;
  struct bulk no_more = {.count = N, .codes = codes, .order_ok = 1};
  CHECK(clarifai_predict_many(client, model, NULL, 10, 4, 0, bulk_stop_supplying, bulk_result, NULL, &no_more) == CLARIFAI_ERROR_CANCELLED);
  CHECK(CONTAINS(clarifai_last_error(), "next_input"));

  /* Bad arguments: refused before any input is taken. */
  struct bulk none = {.count = 10, .codes = codes};
  CHECK(clarifai_predict_many(client, model, NULL, 129, 1, 0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "batch_size"));
  CHECK(clarifai_predict_many(client, model, NULL, 1, 5000, 0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "concurrency"));
  CHECK(clarifai_predict_many(client, model, NULL, (size_t)-1, 1, 0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_many(client, model, NULL, 1, 1, -1, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "rate"));
  CHECK(clarifai_predict_many(client, model, NULL, 1, 1, 0.0 / 0.0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_many(client, model, NULL, 1, 1, 0, NULL, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_many(client, model, NULL, 1, 1, 0, bulk_next, NULL, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_many(NULL, model, NULL, 1, 1, 0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_predict_many(client, "", NULL, 1, 1, 0, bulk_next, bulk_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(none.supplied == 0);
  /* No input at all: nothing to do. */
  struct bulk empty = {.count = 0, .codes = codes, .order_ok = 1};
  CHECK(clarifai_predict_many(client, model, NULL, 0, 0, 0, bulk_next, bulk_result, bulk_progress, &empty) == CLARIFAI_OK);
  CHECK(empty.last.done == 0 && empty.progress_calls == 1);
}

/* Pagination: ListConcepts page by page, in an app of this process's own. */
static void test_pager(clarifai_channel *channel) {
  char app[64];
  snprintf(app, sizeof app, "pager-%ld", (long)getpid());
  clarifai_client *client = clarifai_client_new(channel, NULL, "test-user", app);
  char request[4096] = "{\"concepts\": [";
  for (int i = 0; i < 30; i++)
    snprintf(request + strlen(request), sizeof request - strlen(request), "%s{\"id\": \"c%02d\", \"name\": \"c%02d\"}",
             i ? ", " : "", i, i);
  strcat(request, "]}");
  clarifai_response *out = NULL;
  CHECK(clarifai_call(client, "PostConcepts", request, &out) == CLARIFAI_OK);
  clarifai_response_free(out);

  clarifai_pager *pager = clarifai_pager_new(client, "ListConcepts", NULL, 7);
  CHECK(pager != NULL);
  size_t sizes[8] = {0}, pages = 0;
  clarifai_response *page = NULL;
  while (pages < 8 && clarifai_pager_next(pager, &page) == CLARIFAI_OK && page != NULL) {
    sizes[pages++] = clarifai_response_count(page, "concepts");
    clarifai_response_free(page);
  }
  CHECK(pages == 5 && sizes[0] == 7 && sizes[3] == 7 && sizes[4] == 2);
  /* Ended: more calls say so, without calling the server. */
  CHECK(clarifai_pager_next(pager, &page) == CLARIFAI_OK && page == NULL);
  clarifai_pager_free(pager);

  /* The server's default page size: one page of 30, then an empty one ends it. */
  pager = clarifai_pager_new(client, "ListConcepts", "{}", 0);
  CHECK(clarifai_pager_next(pager, &page) == CLARIFAI_OK && clarifai_response_count(page, "concepts") == 30);
  clarifai_response_free(page);
  CHECK(clarifai_pager_next(pager, &page) == CLARIFAI_OK && page == NULL);
  clarifai_pager_free(pager);

  /* Refused: a method without paging, a bad request, bad handles. */
  CHECK(clarifai_pager_new(client, "GetModel", "{\"model_id\": \"x\"}", 5) == NULL);
  CHECK(clarifai_last_error_code() == CLARIFAI_ERROR_INVALID_ARGUMENT && CONTAINS(clarifai_last_error(), "not paginated"));
  CHECK(clarifai_pager_new(client, "ListConcepts", "{\"page\": \"x\"}", 5) == NULL);
  CHECK(clarifai_pager_new(NULL, "ListConcepts", NULL, 5) == NULL && CONTAINS(clarifai_last_error(), "client is NULL"));
  CHECK(clarifai_pager_next(NULL, &page) == CLARIFAI_ERROR_INVALID_ARGUMENT && page == NULL);
  CHECK(clarifai_pager_next((clarifai_pager *)client, &page) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "not a clarifai_pager"));
  pager = clarifai_pager_new(client, "ListConcepts", NULL, 5);
  CHECK(clarifai_pager_next(pager, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  clarifai_pager_free(pager);
  clarifai_pager_free(NULL);
  clarifai_client_free(client);
}

/* Uploads: inputs made up on the fly (every 10th fails its download, every 10th a flaky URL,
   text, bytes, ids given or made from content, a repeat of input 0), outcomes recorded. */
struct upload {
  size_t count, supplied, reported, stop_after;
  int codes[64], statuses[64];
  unsigned tries[64];
  char ids[64][64], url[128], text[32];
  const char *concepts[1];
  int bad_kind; /* 1: an input without data; 2: metadata that is not an object */
  size_t progress_calls;
  clarifai_bulk_progress last;
};

static int upload_next(void *userdata, clarifai_upload_input *input) {
  struct upload *u = userdata;
  if (u->supplied == u->count) return 0;
  size_t i = u->supplied++;
  if (u->bad_kind == 1 && i == 1) return 1; /* no data at all */
  input->input.kind = CLARIFAI_INPUT_IMAGE;
  snprintf(u->url, sizeof u->url, "https://samples.clarifai.com/upload/%zu.jpg", i == u->count - 1 ? (size_t)0 : i);
  if (i % 10 == 3) snprintf(u->url, sizeof u->url, "https://samples.clarifai.com/fail/%zu.jpg", i);
  if (i % 10 == 5) snprintf(u->url, sizeof u->url, "https://samples.clarifai.com/flaky-1/%zu-%d.jpg", i, (int)getpid());
  input->input.url = u->url;
  if (i % 10 == 7) {
    snprintf(u->text, sizeof u->text, "text %zu", i);
    input->input = (clarifai_input){.kind = CLARIFAI_INPUT_TEXT, .text = u->text};
  }
  if (i % 10 == 8) input->input = (clarifai_input){.kind = CLARIFAI_INPUT_IMAGE, .data = u->text, .data_len = 6 + i % 3};
  if (i % 10 == 9) input->input.id = "given-9";
  if (i % 2 == 0) {
    u->concepts[0] = "cat";
    input->concepts = u->concepts;
    input->concept_count = 1;
  }
  if (i == 0) input->metadata_json = "{\"n\": 0, \"source\": \"test\"}";
  if (u->bad_kind == 2 && i == 2) input->metadata_json = "[1, 2]";
  return 1;
}

static int upload_result(void *userdata, size_t index, int code, const char *input_id, int status_code, unsigned tries) {
  struct upload *u = userdata;
  if (index < 64) {
    u->codes[index] = code;
    u->statuses[index] = status_code;
    u->tries[index] = tries;
    snprintf(u->ids[index], sizeof u->ids[index], "%s", input_id);
  }
  return u->stop_after && ++u->reported >= u->stop_after;
}

static void upload_progress(void *userdata, const clarifai_bulk_progress *progress) {
  struct upload *u = userdata;
  u->last = *progress;
  u->progress_calls++;
}

static size_t app_input_count(clarifai_client *client) {
  clarifai_response *out = NULL;
  size_t count = 0;
  if (clarifai_call(client, "ListInputs", "{\"per_page\": 1000}", &out) == CLARIFAI_OK) count = clarifai_response_count(out, "inputs");
  clarifai_response_free(out);
  return count;
}

static void test_upload_inputs(clarifai_channel *channel) {
  char app[64];
  snprintf(app, sizeof app, "upload-%ld", (long)getpid());
  clarifai_client *client = clarifai_client_new(channel, NULL, "test-user", app);
  struct upload u = {.count = 41};
  CHECK(clarifai_upload_inputs(client, 8, 3, 2, upload_next, upload_result, upload_progress, &u) == CLARIFAI_OK);
  int as_expected = 1;
  for (size_t i = 0; i < u.count; i++) {
    int fails = i % 10 == 3, flaky = i % 10 == 5;
    as_expected &= u.codes[i] == (fails ? CLARIFAI_ERROR_API : CLARIFAI_OK);
    as_expected &= u.statuses[i] == (fails ? 30002 : 30000) && u.tries[i] == (fails ? 3u : flaky ? 2u : 1u);
    as_expected &= i % 10 == 9 ? strcmp(u.ids[i], "given-9") == 0 : strncmp(u.ids[i], "in-", 3) == 0 && strlen(u.ids[i]) == 35;
  }
  CHECK(as_expected);
  CHECK(strcmp(u.ids[40], u.ids[0]) == 0 && strcmp(u.ids[1], u.ids[0]) != 0); /* the same content: the same input */
  CHECK(u.last.supplied == 41 && u.last.done == 41 && u.last.failed == 4 && u.last.in_flight == 0 && u.progress_calls >= 2);
  /* 41 supplied: 4 failed downloads deleted, input 40 repeats input 0, given-9 four times: 33 inputs. */
  CHECK(app_input_count(client) == 33);
  /* The labels and metadata went with the input. */
  char request[128];
  snprintf(request, sizeof request, "{\"input_id\": \"%s\"}", u.ids[0]);
  clarifai_response *out = NULL;
  CHECK(clarifai_call(client, "GetInput", request, &out) == CLARIFAI_OK);
  CHECK(CONTAINS(clarifai_response_string(out, "input.data.concepts[0].id"), "cat"));
  CHECK(CONTAINS(clarifai_response_json(out), "\"source\":\"test\""));
  clarifai_response_free(out);

  /* Again: nothing is added twice (the content names the input), the failing ones fail again. */
  struct upload again = {.count = 41};
  CHECK(clarifai_upload_inputs(client, 0, 0, 0, upload_next, upload_result, NULL, &again) == CLARIFAI_OK);
  CHECK(again.codes[0] == CLARIFAI_OK && strcmp(again.ids[0], u.ids[0]) == 0 && again.codes[3] == CLARIFAI_ERROR_API);
  CHECK(app_input_count(client) == 33);

  /* A bad input fails alone; a stop from on_result or next_input; bad arguments. */
  struct upload bad = {.count = 3, .bad_kind = 1};
  CHECK(clarifai_upload_inputs(client, 0, 0, 0, upload_next, upload_result, NULL, &bad) == CLARIFAI_OK);
  CHECK(bad.codes[0] == CLARIFAI_OK && bad.codes[1] == CLARIFAI_ERROR_INVALID_ARGUMENT && bad.ids[1][0] == '\0' && bad.codes[2] == CLARIFAI_OK);
  struct upload bad_metadata = {.count = 3, .bad_kind = 2};
  CHECK(clarifai_upload_inputs(client, 0, 0, 0, upload_next, upload_result, NULL, &bad_metadata) == CLARIFAI_OK);
  CHECK(bad_metadata.codes[2] == CLARIFAI_ERROR_INVALID_ARGUMENT && bad_metadata.codes[0] == CLARIFAI_OK);
  struct upload stopped = {.count = 20, .stop_after = 5};
  CHECK(clarifai_upload_inputs(client, 4, 1, 0, upload_next, upload_result, NULL, &stopped) == CLARIFAI_ERROR_CANCELLED);
  CHECK(stopped.reported == 5 && CONTAINS(clarifai_last_error(), "stopped"));
  struct upload none = {.count = 5};
  CHECK(clarifai_upload_inputs(client, 129, 0, 0, upload_next, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "batch_size"));
  CHECK(clarifai_upload_inputs(client, (size_t)-1, 0, 0, upload_next, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_upload_inputs(client, 0, 65, 0, upload_next, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_upload_inputs(client, 0, 0, 101, upload_next, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_upload_inputs(client, 0, 0, 0, NULL, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_upload_inputs(NULL, 0, 0, 0, upload_next, upload_result, NULL, &none) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(none.supplied == 0);
  clarifai_client_free(client);
}

/* The metadata field named `name` of a response (or of the last error, for NULL): its value and
   whether it is trailing; NULL when there is none. */
static const char *metadata_value(const clarifai_response *response, const char *name, int *trailing) {
  size_t count = response ? clarifai_response_metadata_count(response) : clarifai_last_error_metadata_count();
  for (size_t i = 0; i < count; i++) {
    const char *field = NULL, *value = NULL;
    int code = response ? clarifai_response_metadata(response, i, &field, &value, trailing)
                        : clarifai_last_error_metadata(i, &field, &value, trailing);
    if (code == CLARIFAI_OK && strcmp(field, name) == 0) return value;
  }
  return NULL;
}

/* The server's metadata, from a response and from the last error: initial and trailing on gRPC,
   headers on REST; none of HTTP's or gRPC's own fields. */
static void test_server_metadata(clarifai_client *client) {
  clarifai_client *asking = clarifai_client_dup(client);
  CHECK(clarifai_client_set_header(asking, "x-test-metadata", "m1") == CLARIFAI_OK);
  clarifai_response *out = NULL;
  int trailing = -1;
  CHECK(clarifai_call(asking, "ListConcepts", NULL, &out) == CLARIFAI_OK);
  const char *initial = metadata_value(out, "x-test-initial", &trailing);
  CHECK(initial != NULL && strcmp(initial, "m1") == 0 && trailing == 0);
  const char *last = metadata_value(out, "x-test-trailing", &trailing);
  CHECK(on_grpc ? last != NULL && strcmp(last, "m1") == 0 && trailing == 1 : last == NULL);
  CHECK(metadata_value(out, "content-type", &trailing) == NULL && metadata_value(out, "grpc-status", &trailing) == NULL);
  const char *name = "x", *value = "x";
  CHECK(clarifai_response_metadata(out, clarifai_response_metadata_count(out), &name, &value, &trailing) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(name == NULL && value == NULL && CONTAINS(clarifai_last_error(), "past"));
  CHECK(clarifai_response_metadata(out, 0, NULL, NULL, NULL) == CLARIFAI_OK);
  clarifai_response_free(out);
  CHECK(clarifai_response_metadata_count(NULL) == 0 && clarifai_response_metadata(NULL, 0, &name, NULL, NULL) != CLARIFAI_OK);
  /* A failure the server answered: its metadata stays with the last error. */
  CHECK(clarifai_predict_url(asking, "no-such-model", NULL, "https://x/t.jpg", &out) == CLARIFAI_ERROR_API);
  clarifai_response_free(out);
  initial = metadata_value(NULL, "x-test-initial", &trailing);
  CHECK(initial != NULL && strcmp(initial, "m1") == 0 && clarifai_last_error_code() == CLARIFAI_ERROR_API);
  if (on_grpc) {
    CHECK(clarifai_predict_url(asking, "grpc-status-12", NULL, "https://x/t.jpg", &out) == CLARIFAI_ERROR_UNSUPPORTED);
    last = metadata_value(NULL, "x-test-trailing", &trailing);
    CHECK(last != NULL && strcmp(last, "m1") == 0 && trailing == 1);
  }
  CHECK(clarifai_last_error_metadata(clarifai_last_error_metadata_count(), &name, &value, NULL) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  /* A failure found before any answer has none. */
  CHECK(clarifai_call(asking, "NoSuchMethod", NULL, &out) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_last_error_metadata_count() == 0);
  clarifai_client_free(asking);
}

/* Resource URLs: the ids as the official SDK splits them, into the caller's buffer. */
static void test_resource_urls(void) {
  clarifai_resource_ids ids;
  char buffer[256];
  const char *version = "https://clarifai.com/clarifai/main/models/general-image-recognition/model_version/aa7f35c01e0642fda5cf400f543e7c40";
  CHECK(clarifai_parse_resource_url(version, &ids, buffer, strlen(version) + 1) == CLARIFAI_OK);
  CHECK(strcmp(ids.user_id, "clarifai") == 0 && strcmp(ids.app_id, "main") == 0 && strcmp(ids.resource_type, "models") == 0);
  CHECK(strcmp(ids.resource_id, "general-image-recognition") == 0 && strcmp(ids.version_id, "aa7f35c01e0642fda5cf400f543e7c40") == 0);
  CHECK(ids.user_id >= buffer && ids.version_id < buffer + sizeof buffer);
  CHECK(clarifai_parse_resource_url("http://web-dev.clarifai.com/u/a/workflows/w/?tab=versions#x", &ids, buffer, sizeof buffer) == CLARIFAI_OK);
  CHECK(strcmp(ids.resource_type, "workflows") == 0 && strcmp(ids.resource_id, "w") == 0 && ids.version_id == NULL);
  CHECK(clarifai_parse_resource_url("https://clarifai.com/u/a", &ids, buffer, (size_t)-1) == CLARIFAI_OK);
  CHECK(strcmp(ids.app_id, "a") == 0 && ids.resource_type == NULL && ids.resource_id == NULL);
  /* Refused, saying why: other forms, a short buffer, NULLs. */
  const char *bad[] = {"https://clarifai.com/u/a/models", "https://clarifai.com/u//models/m", "clarifai.com/u/a/models/m",
                       "ftp://clarifai.com/u/a/models/m", "https://clarifai.com/u/a/models/m/model_version", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(clarifai_parse_resource_url(bad[i], &ids, buffer, sizeof buffer) == CLARIFAI_ERROR_INVALID_ARGUMENT);
    CHECK(ids.user_id == NULL && CONTAINS(clarifai_last_error(), bad[i]));
  }
  CHECK(clarifai_parse_resource_url("https://clarifai.com/user/app/models/m", &ids, buffer, 8) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "need 18") && ids.user_id == NULL);
  CHECK(clarifai_parse_resource_url(NULL, &ids, buffer, sizeof buffer) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_parse_resource_url("https://clarifai.com/u/a", NULL, buffer, sizeof buffer) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_parse_resource_url("https://clarifai.com/u/a", &ids, NULL, 0) == CLARIFAI_ERROR_INVALID_ARGUMENT);
}

struct worker { clarifai_client *client; int failures; };

static void *predict_many(void *arg) {
  struct worker *worker = arg;
  for (int i = 0; i < 20; i++) {
    clarifai_response *out = NULL;
    if (clarifai_predict_url(worker->client, model, NULL, "https://x/t.jpg", &out) != CLARIFAI_OK ||
        clarifai_response_output_count(out) != 1)
      worker->failures++;
    clarifai_response_free(out);
  }
  return NULL;
}

static void test_threads_share_a_client(clarifai_client *client) {
  enum { THREADS = 8 };
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (struct worker){client, 0};
    pthread_create(&threads[i], NULL, predict_many, &workers[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(workers[i].failures == 0);
  }
}

/* Calls spread over several connections (since 1.1): what the setting refuses, then threads,
   a bulk prediction (asynchronous calls) and a stream over 3 connections, and back to 1. */
static void test_connections(clarifai_client *client, clarifai_channel *channel) {
  CHECK(clarifai_channel_set_connections(NULL, 2) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_connections(channel, 0) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(CONTAINS(clarifai_last_error(), "count") && CONTAINS(clarifai_last_error(), "64"));
  CHECK(clarifai_channel_set_connections(channel, -1) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_connections(channel, 65) == CLARIFAI_ERROR_INVALID_ARGUMENT);
  CHECK(clarifai_channel_set_connections(channel, 3) == CLARIFAI_OK);
  test_threads_share_a_client(client);
  test_predict_many(client);
  if (on_grpc) {
    int messages = 0;
    const char *request = "{\"model_id\": \"stream-count\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"3\"}}}]}";
    CHECK(clarifai_call_stream(client, "GenerateModelOutputs", request, count_messages, &messages) == CLARIFAI_OK);
    CHECK(messages == 3);
  }
  CHECK(clarifai_channel_set_connections(channel, 1) == CLARIFAI_OK);
  test_threads_share_a_client(client);
}

int main(void) {
  if (!getenv("CLARIFAI_API_BASE") || !getenv("CLARIFAI_PAT")) {
    fprintf(stderr, "set CLARIFAI_API_BASE and CLARIFAI_PAT (the local test server's)\n");
    return 2;
  }
  const char *kind = getenv("CLARIFAI_TEST_CHANNEL");
  on_tls_grpc = kind != NULL && strcmp(kind, "grpcs") == 0;
  on_grpc = on_tls_grpc || (kind != NULL && strcmp(kind, "grpc") == 0);
  clarifai_channel *channel = new_test_channel();
  CHECK(channel != NULL);
  CHECK(clarifai_channel_set_timeout_ms(channel, 20000) == CLARIFAI_OK);
  clarifai_client *client = clarifai_client_new(channel, NULL, "test-user", "main");
  CHECK(client != NULL);

  test_versions_and_errors();
  test_codec();
  test_null_arguments(client);
  test_bad_input(client);
  test_token_checks();
  test_predictions(client);
  test_batches(client);
  test_api_errors(client, channel);
  test_channel_limits(client, channel);
  test_handle_misuse(client, channel);
  test_client_settings(client, channel);
  test_server_metadata(client);
  test_streams(client);
  test_async(client, channel);
  test_connection_whose_first_call_got_no_answer();
  test_predict_many(client);
  test_pager(channel);
  test_upload_inputs(channel);
  test_resource_urls();
  test_refused_connection();
  test_last_error_is_per_thread(client);
  test_threads_share_a_client(client);
  test_connections(client, channel);

  clarifai_client_free(client);
  clarifai_channel_free(channel);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
