/* clarifai-cli: the Clarifai API from a shell, on libclarifai's public API. The manual is
 * clarifai-cli(1) (Bindings/cli/clarifai-cli.1); in short:
 *
 *   clarifai-cli methods                              every method of clarifai.api.V2
 *   clarifai-cli call METHOD [JSON|-]                 any method; the response as JSON
 *   clarifai-cli stream METHOD [JSON|-]               a streaming method; each message as it arrives
 *   clarifai-cli predict MODEL URL|FILE...            concepts as a table (--json: the responses)
 *   clarifai-cli predict MODEL -                      URLs or paths from stdin, run in bulk: JSON Lines
 *   clarifai-cli upload URL|FILE...|-                 inputs added to the app, their downloads followed
 *   clarifai-cli list inputs|models|concepts|apps     every item, one id a line (--json: JSON Lines)
 *   clarifai-cli config                               the settings in use (token hidden)
 *
 * Settings: the options, else the environment (CLARIFAI_PAT, CLARIFAI_SESSION_TOKEN,
 * CLARIFAI_USER_ID, CLARIFAI_APP_ID, CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE), else the official
 * SDK's config file (~/.config/clarifai/config, its current context), read as the SDK reads it.
 *
 * Exit status: 0 on success, else the CLARIFAI_ERROR_* code of the first failure (5 API: a
 * Clarifai status other than SUCCESS); 64 for bad usage, 78 for a config file that cannot be used. */
#define _DEFAULT_SOURCE
#include <clarifai.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#define USAGE_ERROR 64  /* EX_USAGE */
#define CONFIG_ERROR 78 /* EX_CONFIG */

struct options {
  int grpc, json;
  const char *base, *user, *app, *resume, *config, *context, *concepts;
  long timeout_ms;
  unsigned retries;
};

/* The synopsis, on `to`; the exit status of a usage error (64). */
static int usage_on(FILE *to) {
  fputs("usage: clarifai-cli [--help] [--version] [--rest|--grpc] [--base URL] [--timeout SECONDS]\n"
        "                    [--user ID] [--app ID] [--json] [--config FILE] [--context NAME]\n"
        "                    [--resume FILE] [--concepts ID,...] [--retries N] COMMAND\n"
        "  methods\n"
        "  call METHOD [JSON|-]\n"
        "  stream METHOD [JSON|-]\n"
        "  predict MODEL URL|FILE...\n"
        "  predict MODEL -\n"
        "  upload URL|FILE...\n"
        "  upload -\n"
        "  list inputs|models|concepts|apps\n"
        "  config\n"
        "See clarifai-cli(1) for the whole manual.\n",
        to);
  return USAGE_ERROR;
}

static int usage(void) { return usage_on(stderr); }

/* ---- Settings: the environment first, then the SDK's config file ------------------------------ */

#define MAX_SETTINGS 64
struct settings {
  size_t count;
  char *names[MAX_SETTINGS], *values[MAX_SETTINGS];
  char *file;          /* the config file read, or NULL */
  char *context;       /* its context used */
};

static const char *setting(const struct settings *settings, const char *name) {
  for (size_t i = 0; i < settings->count; i++)
    if (strcmp(settings->names[i], name) == 0) return settings->values[i];
  return NULL;
}

/* Sets `name` (copied) to `value` (copied, `length` bytes); a full table drops the setting. */
static void set_setting(struct settings *settings, const char *name, const char *value, size_t length) {
  size_t i = 0;
  while (i < settings->count && strcmp(settings->names[i], name) != 0) i++;
  if (i == MAX_SETTINGS) return;
  if (i == settings->count) {
    settings->names[settings->count++] = strdup(name);
  } else {
    free(settings->values[i]);
  }
  settings->values[i] = strndup(value, length);
}

static void free_settings(struct settings *settings) {
  for (size_t i = 0; i < settings->count; i++) {
    free(settings->names[i]);
    free(settings->values[i]);
  }
  free(settings->file);
  free(settings->context);
}

/* The value of `key` in YAML mapping `map`; NULL when it is not a mapping or has no such key. */
static yaml_node_t *yaml_get(yaml_document_t *document, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
    yaml_node_t *name = yaml_document_get_node(document, pair->key);
    if (name && name->type == YAML_SCALAR_NODE && strcmp((const char *)name->data.scalar.value, key) == 0)
      return yaml_document_get_node(document, pair->value);
  }
  return NULL;
}

static const char *yaml_text(yaml_node_t *node) {
  return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* An absent node or YAML's null ("", "~", "null" unquoted). */
static int yaml_is_null(yaml_node_t *node) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  if (!node) return 1;
  for (size_t i = 0; node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                     i < sizeof nulls / sizeof nulls[0]; i++)
    if (strcmp(yaml_text(node), nulls[i]) == 0) return 1;
  return 0;
}

/* Reads context `wanted` (NULL: the current one) of the SDK's config file at `path` into
   `settings`, as the SDK does: a key without the CLARIFAI_ prefix counts as with it, ENVVAR
   means "from the environment" (which must have it), a nested mapping is not a setting. Returns
   0, or CONFIG_ERROR after saying what is wrong. */
static int read_config(struct settings *settings, const char *path, const char *wanted) {
  FILE *file = fopen(path, "rb");
  if (!file) {
    fprintf(stderr, "clarifai-cli: the SDK's config file %s: %s\n", path, strerror(errno));
    return CONFIG_ERROR;
  }
  yaml_parser_t parser;
  yaml_document_t document;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_file(&parser, file);
  int loaded = yaml_parser_load(&parser, &document);
  fclose(file);
  if (!loaded) {
    fprintf(stderr, "clarifai-cli: the SDK's config file %s: line %zu: %s\n", path, parser.problem_mark.line + 1,
            parser.problem ? parser.problem : "not YAML");
    yaml_parser_delete(&parser);
    return CONFIG_ERROR;
  }
  yaml_parser_delete(&parser);
  int status = CONFIG_ERROR;
  yaml_node_t *root = yaml_document_get_root_node(&document);
  yaml_node_t *contexts = yaml_get(&document, root, "contexts");
  const char *name = wanted ? wanted : yaml_text(yaml_get(&document, root, "current_context"));
  yaml_node_t *chosen = name ? yaml_get(&document, contexts, name) : NULL;
  yaml_node_t *env = yaml_get(&document, chosen, "env");
  if (!contexts || contexts->type != YAML_MAPPING_NODE) {
    fprintf(stderr, "clarifai-cli: the SDK's config file %s has no contexts\n", path);
  } else if (!chosen || chosen->type != YAML_MAPPING_NODE) {
    fprintf(stderr, "clarifai-cli: the SDK's config file %s has no context '%s'\n", path,
            name ? name : "(current_context unset)");
  } else if (!yaml_is_null(env) && env->type != YAML_MAPPING_NODE) {
    fprintf(stderr, "clarifai-cli: context '%s' of %s: its env is not a mapping\n", name, path);
  } else {
    status = 0;
    settings->file = strdup(path);
    settings->context = strdup(name);
    for (yaml_node_pair_t *pair = env && env->type == YAML_MAPPING_NODE ? env->data.mapping.pairs.start : NULL;
         pair && pair < env->data.mapping.pairs.top && status == 0; pair++) {
      const char *key = yaml_text(yaml_document_get_node(&document, pair->key));
      yaml_node_t *value = yaml_document_get_node(&document, pair->value);
      if (!key || !value || value->type != YAML_SCALAR_NODE) continue;
      char variable[256];
      snprintf(variable, sizeof variable, "%s%.246s", strncasecmp(key, "CLARIFAI_", 9) == 0 ? "" : "CLARIFAI_", key);
      for (char *c = variable; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
      if (strcmp(yaml_text(value), "ENVVAR") == 0 && !getenv(variable)) {
        fprintf(stderr, "clarifai-cli: context '%s' of %s takes %s from the environment, where it is unset\n", name,
                path, variable);
        status = CONFIG_ERROR;
      } else {
        set_setting(settings, variable, (const char *)value->data.scalar.value, value->data.scalar.length);
      }
    }
  }
  yaml_document_delete(&document);
  return status;
}

/* The settings in use: Clarifai's defaults, the config file's context (--config FILE, else
   ~/.config/clarifai/config when it exists), and over them every CLARIFAI_* variable of the
   environment. Returns 0, or CONFIG_ERROR after saying why. */
static int load_settings(struct settings *settings, const struct options *options) {
  extern char **environ;
  static const char *const defaults[][2] = {{"CLARIFAI_API_BASE", "https://api.clarifai.com"},
                                            {"CLARIFAI_UI", "https://clarifai.com"}};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    set_setting(settings, defaults[i][0], defaults[i][1], strlen(defaults[i][1]));
  char home_config[4096];
  const char *path = options->config;
  if (!path && getenv("HOME")) {
    snprintf(home_config, sizeof home_config, "%s/.config/clarifai/config", getenv("HOME"));
    if (access(home_config, F_OK) == 0) path = home_config;
  }
  if (path && read_config(settings, path, options->context) != 0) return CONFIG_ERROR;
  if (!path && options->context) {
    fprintf(stderr, "clarifai-cli: --context %s: there is no config file (%s)\n", options->context,
            getenv("HOME") ? home_config : "$HOME is unset");
    return CONFIG_ERROR;
  }
  for (char **variable = environ; *variable; variable++) {
    const char *equals = strchr(*variable, '=');
    if (strncmp(*variable, "CLARIFAI_", 9) != 0 || !equals || equals - *variable > 255) continue;
    char name[256];
    memcpy(name, *variable, (size_t)(equals - *variable));
    name[equals - *variable] = '\0';
    set_setting(settings, name, equals + 1, strlen(equals + 1));
  }
  return 0;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `config`: where the settings come from, then NAME=value by name, credentials hidden. */
static int print_settings(const struct settings *settings) {
  if (settings->file) printf("# %s, context %s\n", settings->file, settings->context);
  else puts("# no config file");
  const char *names[MAX_SETTINGS];
  memcpy(names, settings->names, settings->count * sizeof names[0]);
  qsort(names, settings->count, sizeof names[0], compare_strings);
  for (size_t i = 0; i < settings->count; i++) {
    size_t length = strlen(names[i]);
    int secret = strstr(names[i], "TOKEN") || (length >= 4 && strcmp(names[i] + length - 4, "_PAT") == 0);
    printf("%s=%s\n", names[i], secret ? "<hidden>" : setting(settings, names[i]));
  }
  return CLARIFAI_OK;
}

/* The channel: --base, else $CLARIFAI_GRPC_BASE for gRPC (the library reads it), else the API
   base of the settings. gRPC goes over TLS to the host of an https:// base (port 443 unless
   given), in cleartext to that of an http:// one (a local server). */
static clarifai_channel *open_channel(const struct options *options, const struct settings *settings) {
  const char *base = options->base;
  if (!base && !(options->grpc && getenv("CLARIFAI_GRPC_BASE"))) base = setting(settings, "CLARIFAI_API_BASE");
  if (!options->grpc) return clarifai_channel_new_json(base);
  int cleartext = base && strncmp(base, "http://", 7) == 0;
  char target[1024] = "";
  if (base) {
    const char *host = cleartext ? base + 7 : strncmp(base, "https://", 8) == 0 ? base + 8 : base;
    snprintf(target, sizeof target, "%.*s", (int)strcspn(host, "/"), host);
  }
  return cleartext ? clarifai_channel_new_grpc_insecure(target) : clarifai_channel_new_grpc(base ? target : NULL);
}

/* The client of the settings: their token (a PAT, else a session token) and ids, --user and
   --app first. */
static clarifai_client *open_client(const struct options *options, const struct settings *settings) {
  clarifai_channel *channel = open_channel(options, settings);
  if (!channel) return NULL;
  if (options->timeout_ms >= 0) clarifai_channel_set_timeout_ms(channel, options->timeout_ms);
  const char *pat = setting(settings, "CLARIFAI_PAT"), *session = setting(settings, "CLARIFAI_SESSION_TOKEN");
  const char *user = options->user ? options->user : setting(settings, "CLARIFAI_USER_ID");
  const char *app = options->app ? options->app : setting(settings, "CLARIFAI_APP_ID");
  clarifai_client *client = !pat && session ? clarifai_client_new_session(channel, session, user, app)
                                            : clarifai_client_new(channel, pat, user, app);
  clarifai_channel_free(channel); /* the client keeps it */
  return client;
}

/* ---- Output ------------------------------------------------------------------------------------ */

/* Prints `text` (JSON): indented when stdout is a terminal, else as it is. */
static void print_json(const char *text) {
  json_t *tree = isatty(STDOUT_FILENO) ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
  char *pretty = tree ? json_dumps(tree, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
  puts(pretty ? pretty : text);
  free(pretty);
  json_decref(tree);
}

/* Prints `row` as one JSON line and frees it. */
static void print_row(json_t *row) {
  char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)); /* a float32 round-trips */
  if (text) puts(text);
  free(text);
  json_decref(row);
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

/* ---- call, stream ------------------------------------------------------------------------------ */

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

/* The next non-empty line of `file` without its line end, to free(); NULL at the end. */
static char *next_line(FILE *file) {
  char *line = NULL;
  size_t size = 0;
  ssize_t length;
  while ((length = getline(&line, &size, file)) >= 0) {
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = '\0';
    if (length > 0) return line;
  }
  free(line);
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

/* `stream METHOD -`: stdin's lines sent as request messages from a thread of their own while the
   main thread prints the answers (a bidirectional method answers as requests come). A request
   that cannot be sent ends the stream (cancelled) with its error. */
struct stream_sender {
  clarifai_stream *stream;
  pthread_mutex_t lock;
  int code;     /* the sending's failure, set before the stream is cancelled */
  int finished; /* the thread no longer uses the stream */
};

static void *send_lines(void *argument) {
  struct stream_sender *sender = argument;
  char *line;
  int code = CLARIFAI_OK;
  while (code == CLARIFAI_OK && (line = next_line(stdin))) {
    code = clarifai_stream_send(sender->stream, line);
    free(line);
  }
  if (code == CLARIFAI_OK) code = clarifai_stream_close_send(sender->stream);
  if (code != CLARIFAI_OK) {
    fprintf(stderr, "clarifai-cli: sending: %s\n", clarifai_last_error());
    pthread_mutex_lock(&sender->lock);
    sender->code = code;
    pthread_mutex_unlock(&sender->lock);
    clarifai_stream_cancel(sender->stream);
  }
  pthread_mutex_lock(&sender->lock);
  sender->finished = 1;
  pthread_mutex_unlock(&sender->lock);
  return NULL;
}

static int stream(clarifai_client *client, int argc, char **argv) {
  clarifai_stream *stream = NULL;
  int code = clarifai_stream_open(client, argv[0], &stream);
  if (code != CLARIFAI_OK) return failed(argv[0], code, NULL);
  struct stream_sender sender = {.stream = stream, .lock = PTHREAD_MUTEX_INITIALIZER};
  pthread_t thread;
  int from_stdin = argc == 2 && strcmp(argv[1], "-") == 0;
  if (from_stdin) {
    if (pthread_create(&thread, NULL, send_lines, &sender) != 0) {
      fputs("clarifai-cli: cannot start the sending thread\n", stderr);
      clarifai_stream_free(stream);
      return CLARIFAI_ERROR_INTERNAL;
    }
  } else if ((code = clarifai_stream_send(stream, argc == 2 ? argv[1] : NULL)) != CLARIFAI_OK ||
             (code = clarifai_stream_close_send(stream)) != CLARIFAI_OK) {
    failed(argv[0], code, NULL);
    clarifai_stream_free(stream);
    return code;
  }
  int first_api_failure = CLARIFAI_OK;
  clarifai_response *message = NULL;
  while ((code = clarifai_stream_recv(stream, &message)) == CLARIFAI_OK && message) {
    print_json(clarifai_response_json(message));
    fflush(stdout); /* each message as it arrives, also into a pipe */
    if (clarifai_response_status_code(message) != 10000 && first_api_failure == CLARIFAI_OK) {
      failed(argv[0], CLARIFAI_ERROR_API, message);
      first_api_failure = CLARIFAI_ERROR_API;
    }
    clarifai_response_free(message);
  }
  int finished = 1;
  if (from_stdin) {
    clarifai_stream_cancel(stream); /* a sender inside a send returns */
    pthread_mutex_lock(&sender.lock);
    finished = sender.finished;
    if (sender.code != CLARIFAI_OK) code = sender.code; /* (said already; the stream was cancelled for it) */
    else if (code != CLARIFAI_OK) failed(argv[0], code, NULL);
    pthread_mutex_unlock(&sender.lock);
  } else if (code != CLARIFAI_OK) {
    failed(argv[0], code, NULL);
  }
  code = code != CLARIFAI_OK ? code : first_api_failure;
  if (!finished) {
    /* A sender still waiting for stdin cannot be joined: the process ends under it, the stream
       not freed (and stdin, which its read holds locked, not flushed). */
    fflush(stdout);
    _exit(code);
  }
  if (from_stdin) pthread_join(thread, NULL);
  clarifai_stream_free(stream);
  return code;
}

/* ---- predict ----------------------------------------------------------------------------------- */

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

/* ---- Bulk runs (predict MODEL -, upload) --------------------------------------------------------- */

/* The progress of a bulk run, drawn in place on stderr when that is a terminal: a bar and an ETA
   when the number of inputs is known beforehand. */
struct progress_bar {
  int on;
  size_t total; /* 0: unknown */
  double last_drawn;
  clarifai_bulk_progress last;
};

static double now_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void draw_progress(struct progress_bar *bar, int final) {
  const clarifai_bulk_progress *progress = &bar->last;
  double now = now_seconds();
  if (!bar->on || (!final && now - bar->last_drawn < 0.1)) return; /* at most 10 redraws a second */
  bar->last_drawn = now;
  char counts[160], eta[32] = "";
  snprintf(counts, sizeof counts, "%zu done, %zu failed, %zu in flight, %.1f inputs/s", progress->done,
           progress->failed, progress->in_flight, progress->rate);
  if (!bar->total) {
    fprintf(stderr, "\r%s\033[K", counts);
    return;
  }
  size_t left = bar->total > progress->done ? bar->total - progress->done : 0;
  if (progress->rate > 0 && left) {
    unsigned long seconds = (unsigned long)((double)left / progress->rate + 0.5);
    if (seconds >= 3600) snprintf(eta, sizeof eta, ", ETA %lu:%02lu:%02lu", seconds / 3600, seconds / 60 % 60, seconds % 60);
    else snprintf(eta, sizeof eta, ", ETA %lu:%02lu", seconds / 60, seconds % 60);
  }
  struct winsize window;
  int columns = ioctl(STDERR_FILENO, TIOCGWINSZ, &window) == 0 && window.ws_col ? window.ws_col : 80;
  unsigned percent = (unsigned)(progress->done >= bar->total ? 100 : progress->done * 100 / bar->total);
  int text = (int)(strlen(counts) + strlen(eta)) + 8 + 3; /* " 100% " + the brackets and a space */
  int width = columns - text - 1 < 30 ? columns - text - 1 : 30;
  char filled[31] = "";
  if (width >= 5) {
    int full = (int)((size_t)width * percent / 100);
    memset(filled, '#', (size_t)full);
    memset(filled + full, '.', (size_t)(width - full));
    filled[width] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %s%s\033[K", filled, percent, counts, eta);
  } else {
    fprintf(stderr, "\r%3u%% %s%s\033[K", percent, counts, eta);
  }
}

static void bulk_progress(void *userdata, const clarifai_bulk_progress *progress);

/* Where a bulk run's inputs come from (the command line's arguments, else stdin's lines), the
   sources taken, by index, until their outcome is written. At most concurrency x batch_size inputs
   are out at once (256 here), well under the ring's size. */
#define BULK_BATCH 32
#define BULK_CONCURRENCY 8
#define BULK_RING 4096
#define BULK_FILE_LIMIT (128LL * 1024 * 1024)
struct bulk {
  char **arguments; /* NULL: stdin */
  int argument_count, next_argument;
  char *sources[BULK_RING];
  char *unreadable[BULK_RING]; /* why a file could not be read, by index */
  size_t supplied;
  char *data;        /* the last file's bytes */
  json_t *done;      /* --resume: the inputs an earlier run did, as keys */
  size_t skipped;
  int first_failure; /* the code of the failed input supplied first (the exit status) */
  size_t first_failure_index;
  struct progress_bar bar;
  const struct options *options;
  const char **concepts; /* upload --concepts */
  size_t concept_count;
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

/* The kind of input a source's name says (its extension); an image otherwise. */
static clarifai_input_kind input_kind(const char *source) {
  static const char *const kinds[][2] = {{"txt", "t"}, {"md", "t"},  {"mp4", "v"},  {"mov", "v"}, {"avi", "v"},
                                         {"mkv", "v"}, {"webm", "v"}, {"wav", "a"}, {"mp3", "a"}, {"flac", "a"},
                                         {"ogg", "a"}, {"m4a", "a"}};
  const char *dot = strrchr(source, '.');
  for (size_t i = 0; dot && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcasecmp(dot + 1, kinds[i][0]) == 0)
      return kinds[i][1][0] == 't' ? CLARIFAI_INPUT_TEXT : kinds[i][1][0] == 'v' ? CLARIFAI_INPUT_VIDEO : CLARIFAI_INPUT_AUDIO;
  return CLARIFAI_INPUT_IMAGE;
}

/* The next source (a URL or a path) not done before (--resume), to free(); NULL at the end. */
static char *next_source(struct bulk *bulk) {
  char *source;
  while ((source = bulk->arguments ? bulk->next_argument < bulk->argument_count
                                         ? strdup(bulk->arguments[bulk->next_argument++]) : NULL
                                   : next_line(stdin))) {
    if (!bulk->done || !json_object_get(bulk->done, source)) return source;
    bulk->skipped++;
    free(source);
  }
  return NULL;
}

/* Fills *input with the next source: a URL as it is, a file's bytes read here (the library copies
   them before the next call; one that cannot be read goes without data, and the library reports
   it alone). Returns 1, or 0 at the end. */
static int take_input(struct bulk *bulk, clarifai_input *input) {
  char *source = next_source(bulk);
  if (!source) return 0;
  size_t slot = bulk->supplied++ % BULK_RING;
  free(bulk->sources[slot]);
  free(bulk->unreadable[slot]);
  bulk->sources[slot] = source;
  bulk->unreadable[slot] = NULL;
  input->kind = input_kind(source);
  if (strstr(source, "://")) {
    input->url = source;
    return 1;
  }
  free(bulk->data);
  bulk->data = NULL;
  const char *problem = read_file(source, &bulk->data, &input->data_len);
  if (problem) {
    char reason[512];
    snprintf(reason, sizeof reason, "cannot read file '%s': %s", source, problem);
    bulk->unreadable[slot] = strdup(reason);
  }
  input->data = bulk->data;
  return 1;
}

static void record_failure(struct bulk *bulk, size_t index, int code) {
  if (bulk->first_failure == CLARIFAI_OK || index < bulk->first_failure_index) {
    bulk->first_failure = code;
    bulk->first_failure_index = index;
  }
}

/* The number of inputs the run will take (those not done before), when known beforehand: from
   the arguments, or from stdin when it is a regular file (read, then rewound); else 0. */
static size_t count_inputs(struct bulk *bulk) {
  struct stat info;
  long start = bulk->arguments ? 0 : ftell(stdin);
  if (!bulk->arguments && (fstat(STDIN_FILENO, &info) != 0 || !S_ISREG(info.st_mode) || start < 0)) return 0;
  size_t total = 0;
  char *source;
  while ((source = next_source(bulk))) {
    total++;
    free(source);
  }
  bulk->skipped = 0;
  bulk->next_argument = 0;
  clearerr(stdin);
  return bulk->arguments || fseek(stdin, start, SEEK_SET) == 0 ? total : 0;
}

/* A bulk run's state for `arguments` (NULL: stdin's lines); NULL when out of memory or --resume's
   file cannot be read (said). */
static struct bulk *bulk_new(const struct options *options, char **arguments, int argument_count) {
  struct bulk *bulk = calloc(1, sizeof *bulk);
  if (!bulk) return NULL;
  bulk->options = options;
  bulk->arguments = arguments;
  bulk->argument_count = argument_count;
  bulk->bar.on = isatty(STDERR_FILENO);
  if (options->resume && !(bulk->done = json_object())) {
    free(bulk);
    return NULL;
  }
  FILE *file = options->resume ? fopen(options->resume, "r") : NULL;
  if (options->resume && !file) {
    fprintf(stderr, "clarifai-cli: --resume %s: %s\n", options->resume, strerror(errno));
    json_decref(bulk->done);
    free(bulk);
    return NULL;
  }
  /* The inputs an earlier run's output (JSON Lines) has as done (code 0). */
  char *line;
  while (file && (line = next_line(file))) {
    json_t *row = json_loads(line, 0, NULL), *input = json_object_get(row, "input"), *code = json_object_get(row, "code");
    if (json_is_string(input) && json_is_integer(code) && json_integer_value(code) == 0)
      json_object_set(bulk->done, json_string_value(input), json_true());
    json_decref(row);
    free(line);
  }
  if (file) fclose(file);
  bulk->bar.total = count_inputs(bulk);
  return bulk;
}

/* Ends a bulk run whose library call returned `code`; returns the exit status. */
static int bulk_finish(struct bulk *bulk, int code, const char *what) {
  if (bulk->bar.on) {
    draw_progress(&bulk->bar, 1);
    fputc('\n', stderr);
  }
  if (bulk->skipped) fprintf(stderr, "clarifai-cli: %zu inputs done before (--resume), skipped\n", bulk->skipped);
  if (code != CLARIFAI_OK) failed(what, code, NULL);
  int status = code != CLARIFAI_OK ? code : bulk->first_failure;
  for (size_t i = 0; i < BULK_RING; i++) {
    free(bulk->sources[i]);
    free(bulk->unreadable[i]);
  }
  free(bulk->data);
  free(bulk->concepts);
  json_decref(bulk->done);
  free(bulk);
  return status;
}

static void bulk_progress(void *userdata, const clarifai_bulk_progress *progress) {
  struct bulk *bulk = userdata;
  bulk->bar.last = *progress;
  draw_progress(&bulk->bar, 0);
}

static int predict_next(void *userdata, clarifai_input *input) {
  return take_input(userdata, input);
}

static int predict_result(void *userdata, size_t index, int code, const clarifai_response *result) {
  struct bulk *bulk = userdata;
  json_t *row = json_pack("{s:s, s:I, s:i}", "input", bulk->sources[index % BULK_RING], "index", (json_int_t)index, "code", code);
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
    record_failure(bulk, index, code);
  }
  print_row(row);
  return 0;
}

static int predict_bulk(clarifai_client *client, const struct options *options, const char *model) {
  struct bulk *bulk = bulk_new(options, NULL, 0);
  if (!bulk) return USAGE_ERROR;
  int code = clarifai_predict_many(client, model, NULL, BULK_BATCH, BULK_CONCURRENCY, 0, predict_next, predict_result,
                                   bulk_progress, bulk);
  return bulk_finish(bulk, code, model);
}

/* ---- upload ------------------------------------------------------------------------------------ */

static int upload_next(void *userdata, clarifai_upload_input *input) {
  struct bulk *bulk = userdata;
  input->concepts = bulk->concepts;
  input->concept_count = bulk->concept_count;
  return take_input(bulk, &input->input);
}

/* Each input's outcome: its id and source (--json: a JSON line); a failure on stderr too. */
static int upload_result(void *userdata, size_t index, int code, const char *input_id, int status_code, unsigned tries) {
  struct bulk *bulk = userdata;
  const char *source = bulk->sources[index % BULK_RING], *unreadable = bulk->unreadable[index % BULK_RING];
  char reason[600];
  if (code == CLARIFAI_ERROR_API)
    snprintf(reason, sizeof reason, "download failed (status %d) after %u tries; the input was deleted", status_code, tries);
  else
    snprintf(reason, sizeof reason, "%s", unreadable ? unreadable : clarifai_last_error());
  if (bulk->options->json) {
    json_t *row = json_pack("{s:s, s:I, s:i, s:s, s:i, s:i}", "input", source, "index", (json_int_t)index, "code", code,
                            "input_id", input_id, "status", status_code, "tries", (int)tries);
    if (code != CLARIFAI_OK) json_object_set_new(row, "error", json_string(reason));
    print_row(row);
  } else if (code == CLARIFAI_OK) {
    printf("%s\t%s\n", input_id, source);
  }
  if (code != CLARIFAI_OK) {
    if (bulk->bar.on) fputs("\r\033[K", stderr);
    if (!bulk->options->json) fprintf(stderr, "clarifai-cli: %s%s%s\n", unreadable ? "" : source, unreadable ? "" : ": ", reason);
    record_failure(bulk, index, code);
  }
  return 0;
}

/* --concepts a,b,c into the bulk's list (pointing into `list`, which it cuts at the commas). */
static int split_concepts(struct bulk *bulk, char *list) {
  size_t count = 1;
  for (const char *c = list; *c; c++) count += *c == ',';
  if (!(bulk->concepts = calloc(count, sizeof *bulk->concepts))) return 0;
  for (char *id = strtok(list, ","); id; id = strtok(NULL, ","))
    bulk->concepts[bulk->concept_count++] = id;
  return 1;
}

static int upload(clarifai_client *client, const struct options *options, int argc, char **argv) {
  int from_stdin = argc == 1 && strcmp(argv[0], "-") == 0;
  struct bulk *bulk = bulk_new(options, from_stdin ? NULL : argv, argc);
  if (!bulk) return USAGE_ERROR;
  char *concepts = options->concepts ? strdup(options->concepts) : NULL;
  if (concepts && !split_concepts(bulk, concepts)) return bulk_finish(bulk, CLARIFAI_ERROR_INTERNAL, "upload");
  int code = clarifai_upload_inputs(client, 0, 0, options->retries, upload_next, upload_result, bulk_progress, bulk);
  code = bulk_finish(bulk, code, "upload");
  free(concepts);
  return code;
}

/* ---- list -------------------------------------------------------------------------------------- */

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

/* ---- main -------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  struct options options = {.timeout_ms = -1, .retries = 2};
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    const char *option = argv[i];
    if (strcmp(option, "--help") == 0) {
      usage_on(stdout);
      return CLARIFAI_OK;
    }
    if (strcmp(option, "--version") == 0) {
      printf("clarifai-cli %s (API %s)\n", clarifai_version(), clarifai_api_version());
      return CLARIFAI_OK;
    }
    if (strcmp(option, "--grpc") == 0) options.grpc = 1;
    else if (strcmp(option, "--rest") == 0) options.grpc = 0;
    else if (strcmp(option, "--json") == 0) options.json = 1;
    else if (i + 1 >= argc) return usage();
    else if (strcmp(option, "--base") == 0) options.base = argv[++i];
    else if (strcmp(option, "--user") == 0) options.user = argv[++i];
    else if (strcmp(option, "--app") == 0) options.app = argv[++i];
    else if (strcmp(option, "--resume") == 0) options.resume = argv[++i];
    else if (strcmp(option, "--config") == 0) options.config = argv[++i];
    else if (strcmp(option, "--context") == 0) options.context = argv[++i];
    else if (strcmp(option, "--concepts") == 0) options.concepts = argv[++i];
    else if (strcmp(option, "--retries") == 0) {
      char *end = NULL;
      unsigned long retries = strtoul(argv[++i], &end, 10);
      if (*end != '\0' || argv[i][0] == '-' || retries > 100) return usage();
      options.retries = (unsigned)retries;
    } else if (strcmp(option, "--timeout") == 0) {
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
  int is_call = strcmp(command, "call") == 0, is_stream = strcmp(command, "stream") == 0,
      is_predict = strcmp(command, "predict") == 0, is_upload = strcmp(command, "upload") == 0,
      is_list = strcmp(command, "list") == 0, is_config = strcmp(command, "config") == 0;
  if (!((is_call || is_stream) && count >= 1 && count <= 2) && !(is_predict && count >= 2) &&
      !(is_upload && count >= 1) && !(is_list && count == 1 && list_method(rest[0])) && !(is_config && count == 0))
    return usage();

  struct settings settings = {0};
  int code = load_settings(&settings, &options);
  if (code == 0 && is_config) code = print_settings(&settings);
  clarifai_client *client = code == 0 && !is_config ? open_client(&options, &settings) : NULL;
  free_settings(&settings);
  if (code != 0 || is_config) return code;
  if (!client) return failed("setup", clarifai_last_error_code(), NULL);
  int bulk = is_predict && count == 2 && strcmp(rest[1], "-") == 0;
  code = is_call     ? call(client, count, rest)
         : is_stream ? stream(client, count, rest)
         : bulk      ? predict_bulk(client, &options, rest[0])
         : is_predict ? predict(client, &options, count, rest)
         : is_upload  ? upload(client, &options, count, rest)
                      : list(client, &options, rest);
  clarifai_client_free(client);
  return code;
}
