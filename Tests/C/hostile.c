/* How libclarifai copes with a hostile caller or process: fork() with a live client, a file
 * that shrinks or never opens, absurd sizes and timeouts, oversized strings, malformed targets.
 * Every scenario is written for the behaviour the library should have; it exits 0 when it sees
 * that behaviour, 1 when it sees something else, 2 on a usage or setup problem, 3 when the
 * scenario's watchdog finds it blocked. A crash is the library's signal, not ours.
 *
 * Usage: hostile <scenario> [<argument>]; `hostile` alone lists the scenarios. Run by
 * Tests/Python/test_hostile_process.py against the local test server, with the environment of
 * Tests/C/test_capi.c: CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE, CLARIFAI_GRPCS_BASE, CLARIFAI_PAT
 * and CLARIFAI_ROOT_CERTIFICATES_PATH. It prints what happened on stdout only: anything on
 * stderr comes from the library. */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_WRONG = 1, EXIT_SETUP = 2, EXIT_HUNG = 3 };

static int failures; /* checks that saw the wrong behaviour */

/* Prints "ok: ..." or "FAIL: ..." and counts the failures. */
static void check(int ok, const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs(ok ? "ok: " : "FAIL: ", stdout);
  vprintf(format, args);
  putchar('\n');
  va_end(args);
  if (!ok) failures++;
}

static int contains(const char *text, const char *part) { return text != NULL && strstr(text, part) != NULL; }

/* The calling thread's last error, copied (it only lives until the thread's next call into the
   library) and cut short: some scenarios make it megabytes long. */
static char last_error[1024];
static size_t last_error_length;

static void save_last_error(void) {
  const char *message = clarifai_last_error();
  last_error_length = strlen(message);
  snprintf(last_error, sizeof last_error, "%s", message);
}

static void setup_failed(const char *what) {
  const char *reason = strerror(errno);
  save_last_error();
  printf("setup failed: %s: %s (last error: %.300s)\n", what, reason, last_error);
  exit(EXIT_SETUP);
}

/* After `code` from a call that should have failed with `expected`: the code and a message that
   names `part`. */
static void check_error(const char *what, int code, int expected, const char *part) {
  save_last_error();
  check(code == expected && contains(last_error, part), "%s -> %s, message (%zu bytes) \"%.200s\"; expected %s naming '%s'",
        what, clarifai_error_name(code), last_error_length, last_error, clarifai_error_name(expected), part);
}

static double now_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void sleep_microseconds(long microseconds) {
  struct timespec pause = {microseconds / 1000000, (microseconds % 1000000) * 1000};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) continue;
}

/* ---------------------------------------------------------------------------------------------
 * The watchdog: a scenario still running after its time is reported as a hang, from the signal
 * handler, since the blocked thread cannot report it.
 * ------------------------------------------------------------------------------------------- */
static char hang_message[200];

static void on_alarm(int signal_number) {
  (void)signal_number;
  ssize_t written = write(STDOUT_FILENO, hang_message, strlen(hang_message));
  (void)written;
  _exit(EXIT_HUNG);
}

static void start_watchdog(const char *scenario, unsigned seconds) {
  snprintf(hang_message, sizeof hang_message, "HANG: %s still running after %u s\n", scenario, seconds);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_alarm;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, NULL);
  alarm(seconds);
}

/* ---------------------------------------------------------------------------------------------
 * Channels and clients on the local server
 * ------------------------------------------------------------------------------------------- */
/* kind: "rest", "grpc" (cleartext) or "grpcs" (TLS); NULL when the library refuses. */
static clarifai_channel *new_channel(const char *kind) {
  if (strcmp(kind, "rest") == 0) return clarifai_channel_new_json(NULL);
  if (strcmp(kind, "grpc") == 0) return clarifai_channel_new_grpc_insecure(NULL);
  if (strcmp(kind, "grpcs") == 0) return clarifai_channel_new_grpc(getenv("CLARIFAI_GRPCS_BASE"));
  printf("unknown channel '%s' (rest, grpc or grpcs)\n", kind);
  exit(EXIT_SETUP);
}

/* A client on a new channel (released at once: the client keeps it) with this per-call deadline. */
static clarifai_client *new_client(const char *kind, long timeout_ms) {
  clarifai_channel *channel = new_channel(kind);
  if (channel == NULL) setup_failed("channel");
  if (clarifai_channel_set_timeout_ms(channel, timeout_ms) != CLARIFAI_OK) setup_failed("timeout");
  clarifai_client *client = clarifai_client_new(channel, NULL, NULL, NULL);
  clarifai_channel_free(channel);
  if (client == NULL) setup_failed("client");
  return client;
}

/* One text-echo prediction: 1 when it succeeded and answered "echo: <text>", else says why. */
static int echo_once(clarifai_client *client, const char *who, const char *text) {
  char expected[128];
  snprintf(expected, sizeof expected, "echo: %s", text);
  clarifai_response *response = NULL;
  int code = clarifai_predict_text(client, "text-echo", NULL, text, &response);
  const char *answer = code == CLARIFAI_OK ? clarifai_response_text(response, 0) : NULL;
  int ok = answer != NULL && strcmp(answer, expected) == 0;
  if (code != CLARIFAI_OK) {
    save_last_error();
    printf("%s: '%s' failed: %s: %.200s\n", who, text, clarifai_error_name(code), last_error);
  } else if (!ok) {
    printf("%s: '%s' answered '%s'\n", who, text, answer ? answer : "(no text)");
  }
  clarifai_response_free(response);
  return ok;
}

/* ---------------------------------------------------------------------------------------------
 * fork(): parent and child share a client made before the fork
 * ------------------------------------------------------------------------------------------- */
enum { FORK_CALLS = 300, FORK_SECONDS = 30, FORK_GIVE_UP = 10 };

/* FORK_CALLS echoes of "<pid>-<i>", each of which must come back as this process's own; stops
   early after FORK_GIVE_UP bad answers or at `deadline`. Returns 1 when all were right. */
static int echo_calls(clarifai_client *client, const char *who, double deadline) {
  char label[64], text[64];
  snprintf(label, sizeof label, "%s %ld", who, (long)getpid());
  int done = 0, bad = 0;
  for (; done < FORK_CALLS && bad < FORK_GIVE_UP && now_seconds() < deadline; done++) {
    snprintf(text, sizeof text, "%ld-%d", (long)getpid(), done);
    bad += !echo_once(client, label, text);
  }
  printf("%s: %d of %d calls made, %d wrong or failed\n", label, done, FORK_CALLS, bad);
  return done == FORK_CALLS && bad == 0;
}

/* Waits for the child until `deadline`, then kills it; returns 1 when it exited with 0. */
static int child_succeeded(pid_t child, double deadline) {
  int status = 0;
  pid_t reaped;
  while ((reaped = waitpid(child, &status, WNOHANG)) == 0 && now_seconds() < deadline) sleep_microseconds(20000);
  if (reaped == 0) {
    printf("child %ld: still running %d s after the fork: killed\n", (long)child, FORK_SECONDS);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return 0;
  }
  if (WIFSIGNALED(status)) {
    printf("child %ld: killed by signal %d (%s)\n", (long)child, WTERMSIG(status), strsignal(WTERMSIG(status)));
    return 0;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

enum fork_mode {
  FORK_WARM, /* the parent called before the fork: pooled connection, TLS I/O thread running */
  FORK_COLD, /* the parent never called before the fork */
  FORK_FREE  /* warm, and the parent frees the client right after the fork; only the child calls */
};

static int run_fork(const char *kind, enum fork_mode mode) {
  clarifai_client *client = new_client(kind, 3000);
  if (mode != FORK_COLD && !echo_once(client, "parent before fork", "warm-up")) {
    clarifai_client_free(client);
    return EXIT_SETUP;
  }
  double deadline = now_seconds() + FORK_SECONDS;
  pid_t child = fork();
  if (child < 0) setup_failed("fork");
  if (child == 0) {
    int ok = echo_calls(client, "child", deadline);
    clarifai_client_free(client);
    exit(ok ? EXIT_SUCCESS : EXIT_WRONG);
  }
  int parent_ok = 1;
  if (mode != FORK_FREE) parent_ok = echo_calls(client, "parent", deadline);
  clarifai_client_free(client);
  int child_ok = child_succeeded(child, deadline);
  check(parent_ok && child_ok, "%s fork: every answer was the caller's own (parent %s, child %s)", kind,
        mode == FORK_FREE ? "freed its client" : parent_ok ? "ok" : "wrong", child_ok ? "ok" : "wrong");
  return 0;
}

/* A completion queue with a call in flight at the moment of fork(): the call and the queue stay
   the parent's, whose completion comes as usual; in the child the inherited queue is refused at
   once (a wait for the parent's call would never end), freeing it returns at once, and a queue
   of the child's own works. */
static int fork_queue(const char *kind) {
  clarifai_client *client = new_client(kind, 10000);
  clarifai_queue *queue = clarifai_queue_new();
  if (queue == NULL) setup_failed("queue");
  clarifai_input slow = {.kind = CLARIFAI_INPUT_IMAGE, .url = "https://samples.clarifai.com/fork.jpg"};
  if (clarifai_predict_async(client, "slow-1500", NULL, &slow, 1, queue, (void *)1) != CLARIFAI_OK) setup_failed("predict_async");
  double deadline = now_seconds() + FORK_SECONDS;
  pid_t child = fork();
  if (child < 0) setup_failed("fork");
  void *tag = NULL;
  int code = -1;
  clarifai_response *out = NULL;
  if (child == 0) {
    int next = clarifai_queue_next(queue, -1, &tag, &code, &out);
    int refused = next == CLARIFAI_ERROR_INVALID_ARGUMENT && contains(clarifai_last_error(), "fork");
    if (!refused) printf("child: queue_next on the inherited queue -> %s: %.200s\n", clarifai_error_name(next), clarifai_last_error());
    fflush(stdout); /* a child killed as hung still tells how far it got */
    clarifai_queue_free(queue);
    clarifai_queue *own = clarifai_queue_new();
    clarifai_input echo = {.kind = CLARIFAI_INPUT_TEXT, .text = "child"};
    int works = own != NULL && clarifai_predict_async(client, "text-echo", NULL, &echo, 1, own, (void *)2) == CLARIFAI_OK &&
                clarifai_queue_next(own, -1, &tag, &code, &out) == CLARIFAI_OK && tag == (void *)2 && code == CLARIFAI_OK;
    if (!works) printf("child: its own queue failed: %s: %.200s\n", clarifai_error_name(code), clarifai_last_error());
    fflush(stdout);
    clarifai_response_free(out);
    clarifai_queue_free(own);
    clarifai_client_free(client);
    exit(refused && works ? EXIT_SUCCESS : EXIT_WRONG);
  }
  int next = clarifai_queue_next(queue, 10000, &tag, &code, &out);
  int parent_ok = next == CLARIFAI_OK && tag == (void *)1 && code == CLARIFAI_OK && clarifai_response_output_count(out) == 1;
  if (!parent_ok) printf("parent: %s / %s: %.200s\n", clarifai_error_name(next), clarifai_error_name(code), clarifai_last_error());
  clarifai_response_free(out);
  clarifai_queue_free(queue);
  clarifai_client_free(client);
  int child_ok = child_succeeded(child, deadline);
  check(parent_ok && child_ok, "%s fork with a call in flight on a queue (parent %s, child %s)", kind, parent_ok ? "ok" : "wrong",
        child_ok ? "ok" : "wrong");
  return 0;
}

static int fork_warm(const char *kind) { return run_fork(kind, FORK_WARM); }
static int fork_cold(const char *kind) { return run_fork(kind, FORK_COLD); }
static int fork_free(const char *kind) { return run_fork(kind, FORK_FREE); }

/* ---------------------------------------------------------------------------------------------
 * Files that are not what they seem
 * ------------------------------------------------------------------------------------------- */
/* A fresh directory under $TMPDIR or /tmp, written into `path` (at least PATH_MAX bytes). */
static void make_temp_dir(char *path) {
  const char *base = getenv("TMPDIR");
  snprintf(path, PATH_MAX, "%s/clarifai-hostile-XXXXXX", base && *base ? base : "/tmp");
  if (mkdtemp(path) == NULL) setup_failed("mkdtemp");
}

/* predict_file on `path` must fail with INVALID_ARGUMENT naming the path, at once. */
static void check_not_regular(clarifai_client *client, const char *path) {
  clarifai_response *response = NULL;
  double started = now_seconds();
  int code = clarifai_predict_file(client, "general-image-recognition", NULL, path, &response);
  double seconds = now_seconds() - started;
  clarifai_response_free(response);
  char what[PATH_MAX + 64];
  snprintf(what, sizeof what, "predict_file('%s') in %.3f s", path, seconds);
  check_error(what, code, CLARIFAI_ERROR_INVALID_ARGUMENT, path);
  check(contains(last_error, "not a regular file") && seconds < 1.0,
        "the message says it is not a regular file, and came within 1 s");
}

/* A FIFO without a writer: open() for reading would block until one comes. */
static int fifo(const char *unused) {
  (void)unused;
  char dir[PATH_MAX], path[PATH_MAX + 16];
  make_temp_dir(dir);
  snprintf(path, sizeof path, "%s/fifo", dir);
  if (mkfifo(path, 0600) != 0) setup_failed("mkfifo");
  clarifai_client *client = new_client("rest", 3000);
  check_not_regular(client, path);
  clarifai_client_free(client);
  unlink(path);
  rmdir(dir);
  return 0;
}

static int directory(const char *unused) {
  (void)unused;
  char dir[PATH_MAX];
  make_temp_dir(dir);
  clarifai_client *client = new_client("rest", 3000);
  check_not_regular(client, dir);
  clarifai_client_free(client);
  rmdir(dir);
  return 0;
}

/* A character device whose content never ends. */
static int dev_zero(const char *unused) {
  (void)unused;
  clarifai_client *client = new_client("rest", 3000);
  check_not_regular(client, "/dev/zero");
  clarifai_client_free(client);
  return 0;
}

/* The file shrinks to nothing while the library reads it: with a memory mapping, touching the
   pages past the new end raises SIGBUS. */
enum { BIG_FILE = 64 << 20 };

struct truncation {
  int fd;
  long delay_us; /* after the call starts */
};

static void *truncate_later(void *argument) {
  const struct truncation *truncation = argument;
  sleep_microseconds(truncation->delay_us);
  if (ftruncate(truncation->fd, 0) != 0) printf("ftruncate: %s\n", strerror(errno));
  return NULL;
}

static int truncated_file(const char *unused) {
  (void)unused;
  /* The truncation lands at different points of the call: opening, mapping, encoding, sending. */
  static const long delays_us[] = {0, 500, 2000, 8000, 30000, 100000};
  char dir[PATH_MAX], path[PATH_MAX + 16];
  make_temp_dir(dir);
  snprintf(path, sizeof path, "%s/big.bin", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) setup_failed("open");
  char block[1 << 16];
  memset(block, 'x', sizeof block);
  clarifai_client *client = new_client("rest", 60000);
  for (size_t round = 0; round < sizeof delays_us / sizeof delays_us[0]; round++) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) setup_failed("ftruncate");
    for (int written = 0; written < BIG_FILE; written += (int)sizeof block) {
      if (write(fd, block, sizeof block) != (ssize_t)sizeof block) setup_failed("write");
    }
    struct truncation truncation = {fd, delays_us[round]};
    pthread_t thread;
    if (pthread_create(&thread, NULL, truncate_later, &truncation) != 0) setup_failed("pthread_create");
    clarifai_response *response = NULL;
    int code = clarifai_predict_file(client, "general-image-recognition", NULL, path, &response);
    pthread_join(thread, NULL);
    save_last_error();
    check(code == CLARIFAI_OK || (code == CLARIFAI_ERROR_INVALID_ARGUMENT && contains(last_error, path)),
          "truncated after %ld us: %s \"%.200s\" (expected CLARIFAI_OK, or INVALID_ARGUMENT naming the path)",
          delays_us[round], clarifai_error_name(code), last_error);
    clarifai_response_free(response);
  }
  clarifai_client_free(client);
  close(fd);
  unlink(path);
  rmdir(dir);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Huge timeouts: no practical limit, not an overflow
 * ------------------------------------------------------------------------------------------- */
static void check_huge_timeout(const char *kind, long timeout_ms) {
  clarifai_channel *channel = new_channel(kind);
  if (channel == NULL) setup_failed("channel");
  int code = clarifai_channel_set_timeout_ms(channel, timeout_ms);
  check(code == CLARIFAI_OK, "set_timeout_ms(%ld) -> %s", timeout_ms, clarifai_error_name(code));
  clarifai_client *client = clarifai_client_new(channel, NULL, NULL, NULL);
  clarifai_channel_free(channel);
  if (client == NULL) setup_failed("client");
  /* Calls spread over more than 2 s: whether a deadline computed as "now + timeout" overflows can
     depend on the clock's reading (a double near 2^63 has a step of 2048). */
  for (int call = 0; call < 6; call++) {
    if (call > 0) sleep_microseconds(400000);
    check(echo_once(client, kind, "huge-timeout"), "call %d with timeout %ld ms on %s answers normally", call, timeout_ms, kind);
  }
  clarifai_client_free(client);
}

static int timeout_long_max(const char *kind) {
  check_huge_timeout(kind, LONG_MAX);
  return 0;
}

static int timeout_long_max_minus_1(const char *kind) {
  check_huge_timeout(kind, LONG_MAX - 1);
  return 0;
}

static int timeout_100_years(const char *kind) {
  check_huge_timeout(kind, 1000L * 86400 * 365 * 100);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Sizes no buffer can have
 * ------------------------------------------------------------------------------------------- */
/* argument: "max" for SIZE_MAX, "2^62" for 1 << 62 (representable as a signed size, still absurd). */
static size_t absurd_size(const char *argument) {
  if (strcmp(argument, "max") == 0) return SIZE_MAX;
  if (strcmp(argument, "2^62") == 0) return (size_t)1 << 62;
  printf("unknown size '%s' (max or 2^62)\n", argument);
  exit(EXIT_SETUP);
}

/* A real text-echo response to read with absurd indexes. */
static clarifai_response *echo_response(clarifai_client *client) {
  clarifai_response *response = NULL;
  if (clarifai_predict_text(client, "text-echo", NULL, "hello", &response) != CLARIFAI_OK) setup_failed("predict_text");
  return response;
}

static int size_predict_count(const char *argument) {
  size_t count = absurd_size(argument);
  clarifai_client *client = new_client("rest", 3000);
  const clarifai_input input = {CLARIFAI_INPUT_TEXT, NULL, NULL, 0, "hello", NULL};
  clarifai_response *response = NULL;
  int code = clarifai_predict(client, "text-echo", NULL, &input, count, &response);
  check_error("predict(count = huge)", code, CLARIFAI_ERROR_INVALID_ARGUMENT, "count");
  check(response == NULL, "no response");
  clarifai_response_free(response);
  clarifai_client_free(client);
  return 0;
}

static int size_call_proto(const char *argument) {
  size_t len = absurd_size(argument);
  static const unsigned char request[16];
  clarifai_client *client = new_client("rest", 3000);
  clarifai_response *response = NULL;
  int code = clarifai_call_proto(client, "ListConcepts", request, len, &response);
  check_error("call_proto(len = huge)", code, CLARIFAI_ERROR_INVALID_ARGUMENT, "len");
  clarifai_response_free(response);
  clarifai_client_free(client);
  return 0;
}

static int size_predict_bytes(const char *argument) {
  size_t len = absurd_size(argument);
  static const unsigned char data[16];
  clarifai_client *client = new_client("rest", 3000);
  clarifai_response *response = NULL;
  int code = clarifai_predict_bytes(client, "general-image-recognition", NULL, data, len, &response);
  check_error("predict_bytes(len = huge)", code, CLARIFAI_ERROR_INVALID_ARGUMENT, "len");
  clarifai_response_free(response);
  clarifai_client_free(client);
  return 0;
}

static int size_proto_to_json(const char *argument) {
  size_t len = absurd_size(argument);
  static const unsigned char data[16];
  char *json = NULL;
  int code = clarifai_proto_to_json("clarifai.api.Concept", data, len, &json);
  check_error("proto_to_json(len = huge)", code, CLARIFAI_ERROR_INVALID_ARGUMENT, "len");
  check(json == NULL, "no JSON");
  clarifai_free(json);
  return 0;
}

static int size_response_concepts(const char *argument) {
  size_t output = absurd_size(argument);
  clarifai_client *client = new_client("rest", 3000);
  clarifai_response *response = echo_response(client);
  const clarifai_concept *concepts = NULL;
  size_t count = 0;
  int code = clarifai_response_concepts(response, output, &concepts, &count);
  check_error("response_concepts(output = huge)", code, CLARIFAI_ERROR_INVALID_ARGUMENT, "output");
  check(concepts == NULL && count == 0, "no concepts");
  clarifai_response_free(response);
  clarifai_client_free(client);
  return 0;
}

static int size_response_text(const char *argument) {
  size_t output = absurd_size(argument);
  clarifai_client *client = new_client("rest", 3000);
  clarifai_response *response = echo_response(client);
  check(clarifai_response_text(response, output) == NULL, "response_text(output = huge) is NULL");
  clarifai_response_free(response);
  clarifai_client_free(client);
  return 0;
}

static int size_method_name(const char *argument) {
  check(clarifai_method_name(absurd_size(argument)) == NULL, "method_name(huge) is NULL");
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Oversized strings: a clear error and a short message
 * ------------------------------------------------------------------------------------------- */
enum { HUGE_STRING = 9 << 20 };

/* `prefix` followed by 'a's, HUGE_STRING bytes in all. */
static char *huge_string(const char *prefix) {
  char *text = malloc(HUGE_STRING + 1);
  if (text == NULL) setup_failed("malloc");
  memset(text, 'a', HUGE_STRING);
  memcpy(text, prefix, strlen(prefix));
  text[HUGE_STRING] = '\0';
  return text;
}

/* INVALID_ARGUMENT, with a message under 4096 bytes that does not blame memory (libcurl's
   CURLE_OUT_OF_MEMORY is what it says of a URL over 8 MB). */
static void check_short_error(const char *what, int code) {
  int blames_memory = contains(clarifai_last_error(), "Out of memory");
  save_last_error();
  check(code == CLARIFAI_ERROR_INVALID_ARGUMENT && last_error_length > 0 && last_error_length < 4096 && !blames_memory,
        "%s -> %s, message (%zu bytes) \"%.200s\"; expected CLARIFAI_ERROR_INVALID_ARGUMENT with a message under 4096 "
        "bytes that does not blame memory", what, clarifai_error_name(code), last_error_length, last_error);
}

static int huge_url(const char *unused) {
  (void)unused;
  char *url = huge_string("https://example.com/");
  clarifai_client *client = new_client("rest", 10000);
  clarifai_response *response = NULL;
  int code = clarifai_predict_url(client, "general-image-recognition", NULL, url, &response);
  /* The image URL travels in the request body, where no limit applies: the call completes,
     or fails with a short message. */
  save_last_error();
  check(code == CLARIFAI_OK || (last_error_length < 4096 && !contains(last_error, "Out of memory")),
        "predict_url(9 MB url) -> %s, message (%zu bytes) \"%.200s\"", clarifai_error_name(code), last_error_length,
        last_error);
  clarifai_response_free(response);
  clarifai_client_free(client);
  free(url);
  return 0;
}

static int huge_model_id(const char *unused) {
  (void)unused;
  char *model = huge_string("");
  clarifai_client *client = new_client("rest", 10000);
  clarifai_response *response = NULL;
  int code = clarifai_predict_text(client, model, NULL, "hello", &response);
  check_short_error("predict_text(9 MB model_id)", code);
  clarifai_response_free(response);
  clarifai_client_free(client);
  free(model);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Setters and constructors given values out of their range
 * ------------------------------------------------------------------------------------------- */
static int bad_setters(const char *unused) {
  (void)unused;
  clarifai_channel *channel = new_channel("rest");
  if (channel == NULL) setup_failed("channel");
  check_error("set_max_retries(INT_MAX)", clarifai_channel_set_max_retries(channel, INT_MAX),
              CLARIFAI_ERROR_INVALID_ARGUMENT, "max_retries");
  check_error("set_max_retries(-1)", clarifai_channel_set_max_retries(channel, -1), CLARIFAI_ERROR_INVALID_ARGUMENT,
              "max_retries");
  check_error("set_timeout_ms(LONG_MIN)", clarifai_channel_set_timeout_ms(channel, LONG_MIN),
              CLARIFAI_ERROR_INVALID_ARGUMENT, "timeout_ms");
  clarifai_channel_free(channel);
  return 0;
}

/* A constructor given `argument` must return NULL with a message naming it. */
static void check_rejected(const char *function, const char *argument, clarifai_channel *channel) {
  save_last_error();
  check(channel == NULL && contains(last_error, argument), "%s(\"%s\") -> %s, \"%.200s\"", function, argument,
        channel == NULL ? "NULL" : "a channel", last_error);
  clarifai_channel_free(channel);
}

/* Ports must be plain decimal digits; a sign, hex or a space is a typo, not port 80. */
static int grpc_target(const char *unused) {
  (void)unused;
  static const char *const targets[] = {"127.0.0.1:+80", "host:0x50", "host: 80"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    check_rejected("clarifai_channel_new_grpc_insecure", targets[i], clarifai_channel_new_grpc_insecure(targets[i]));
    check_rejected("clarifai_channel_new_grpc", targets[i], clarifai_channel_new_grpc(targets[i]));
  }
  return 0;
}

/* Paths are appended to the base URL: after a query or a fragment they would not be paths. */
static int json_base_url(const char *unused) {
  (void)unused;
  static const char *const urls[] = {"http://127.0.0.1:1/x?y=1", "http://127.0.0.1:1/#frag"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    check_rejected("clarifai_channel_new_json", urls[i], clarifai_channel_new_json(urls[i]));
  }
  return 0;
}

/* The CA file must be a PEM file of certificates: a directory or any readable file is not. */
static int ca_file(const char *unused) {
  (void)unused;
  char dir[PATH_MAX], path[PATH_MAX + 16];
  make_temp_dir(dir);
  snprintf(path, sizeof path, "%s/not-a-cert.pem", dir);
  FILE *file = fopen(path, "w");
  if (file == NULL) setup_failed("fopen");
  fputs("this is not a certificate\n", file);
  fclose(file);
  clarifai_channel *channel = new_channel("grpcs");
  if (channel == NULL) setup_failed("channel");
  check_error("set_ca_file(\"/tmp\")", clarifai_channel_set_ca_file(channel, "/tmp"), CLARIFAI_ERROR_INVALID_ARGUMENT,
              "/tmp");
  check_error("set_ca_file(text file)", clarifai_channel_set_ca_file(channel, path), CLARIFAI_ERROR_INVALID_ARGUMENT,
              path);
  clarifai_channel_free(channel);
  unlink(path);
  rmdir(dir);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Scenarios
 * ------------------------------------------------------------------------------------------- */
struct scenario {
  const char *name;
  int (*run)(const char *argument);
  const char *argument; /* what argv[2] is; NULL when none */
  unsigned watchdog_seconds;
};

static const struct scenario scenarios[] = {
    {"fork", fork_warm, "rest|grpc|grpcs", 2 * FORK_SECONDS},
    {"fork-cold", fork_cold, "rest|grpc|grpcs", 2 * FORK_SECONDS},
    {"fork-free", fork_free, "rest|grpc|grpcs", 2 * FORK_SECONDS},
    {"fork-queue", fork_queue, "rest|grpc|grpcs", 2 * FORK_SECONDS},
    {"truncated-file", truncated_file, NULL, 300},
    {"fifo", fifo, NULL, 10},
    {"directory", directory, NULL, 10},
    {"dev-zero", dev_zero, NULL, 10},
    {"timeout-long-max", timeout_long_max, "rest|grpc|grpcs", 30},
    {"timeout-long-max-minus-1", timeout_long_max_minus_1, "rest|grpc|grpcs", 30},
    {"timeout-100-years", timeout_100_years, "rest|grpc|grpcs", 30},
    {"size-predict-count", size_predict_count, "max|2^62", 30},
    {"size-call-proto", size_call_proto, "max|2^62", 30},
    {"size-predict-bytes", size_predict_bytes, "max|2^62", 30},
    {"size-proto-to-json", size_proto_to_json, "max|2^62", 30},
    {"size-response-concepts", size_response_concepts, "max|2^62", 30},
    {"size-response-text", size_response_text, "max|2^62", 30},
    {"size-method-name", size_method_name, "max|2^62", 30},
    {"huge-url", huge_url, NULL, 60},
    {"huge-model-id", huge_model_id, NULL, 60},
    {"bad-setters", bad_setters, NULL, 10},
    {"grpc-target", grpc_target, NULL, 10},
    {"json-base-url", json_base_url, NULL, 10},
    {"ca-file", ca_file, NULL, 10},
};

static int usage(void) {
  printf("usage: hostile <scenario> [<argument>]\n");
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    printf("  %s%s%s\n", scenarios[i].name, scenarios[i].argument ? " " : "", scenarios[i].argument ? scenarios[i].argument : "");
  }
  return EXIT_SETUP;
}

int main(int argc, char **argv) {
  /* Line by line: what a scenario printed survives a crash, and a fork copies no pending output. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return usage();
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    const struct scenario *scenario = &scenarios[i];
    if (strcmp(argv[1], scenario->name) != 0) continue;
    if (argc != (scenario->argument ? 3 : 2)) return usage();
    if (!getenv("CLARIFAI_API_BASE") || !getenv("CLARIFAI_PAT")) {
      printf("set CLARIFAI_API_BASE, CLARIFAI_GRPC_BASE, CLARIFAI_GRPCS_BASE and CLARIFAI_PAT (the local test server)\n");
      return EXIT_SETUP;
    }
    start_watchdog(argv[1], scenario->watchdog_seconds);
    int setup = scenario->run(argc == 3 ? argv[2] : NULL);
    if (setup != 0) return setup;
    printf("%s: %s\n", argv[1], failures == 0 ? "correct" : "WRONG");
    return failures == 0 ? EXIT_SUCCESS : EXIT_WRONG;
  }
  return usage();
}
