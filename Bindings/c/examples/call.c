/* call: calls any method of the Clarifai API on the REST channel and prints the response JSON.
 *
 *   call ListConcepts '{"per_page": 5}'
 *   call GetModel '{"model_id": "general-image-recognition"}'
 *   echo '{"ids": ["a", "b"]}' | call DeleteInputs -     # request JSON from stdin
 *   call ListModels                                       # empty request
 *
 * METHOD is a method name of the service clarifai.api.V2 as in the official API (`call --list`
 * prints all of them); JSON is the method's request message in proto3 JSON.
 * Server from $CLARIFAI_API_BASE (default https://api.clarifai.com), token from $CLARIFAI_PAT,
 * user and app from $CLARIFAI_USER_ID and $CLARIFAI_APP_ID (both optional).
 *
 * Exit status: 0 on success; otherwise the CLARIFAI_ERROR_* code: 1 INVALID_ARGUMENT (unknown
 * method, bad JSON, no token), 2 TRANSPORT, 3 TIMEOUT, 4 PROTOCOL, 5 API (the call completed with a
 * Clarifai status other than SUCCESS: the response JSON is still printed), 8 INTERNAL; 64 for bad
 * usage. The error message goes to stderr. */
#include <clarifai.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* All of stdin as a NUL-terminated string, to free(); NULL on a read error. */
static char *read_stdin(void) {
  size_t len = 0, size = 4096;
  char *buffer = malloc(size);
  while (buffer) {
    len += fread(buffer + len, 1, size - len - 1, stdin);
    if (ferror(stdin)) break;
    if (feof(stdin)) {
      buffer[len] = '\0';
      return buffer;
    }
    if (size - len - 1 == 0) {
      char *bigger = realloc(buffer, size * 2);
      if (!bigger) break;
      buffer = bigger;
      size *= 2;
    }
  }
  free(buffer);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < clarifai_method_count(); i++) printf("%s\n", clarifai_method_name(i));
    return 0;
  }
  if (argc < 2 || argc > 3 || argv[1][0] == '-') {
    fprintf(stderr, "usage: %s METHOD [JSON|-]\n       %s --list\n", argv[0], argv[0]);
    return 64;
  }
  const char *method = argv[1];
  char *from_stdin = NULL;
  const char *request = argc == 3 ? argv[2] : NULL; /* NULL: an empty request */
  if (request && strcmp(request, "-") == 0) {
    request = from_stdin = read_stdin();
    if (!request) {
      fprintf(stderr, "cannot read the request from stdin\n");
      return 64;
    }
  }

  clarifai_channel *channel = clarifai_channel_new_json(NULL);
  clarifai_client *client =
      channel ? clarifai_client_new(channel, NULL, getenv("CLARIFAI_USER_ID"), getenv("CLARIFAI_APP_ID")) : NULL;
  clarifai_channel_free(channel); /* the client keeps it alive */
  if (!client) {
    fprintf(stderr, "setup failed: %s\n", clarifai_last_error());
    free(from_stdin);
    return CLARIFAI_ERROR_INVALID_ARGUMENT;
  }

  clarifai_response *response = NULL;
  int rc = clarifai_call(client, method, request, &response);
  if (response) printf("%s\n", clarifai_response_json(response)); /* CLARIFAI_OK or CLARIFAI_ERROR_API */
  if (rc == CLARIFAI_ERROR_API) {
    fprintf(stderr, "%s: status %d %s %s (request id %s)\n", clarifai_error_name(rc),
            clarifai_response_status_code(response), clarifai_response_status_description(response),
            clarifai_response_status_details(response), clarifai_response_request_id(response));
  } else if (rc != CLARIFAI_OK) {
    fprintf(stderr, "%s: %s\n", clarifai_error_name(rc), clarifai_last_error());
  }
  clarifai_response_free(response);
  clarifai_client_free(client);
  free(from_stdin);
  return rc;
}
