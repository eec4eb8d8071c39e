/* keepalive: opens a stream to the fault server's gRPC front (CLARIFAI_GRPC_BASE) that the server
 * never answers (it waits for the request's end, which never comes), with a keepalive of 300 ms,
 * and holds it open for 2.5 s: the server counts the HTTP/2 PINGs that kept the connection alive
 * (GET /_faults/pings). Run by Tests/Trixie/run.sh: libcurl 8.10 and later send them. */
#define _POSIX_C_SOURCE 200809L
#include <clarifai.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  clarifai_channel *channel = clarifai_channel_new_grpc_insecure(NULL);
  if (!channel || clarifai_channel_set_keepalive_ms(channel, 300) != CLARIFAI_OK) {
    fprintf(stderr, "setup: %s\n", clarifai_last_error());
    return 2;
  }
  clarifai_client *client = clarifai_client_new(channel, NULL, "test-user", "main");
  clarifai_channel_free(channel);
  clarifai_stream *stream = NULL;
  int code = clarifai_stream_open(client, "StreamModelOutputs", &stream);
  if (code == CLARIFAI_OK)
    code = clarifai_stream_send(stream, "{\"model_id\": \"fault.hang.all.keepalive\", \"inputs\": [{\"data\": {\"text\": {\"raw\": \"x\"}}}]}");
  struct timespec pause = {2, 500 * 1000 * 1000};
  nanosleep(&pause, NULL);
  clarifai_stream_free(stream);
  clarifai_client_free(client);
  printf("stream held open: %s %s\n", clarifai_error_name(code), clarifai_last_error());
  return code == CLARIFAI_OK ? 0 : 1;
}
