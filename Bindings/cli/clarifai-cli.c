/* clarifai-cli: the Clarifai API from a shell, on libclarifai's public API.
 *
 *   clarifai-cli methods                              every method of clarifai.api.V2
 *   clarifai-cli call METHOD [JSON|-]                 any method; the response as JSON
 *   clarifai-cli predict MODEL URL|FILE...            concepts as a table (--json: the responses)
 *   clarifai-cli predict MODEL -                      URLs or paths from stdin, one a line, run in bulk
 *                                                     (clarifai_predict_many): JSON Lines out;
 *                                                     --resume FILE skips the inputs FILE (an
 *                                                     earlier run's output) has as done
 *   clarifai-cli list inputs|models|concepts|apps     every item, one id a line (--json: JSON Lines)
 *
 * Options (before the command): --rest (the default) or --grpc (TLS; cleartext for a base of
 * http://HOST:PORT), --base URL|HOST:PORT, --timeout SECONDS, --user ID, --app ID, --json,
 * --resume FILE. A bulk run shows its progress on stderr when that is a terminal. The token comes from $CLARIFAI_PAT; the base, user and app
 * from $CLARIFAI_API_BASE (or $CLARIFAI_GRPC_BASE), $CLARIFAI_USER_ID and $CLARIFAI_APP_ID unless
 * given. JSON goes out indented when stdout is a terminal, on one line otherwise.
 *
 * Exit status: 0 on success, else the CLARIFAI_ERROR_* code of the first failure (5 API: the
 * call completed with a Clarifai status other than SUCCESS, whose JSON is still printed); 64 for
 * bad usage. Messages go to stderr. */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE_ERROR 64

struct options {
  int grpc, json;
  const char *base, *user, *app, *resume;
  long timeout_ms;
};

static int usage(void) {
  fputs("usage: clarifai-cli [--rest|--grpc] [--base URL] [--timeout SECONDS] [--user ID] [--app ID] [--json]\n"
        "                    [--resume FILE] COMMAND\n"
        "  methods\n"
        "  call METHOD [JSON|-]\n"
        "  predict MODEL URL|FILE...\n"
        "  predict MODEL -\n"
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

/* A bulk run (predict MODEL -): the lines read, by index, until their outcome is written. At most
   concurrency x batch_size inputs are out at once (256 here), well under the ring's size. */
#define BULK_BATCH 32
#define BULK_CONCURRENCY 8
#define BULK_RING 4096
#define BULK_FILE_LIMIT (128LL * 1024 * 1024)
struct bulk {
  char *lines[BULK_RING];
  char *unreadable[BULK_RING]; /* why a file could not be read, by index */
  size_t supplied;
  char *data;       /* the last file's bytes */
  json_t *done;     /* --resume: the inputs an earlier run did, as keys */
  int first_failure; /* the code of the failed input supplied first (the exit status) */
  size_t first_failure_index;
  int progress;     /* stderr is a terminal */
  size_t skipped;
};

/* A regular file's bytes into *data (malloc'd) and *length; what is wrong otherwise (a FIFO or a
   device would block or never end; over the API's 128 MB request limit it cannot be sent). */
static const char *read_file(const char *path, char **data, size_t *length) {
  int descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat info;
  if (descriptor < 0 || fstat(descriptor, &info) != 0) {
    const char *reason = strerror(errno);
    if (descriptor >= 0) close(descriptor);
    return reason;
  }
  const char *problem = !S_ISREG(info.st_mode)          ? "not a regular file"
                        : info.st_size == 0              ? "empty"
                        : info.st_size > BULK_FILE_LIMIT ? "over 128 MB"
                        : !(*data = malloc((size_t)info.st_size)) ? "out of memory"
                                                                  : NULL;
  size_t used = 0;
  ssize_t got = 1;
  while (!problem && used < (size_t)info.st_size && (got = read(descriptor, *data + used, (size_t)info.st_size - used)) > 0)
    used += (size_t)got;
  if (!problem && got < 0) problem = strerror(errno);
  close(descriptor);
  *length = problem ? 0 : used; /* a file that shrank while read: what it still had */
  return problem;
}

static int bulk_next(void *userdata, clarifai_input *input) {
  struct bulk *bulk = userdata;
  char *line = NULL;
  size_t size = 0;
  ssize_t length;
  while ((length = getline(&line, &size, stdin)) >= 0) {
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = '\0';
    if (length == 0) continue;
    if (bulk->done && json_object_get(bulk->done, line)) {
      bulk->skipped++;
      continue;
    }
    size_t slot = bulk->supplied++ % BULK_RING;
    free(bulk->lines[slot]);
    free(bulk->unreadable[slot]);
    bulk->lines[slot] = line;
    bulk->unreadable[slot] = NULL;
    input->kind = CLARIFAI_INPUT_IMAGE;
    if (strstr(line, "://")) {
      input->url = line;
      return 1;
    }
    /* A file: its bytes, read here (the library copies them before the next call). */
    free(bulk->data);
    bulk->data = NULL;
    const char *problem = read_file(line, &bulk->data, &input->data_len);
    if (problem) { /* sent without data: the library reports this input alone */
      char reason[512];
      snprintf(reason, sizeof reason, "cannot read file '%s': %s", line, problem);
      bulk->unreadable[slot] = strdup(reason);
    }
    input->data = bulk->data;
    return 1;
  }
  free(line);
  return 0;
}

static int bulk_result(void *userdata, size_t index, int code, const clarifai_response *result) {
  struct bulk *bulk = userdata;
  json_t *row = json_pack("{s:s, s:I, s:i}", "input", bulk->lines[index % BULK_RING], "index", (json_int_t)index, "code", code);
  if (result) json_object_set_new(row, "status", json_integer(clarifai_response_status_code(result)));
  const clarifai_concept *concepts = NULL;
  size_t count = 0;
  if (code == CLARIFAI_OK && clarifai_response_concepts(result, 0, &concepts, &count) == CLARIFAI_OK) {
    json_t *list = json_array();
    for (size_t c = 0; c < count; c++)
      json_array_append_new(list, json_pack("{s:s, s:s, s:f}", "id", concepts[c].id, "name", concepts[c].name, "value",
                                            (double)concepts[c].value));
    json_object_set_new(row, "concepts", list);
  } else {
    const char *unreadable = bulk->unreadable[index % BULK_RING];
    json_object_set_new(row, "error", json_string(unreadable ? unreadable
                                                  : result ? clarifai_response_status_description(result) : clarifai_last_error()));
    if (bulk->first_failure == CLARIFAI_OK || index < bulk->first_failure_index) {
      bulk->first_failure = code;
      bulk->first_failure_index = index;
    }
  }
  char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)); /* a float32 round-trips */
  if (text) puts(text);
  free(text);
  json_decref(row);
  return 0;
}

static void bulk_progress(void *userdata, const clarifai_bulk_progress *progress) {
  struct bulk *bulk = userdata;
  if (bulk->progress)
    fprintf(stderr, "\r%zu done, %zu failed, %zu in flight, %.1f inputs/s   ", progress->done, progress->failed,
            progress->in_flight, progress->rate);
}

/* The inputs an earlier run's output (JSON Lines) has as done (code 0), as the keys of an object. */
static json_t *done_inputs(const char *path) {
  FILE *file = fopen(path, "r");
  if (!file) return NULL;
  json_t *done = json_object();
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, file) >= 0) {
    json_t *row = json_loads(line, 0, NULL);
    json_t *input = json_object_get(row, "input");
    if (json_is_string(input) && json_integer_value(json_object_get(row, "code")) == 0 && json_object_get(row, "code"))
      json_object_set(done, json_string_value(input), json_true());
    json_decref(row);
  }
  free(line);
  fclose(file);
  return done;
}

static int predict_stdin(clarifai_client *client, const struct options *options, const char *model) {
  struct bulk *bulk = calloc(1, sizeof *bulk);
  if (!bulk) return CLARIFAI_ERROR_INTERNAL;
  bulk->progress = isatty(STDERR_FILENO);
  if (options->resume && !(bulk->done = done_inputs(options->resume))) {
    fprintf(stderr, "clarifai-cli: --resume %s: cannot read it\n", options->resume);
    free(bulk);
    return USAGE_ERROR;
  }
  int code = clarifai_predict_many(client, model, NULL, BULK_BATCH, BULK_CONCURRENCY, 0, bulk_next, bulk_result,
                                   bulk_progress, bulk);
  if (bulk->progress) fputc('\n', stderr);
  if (bulk->skipped) fprintf(stderr, "clarifai-cli: %zu inputs done before (--resume), skipped\n", bulk->skipped);
  if (code != CLARIFAI_OK) failed(model, code, NULL);
  int status = code != CLARIFAI_OK ? code : bulk->first_failure;
  for (size_t i = 0; i < BULK_RING; i++) {
    free(bulk->lines[i]);
    free(bulk->unreadable[i]);
  }
  free(bulk->data);
  json_decref(bulk->done);
  free(bulk);
  return status;
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
    else if (strcmp(option, "--resume") == 0) options.resume = argv[++i];
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
  int bulk = is_predict && count == 2 && strcmp(rest[1], "-") == 0;
  int code = is_call ? call(client, count, rest)
             : bulk  ? predict_stdin(client, &options, rest[0])
             : is_predict ? predict(client, &options, count, rest)
                          : list(client, &options, rest);
  clarifai_client_free(client);
  return code;
}
