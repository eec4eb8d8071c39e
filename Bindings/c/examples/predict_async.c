/* predict_async: runs a model on many image URLs read from stdin (one per line), with up to
 * 64 predictions in flight from this one thread, driven by poll() on the completion queue's
 * descriptor as any event loop would. Prints "URL<TAB>top concept<TAB>value" per line, in the
 * order the answers come, or "URL<TAB>error<TAB>message".
 *
 *   printf '%s\n' https://samples.clarifai.com/metro-north.jpg ... | predict_async MODEL_ID
 *
 * Token from $CLARIFAI_PAT, server from $CLARIFAI_API_BASE (default https://api.clarifai.com),
 * the model's owner from $CLARIFAI_USER_ID and $CLARIFAI_APP_ID (default clarifai/main). */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN_FLIGHT = 64 };

/* Prints one completed prediction; `url` is its tag. */
static void report(char *url, int code, clarifai_response *response) {
  const clarifai_concept *concepts;
  size_t count = 0;
  if (code == CLARIFAI_OK && clarifai_response_concepts(response, 0, &concepts, &count) == CLARIFAI_OK && count > 0)
    printf("%s\t%s\t%.4f\n", url, concepts[0].name, concepts[0].value);
  else if (code == CLARIFAI_OK)
    printf("%s\t(no concepts)\t0\n", url);
  else
    printf("%s\terror\t%s: %s\n", url, clarifai_error_name(code), clarifai_last_error());
  clarifai_response_free(response);
  free(url);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_ID < urls.txt\n", argv[0]);
    return 2;
  }
  const char *user_id = getenv("CLARIFAI_USER_ID") ? getenv("CLARIFAI_USER_ID") : "clarifai";
  const char *app_id = getenv("CLARIFAI_APP_ID") ? getenv("CLARIFAI_APP_ID") : "main";
  clarifai_channel *channel = clarifai_channel_new_json(NULL);
  clarifai_client *client = channel ? clarifai_client_new(channel, NULL, user_id, app_id) : NULL;
  clarifai_channel_free(channel); /* the client keeps it alive */
  clarifai_queue *queue = clarifai_queue_new();
  if (!client || !queue) {
    fprintf(stderr, "setup failed: %s\n", clarifai_last_error());
    return 1;
  }

  struct pollfd completions = {.fd = clarifai_queue_fd(queue), .events = POLLIN};
  size_t running = 0, failed = 0;
  int more = 1;
  char *line = NULL;
  size_t capacity = 0;
  while (more || running > 0) {
    /* Start predictions while there is room and input. */
    while (more && running < IN_FLIGHT) {
      ssize_t length = getline(&line, &capacity, stdin);
      if (length < 0) {
        more = 0;
        break;
      }
      line[strcspn(line, "\r\n")] = '\0';
      if (line[0] == '\0') continue;
      char *url = strdup(line); /* the tag: freed when its completion is reported */
      clarifai_input input = {.kind = CLARIFAI_INPUT_IMAGE, .url = url};
      if (clarifai_predict_async(client, argv[1], NULL, &input, 1, queue, url) != CLARIFAI_OK) {
        report(url, clarifai_last_error_code(), NULL);
        failed++;
        continue;
      }
      running++;
    }
    if (running == 0) continue;
    /* Wait for completions (an event loop would watch other descriptors too), then take all. */
    if (poll(&completions, 1, -1) < 0) break;
    void *tag;
    int code;
    clarifai_response *response;
    while (clarifai_queue_next(queue, 0, &tag, &code, &response) == CLARIFAI_OK) {
      running--;
      failed += code != CLARIFAI_OK;
      report(tag, code, response);
    }
  }
  free(line);
  clarifai_queue_free(queue);
  clarifai_client_free(client);
  return failed == 0 ? 0 : 1;
}
