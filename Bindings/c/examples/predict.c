/* predict: prints the concepts a Clarifai model sees in an image (URL or file) or a text.
 *
 *   predict MODEL_ID https://samples.clarifai.com/metro-north.jpg
 *   predict MODEL_ID ./photo.jpg
 *   predict --text MODEL_ID "some text"
 *
 * Token from $CLARIFAI_PAT, server from $CLARIFAI_API_BASE (default https://api.clarifai.com),
 * the model's owner from $CLARIFAI_USER_ID and $CLARIFAI_APP_ID (default clarifai/main, where
 * Clarifai's public models live). */
#include <clarifai.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int text_mode = argc > 1 && strcmp(argv[1], "--text") == 0;
  if (argc != 3 + text_mode) {
    fprintf(stderr, "usage: %s [--text] MODEL_ID URL|FILE|TEXT\n", argv[0]);
    return 2;
  }
  const char *model_id = argv[1 + text_mode], *what = argv[2 + text_mode];
  const char *user_id = getenv("CLARIFAI_USER_ID") ? getenv("CLARIFAI_USER_ID") : "clarifai";
  const char *app_id = getenv("CLARIFAI_APP_ID") ? getenv("CLARIFAI_APP_ID") : "main";

  clarifai_channel *channel = clarifai_channel_new_json(NULL);
  clarifai_client *client = channel ? clarifai_client_new(channel, NULL, user_id, app_id) : NULL;
  clarifai_channel_free(channel); /* the client keeps it alive */
  if (!client) {
    fprintf(stderr, "setup failed: %s\n", clarifai_last_error());
    return 1;
  }

  clarifai_response *response = NULL;
  int rc;
  if (text_mode)
    rc = clarifai_predict_text(client, model_id, NULL, what, &response);
  else if (strstr(what, "://"))
    rc = clarifai_predict_url(client, model_id, NULL, what, &response);
  else
    rc = clarifai_predict_file(client, model_id, NULL, what, &response);

  if (rc != CLARIFAI_OK) {
    fprintf(stderr, "%s: %s\n", clarifai_error_name(rc), clarifai_last_error());
    /* A Clarifai status other than SUCCESS: the output's own status says more (any field of
       the response can be read by its path). */
    if (rc == CLARIFAI_ERROR_API && clarifai_response_count(response, "outputs") > 0)
      fprintf(stderr, "output status: %s\n", clarifai_response_string(response, "outputs[0].status.description"));
  } else {
    const clarifai_concept *concepts;
    size_t count;
    if (clarifai_response_concepts(response, 0, &concepts, &count) == CLARIFAI_OK) {
      for (size_t i = 0; i < count; i++) printf("%-20s %.4f\n", concepts[i].name, concepts[i].value);
    }
    const char *text = clarifai_response_text(response, 0);
    if (text) printf("%s\n", text);
  }
  clarifai_response_free(response);
  clarifai_client_free(client);
  return rc == CLARIFAI_OK ? 0 : 1;
}
