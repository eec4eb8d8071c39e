/* clarifai-cli: the Clarifai API from a shell, on libclarifai's public API.
 *
 *   clarifai-cli methods                              every method of clarifai.api.V2
 *   clarifai-cli call METHOD [JSON|-]                 any method; the response as JSON
 *   clarifai-cli predict MODEL URL|FILE...            concepts as a table (--json: the responses)
 *   clarifai-cli list inputs|models|concepts|apps     every item, one id a line (--json: JSON Lines)
 *
 * Options (before the command): --rest (the default) or --grpc (TLS; cleartext for a base of
 * http://HOST:PORT), --base URL|HOST:PORT, --timeout SECONDS, --user ID, --app ID, --json. The token comes from $CLARIFAI_PAT; the base, user and app
 * from $CLARIFAI_API_BASE (or $CLARIFAI_GRPC_BASE), $CLARIFAI_USER_ID and $CLARIFAI_APP_ID unless
 * given. JSON goes out indented when stdout is a terminal, on one line otherwise.
 *
 * Exit status: 0 on success, else the CLARIFAI_ERROR_* code of the first failure (5 API: the
 * call completed with a Clarifai status other than SUCCESS, whose JSON is still printed); 64 for
 * bad usage. Messages go to stderr. */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE_ERROR 64

struct options {
  int grpc, json;
  const char *base, *user, *app;
  long timeout_ms;
};

static int usage(void) {
  fputs("usage: clarifai-cli [--rest|--grpc] [--base URL] [--timeout SECONDS] [--user ID] [--app ID] [--json] COMMAND\n"
        "  methods\n"
        "  call METHOD [JSON|-]\n"
        "  predict MODEL URL|FILE...\n"
        "  list inputs|models|concepts|apps\n",
        stderr);
  return USAGE_ERROR;
}

/* Prints `text` (JSON): indented when stdout is a terminal, else as it is. */
static void print_json(const char *text) {
  json_t *tree = isatty(STDOUT_FILENO) ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
  char *pretty = tree ? json_dumps(tree, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
  puts(pretty ? pretty : text);
  free(pretty);
  json_decref(tree);
}

/* Reports a failed call on stderr (a prediction's failure with its output's own status) and
   returns its code. */
static int failed(const char *what, int code, const clarifai_response *response) {
  long long output_status = 0;
  if (code != CLARIFAI_ERROR_API || !response) {
    fprintf(stderr, "clarifai-cli: %s\n", clarifai_last_error());
  } else if (clarifai_response_int64(response, "outputs[0].status.code", &output_status) == CLARIFAI_OK && output_status) {
    fprintf(stderr, "clarifai-cli: %s: status %lld %s %s (request id %s)\n", what, output_status,
            clarifai_response_string(response, "outputs[0].status.description"),
            clarifai_response_string(response, "outputs[0].status.details"), clarifai_response_request_id(response));
  } else {
    fprintf(stderr, "clarifai-cli: %s: status %d %s %s (request id %s)\n", what, clarifai_response_status_code(response),
            clarifai_response_status_description(response), clarifai_response_status_details(response),
            clarifai_response_request_id(response));
  }
  return code;
}

/* All of stdin as a NUL-terminated string, to free(); NULL on a read error. */
static char *read_stdin(void) {
  size_t length = 0, size = 4096;
  char *buffer = malloc(size);
  while (buffer) {
    length += fread(buffer + length, 1, size - length - 1, stdin);
    if (ferror(stdin)) break;
    if (feof(stdin)) {
      buffer[length] = '\0';
      return buffer;
    }
    if (size - length - 1 == 0) {
      char *bigger = realloc(buffer, size * 2);
      if (!bigger) break;
      buffer = bigger;
      size *= 2;
    }
  }
  free(buffer);
  return NULL;
}

static int call(clarifai_client *client, int argc, char **argv) {
  char *from_stdin = NULL;
  const char *request = argc == 2 ? argv[1] : NULL;
  if (request && strcmp(request, "-") == 0 && !(request = from_stdin = read_stdin())) {
    fputs("clarifai-cli: cannot read the request from stdin\n", stderr);
    return USAGE_ERROR;
  }
  clarifai_response *response = NULL;
  int code = clarifai_call(client, argv[0], request, &response);
  if (response) print_json(clarifai_response_json(response));
  if (code != CLARIFAI_OK) failed(argv[0], code, response);
  clarifai_response_free(response);
  free(from_stdin);
  return code;
}

static int predict(clarifai_client *client, const struct options *options, int argc, char **argv) {
  int first_failure = CLARIFAI_OK;
  for (int i = 1; i < argc; i++) {
    clarifai_response *response = NULL;
    int code = strstr(argv[i], "://") ? clarifai_predict_url(client, argv[0], NULL, argv[i], &response)
                                      : clarifai_predict_file(client, argv[0], NULL, argv[i], &response);
    const clarifai_concept *concepts = NULL;
    size_t count = 0;
    if (code == CLARIFAI_OK && !options->json) code = clarifai_response_concepts(response, 0, &concepts, &count);
    if (response && options->json) print_json(clarifai_response_json(response));
    if (code == CLARIFAI_OK && !options->json) {
      printf("%s\n", argv[i]);
      for (size_t c = 0; c < count; c++) printf("  %-32s %-24s %.4f\n", concepts[c].name, concepts[c].id, concepts[c].value);
    }
    if (code != CLARIFAI_OK) {
      failed(argv[i], code, response);
      if (first_failure == CLARIFAI_OK) first_failure = code;
    }
    clarifai_response_free(response);
  }
  return first_failure;
}

/* The List method of what `list` lists; NULL for anything else. */
static const char *list_method(const char *kind) {
  static const char *const kinds[][2] = {
      {"inputs", "ListInputs"}, {"models", "ListModels"}, {"concepts", "ListConcepts"}, {"apps", "ListApps"}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kind, kinds[i][0]) == 0) return kinds[i][1];
  return NULL;
}

static int list(clarifai_client *client, const struct options *options, char **argv) {
  const char *method = list_method(argv[0]);
  clarifai_pager *pager = clarifai_pager_new(client, method, NULL, 128);
  if (!pager) return failed(method, clarifai_last_error_code(), NULL);
  clarifai_response *page = NULL;
  int code;
  while ((code = clarifai_pager_next(pager, &page)) == CLARIFAI_OK && page) {
    size_t count = clarifai_response_count(page, argv[0]);
    /* --json: one item a line, picked out of the page's JSON with jansson. */
    json_t *tree = options->json ? json_loads(clarifai_response_json(page), 0, NULL) : NULL;
    for (size_t i = 0; i < count; i++) {
      char path[64];
      snprintf(path, sizeof path, "%s[%zu].id", argv[0], i);
      char *item = tree ? json_dumps(json_array_get(json_object_get(tree, argv[0]), i), JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
      puts(item ? item : clarifai_response_string(page, path));
      free(item);
    }
    json_decref(tree);
    clarifai_response_free(page);
  }
  if (code != CLARIFAI_OK) failed(method, code, page);
  clarifai_response_free(page);
  clarifai_pager_free(pager);
  return code;
}

int main(int argc, char **argv) {
  struct options options = {.timeout_ms = -1};
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    const char *option = argv[i];
    if (strcmp(option, "--grpc") == 0) options.grpc = 1;
    else if (strcmp(option, "--rest") == 0) options.grpc = 0;
    else if (strcmp(option, "--json") == 0) options.json = 1;
    else if (i + 1 >= argc) return usage();
    else if (strcmp(option, "--base") == 0) options.base = argv[++i];
    else if (strcmp(option, "--user") == 0) options.user = argv[++i];
    else if (strcmp(option, "--app") == 0) options.app = argv[++i];
    else if (strcmp(option, "--timeout") == 0) {
      char *end = NULL;
      double seconds = strtod(argv[++i], &end);
      if (*end != '\0' || !(seconds >= 0 && seconds < 1e8)) return usage();
      options.timeout_ms = (long)(seconds * 1000);
    } else return usage();
  }
  if (i >= argc) return usage();
  const char *command = argv[i];
  char **rest = argv + i + 1;
  int count = argc - i - 1;
  if (strcmp(command, "methods") == 0) {
    if (count != 0) return usage();
    for (size_t m = 0; m < clarifai_method_count(); m++) puts(clarifai_method_name(m));
    return CLARIFAI_OK;
  }
  int is_call = strcmp(command, "call") == 0, is_predict = strcmp(command, "predict") == 0, is_list = strcmp(command, "list") == 0;
  if (!(is_call && count >= 1 && count <= 2) && !(is_predict && count >= 2) && !(is_list && count == 1 && list_method(rest[0])))
    return usage();

  /* gRPC goes over TLS unless the base says http:// (a local server). */
  clarifai_channel *channel = !options.grpc ? clarifai_channel_new_json(options.base)
                              : options.base && strncmp(options.base, "http://", 7) == 0
                                  ? clarifai_channel_new_grpc_insecure(options.base + 7)
                                  : clarifai_channel_new_grpc(options.base);
  if (channel && options.timeout_ms >= 0) clarifai_channel_set_timeout_ms(channel, options.timeout_ms);
  clarifai_client *client = channel ? clarifai_client_new(channel, NULL, options.user, options.app) : NULL;
  clarifai_channel_free(channel); /* the client keeps it */
  if (!client) return failed("setup", clarifai_last_error_code(), NULL);
  int code = is_call ? call(client, count, rest) : is_predict ? predict(client, &options, count, rest) : list(client, &options, rest);
  clarifai_client_free(client);
  return code;
}
