/*
 * clarifai.h: the C API of libclarifai, a client for the Clarifai API (service clarifai.api.V2).
 *
 * Link with -lclarifai. Plain C99; usable from C++ (extern "C") and from Python via ctypes.
 *
 * Conventions
 *  - Functions that can fail return int: CLARIFAI_OK (0) or a CLARIFAI_ERROR_* code.
 *    Constructors return NULL on failure. After a failure, clarifai_last_error() gives a message
 *    for the calling thread that names what was wrong (field, method, URL, HTTP status).
 *    Functions that return int or a handle reset that message to "" when they succeed; getters
 *    that cannot fail leave it alone.
 *  - Strings passed in are UTF-8 and borrowed for the duration of the call only.
 *  - Strings and buffers handed out by a handle stay valid until that handle is freed.
 *  - Every *_free function accepts NULL.
 *  - clarifai_channel and clarifai_client are thread-safe: many threads may call through one
 *    client at once. A clarifai_response belongs to one thread at a time.
 *  - A client keeps its channel alive: freeing the channel before the client is safe. Freeing
 *    a client (or a response) while another thread is still using it is not allowed: free it
 *    after the last call through it has returned.
 *  - Each handle carries a tag of its kind, checked on entry: a handle of another kind (a
 *    client passed where a response is expected) is INVALID_ARGUMENT ("... is not a
 *    clarifai_response"), and so is a freed one while its memory has not been reused; getters
 *    that cannot fail return 0 or NULL then and set the last error; *_free ignores it. (Since
 *    1.1; before, such a mistake was undefined behaviour.)
 *  - A stream callback may call into the library, on any client, the stream's own included
 *    (it runs on the calling thread, outside any lock); it must not free the stream's client.
 *  - The library writes nothing to stdout or stderr unless CLARIFAI_LOG=debug is set (then one
 *    line per attempt and retry on stderr: method, URL, status, timing), and never puts the
 *    token, headers or bodies into a message or a log line. Whatever reaches a message (an
 *    error page that echoes the request's headers, a URL) has every live client's token and a
 *    base URL's user:password replaced by "***" (tokens of 6 characters or more), and a message
 *    quotes at most 2,000 bytes.
 *  - fork(): a child process may go on using the channels and clients it inherited. Its first
 *    call starts afresh: new connections, a new I/O thread; the parent's connections stay the
 *    parent's (the child closes its copies of their sockets without shutting them down). This
 *    holds for the library's own threads; as POSIX says, no other thread of the parent should
 *    be inside a library call at the moment of fork(). A stream open at the moment of fork()
 *    stays the parent's: the child must leave it alone (not even free it).
 *
 * Environment variables
 *  - CLARIFAI_PAT       token used when clarifai_client_new gets pat == NULL.
 *  - CLARIFAI_SESSION_TOKEN  token used when clarifai_client_new_session gets NULL.
 *  - CLARIFAI_USER_ID, CLARIFAI_APP_ID  ids used when a client constructor gets user_id or
 *                       app_id == NULL (since 1.1).
 *  - CLARIFAI_API_BASE  base URL used when clarifai_channel_new_json gets base_url == NULL.
 *  - CLARIFAI_GRPC_BASE target used when clarifai_channel_new_grpc[_insecure] gets target == NULL.
 *  - CLARIFAI_ROOT_CERTIFICATES_PATH  CA certificates (PEM) for TLS gRPC channels without
 *                       clarifai_channel_set_ca_file (read when the channel is made).
 *  - Proxies as libcurl reads them: https_proxy / HTTPS_PROXY for https:// URLs (REST over
 *    TLS and TLS gRPC), http_proxy (lower case only: libcurl ignores HTTP_PROXY) for http://
 *    URLs (cleartext REST, and cleartext gRPC, which goes through the proxy in a CONNECT
 *    tunnel), ALL_PROXY, NO_PROXY.
 */
#ifndef CLARIFAI_H
#define CLARIFAI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library version (also clarifai_version()); the SONAME is libclarifai.so.1: every 1.x
   library runs programs built against an older 1.x header. Functions added after 1.0 say
   "since 1.1" (and so on); check clarifai_version_number() before calling them where the
   library loaded may be older than the header. */
#define CLARIFAI_VERSION_MAJOR 1
#define CLARIFAI_VERSION_MINOR 1
#define CLARIFAI_VERSION_PATCH 0
#define CLARIFAI_VERSION_STRING "1.1.0"
/* MAJOR*10000 + MINOR*100 + PATCH, for #if. */
#define CLARIFAI_VERSION_NUMBER 10100

/* ---------------------------------------------------------------------------------------------
 * Errors
 * Codes are only ever added, never renumbered or removed: treat a code you do not know as a
 * failure (clarifai_error_name names it).
 *
 * Each code says what the caller does next. A failed call's HTTP and gRPC statuses, and whether
 * the retry policy counts it as transient, are there too (clarifai_last_error_*).
 *
 *  code              what happened                               next            gRPC status (*)            HTTP status (**)
 *  INVALID_ARGUMENT  the request or its arguments are wrong      fix them        INVALID_ARGUMENT, NOT_FOUND, 3xx, 4xx (but
 *                    (found locally, or said by the server)                      ALREADY_EXISTS,            401, 403, 408,
 *                                                                                FAILED_PRECONDITION,       429)
 *                                                                                OUT_OF_RANGE
 *  AUTH              the credentials were refused                fix the token   UNAUTHENTICATED,           401, 403
 *                                                                                PERMISSION_DENIED
 *  TRANSPORT         no answer (DNS, connect, TLS, reset), or    try again       UNAVAILABLE,               429, 5xx (but
 *                    the server could not take the call now      later (***)     RESOURCE_EXHAUSTED,        501)
 *                                                                                ABORTED, CANCELLED
 *  TIMEOUT           the deadline or the idle limit passed       longer limit    DEADLINE_EXCEEDED          408
 *  PROTOCOL          the server failed, or its answer is not a   report it       UNKNOWN, INTERNAL,         2xx that is
 *                    valid reply (or is over the receive limit)                  DATA_LOSS, others          not a reply
 *  API               the call completed with a Clarifai status   read *out's     (OK, with a status         (any, with a
 *                    other than SUCCESS (10000); *out is set     status          in the message)            Clarifai body)
 *  UNSUPPORTED       the channel or the server cannot carry      another channel UNIMPLEMENTED              501
 *                    the method (a stream on REST)               or server
 *  CANCELLED         the caller stopped the call (a stream callback's non-zero return)
 *  INTERNAL          a bug of the library: please report it
 *  (*) the grpc-status of a gRPC answer;  (**) of an answer without a Clarifai or gRPC status (a
 *  proxy's or a gateway's page);  (***) clarifai_last_error_transient() is 1 when the retry
 *  policy of clarifai_channel_set_max_retries retries the failure.
 * ------------------------------------------------------------------------------------------- */
enum {
  CLARIFAI_OK = 0,
  CLARIFAI_ERROR_INVALID_ARGUMENT = 1, /* NULL where not allowed, bad JSON, unknown method/field/type; a request the server refused */
  CLARIFAI_ERROR_TRANSPORT = 2,        /* DNS, connect, TLS, reset, server unavailable or throttling */
  CLARIFAI_ERROR_TIMEOUT = 3,          /* the call's deadline (or idle limit) passed */
  CLARIFAI_ERROR_PROTOCOL = 4,         /* the server failed, or answered something that is not a valid reply */
  CLARIFAI_ERROR_API = 5,              /* the call completed; Clarifai status is not SUCCESS (10000).
                                          *out is set: read its status and body */
  CLARIFAI_ERROR_UNSUPPORTED = 6,      /* e.g. streaming on the JSON channel */
  CLARIFAI_ERROR_CANCELLED = 7,        /* a stream callback asked to stop */
  CLARIFAI_ERROR_INTERNAL = 8,
  CLARIFAI_ERROR_AUTH = 9              /* the credentials were refused (since 1.1; TRANSPORT before) */
};

/* The constant's name for an error code, e.g. "CLARIFAI_ERROR_TIMEOUT"; "CLARIFAI_ERROR_UNKNOWN"
   for a code not listed above. Static storage. */
const char *clarifai_error_name(int code);

/* The message of the calling thread's last failed call, or "" when its last call succeeded.
   Valid until the thread's next call into the library. */
const char *clarifai_last_error(void);

/* The code of the calling thread's last failure, also after a constructor returned NULL;
   CLARIFAI_OK after a success. Since 1.1. */
int clarifai_last_error_code(void);
/* The HTTP status of the answer behind the last failure (e.g. 502 from a gateway, 401 with a
   Clarifai body); 0 when no answer arrived or the failure was found locally. Since 1.1. */
int clarifai_last_error_http_status(void);
/* The gRPC status of the answer behind the last failure (e.g. 14 UNAVAILABLE; 0 when a gRPC call
   completed with a Clarifai status other than SUCCESS); -1 for REST and when no gRPC status
   arrived. Since 1.1. */
int clarifai_last_error_grpc_status(void);
/* 1 when the last failure is of a kind the retry policy retries (see
   clarifai_channel_set_max_retries): trying again later may succeed. 0 otherwise. Since 1.1. */
int clarifai_last_error_transient(void);
/* The server's metadata on the answer behind the last failure, as clarifai_response_metadata
   gives it for a response: the count, then field `index` (strings valid until this thread's
   next failure; NULL pointers are skipped). 0 fields when no answer arrived. Reading them leaves
   the last error as it is; past the end *name and *value are NULL and the result is
   INVALID_ARGUMENT. Since 1.1. */
size_t clarifai_last_error_metadata_count(void);
int clarifai_last_error_metadata(size_t index, const char **name, const char **value, int *trailing);

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */
/* The library version, "1.1.0". Static storage. */
const char *clarifai_version(void);
/* The version of the library actually loaded as MAJOR*10000 + MINOR*100 + PATCH (10100 for
   1.1.0), to compare with CLARIFAI_VERSION_NUMBER. Since 1.1. */
unsigned clarifai_version_number(void);
/* The version of the official API definition built in: the clarifai-grpc release its
   descriptors were taken from, e.g. "12.6.0". Static storage. */
const char *clarifai_api_version(void);

/* ---------------------------------------------------------------------------------------------
 * Channels: where and how requests travel
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_channel clarifai_channel;

/* REST: HTTPS + JSON, like the official JSON channel. base_url is "http[s]://host[:port]" with an
   optional path prefix; NULL means $CLARIFAI_API_BASE, else https://api.clarifai.com. Returns
   NULL (INVALID_ARGUMENT) for a URL without http:// or https://, with a query or fragment ('?',
   '#'), or ending in "/v2" (the library adds /v2/... itself).
   TLS certificates are always verified, against the system CA store by default. */
clarifai_channel *clarifai_channel_new_json(const char *base_url);

/* gRPC over TLS (HTTP/2, ALPN h2), like the official ClarifaiChannel.get_grpc_channel(). target is
   "host[:port]" or "[ipv6][:port]"; port 443 when absent. NULL means $CLARIFAI_GRPC_BASE, else
   api.clarifai.com. A target with a URL scheme (http://, https://) is INVALID_ARGUMENT.
   Certificates are verified against the system store, clarifai_channel_set_ca_file's file, or
   $CLARIFAI_ROOT_CERTIFICATES_PATH when set. Messages of up to 1 GiB are accepted
   (clarifai_channel_set_max_receive_bytes); answers compressed with gzip (grpc-encoding) are
   decoded. */
clarifai_channel *clarifai_channel_new_grpc(const char *target);

/* gRPC over cleartext HTTP/2 (h2c with prior knowledge), for local servers and proxies.
   NULL target means $CLARIFAI_GRPC_BASE (INVALID_ARGUMENT when unset); port 18080 when absent.
   Connections are reused and concurrent calls multiplexed over them, as on TLS channels. With
   libcurl older than 8.0, which breaks an h2c connection that a request with prior knowledge
   reuses (curl bug #10634), one call opens each connection with prior knowledge and the next ones
   ask for HTTP/2 without it and may only take an open connection (a call that finds none opens
   one, nothing sent twice; at a server's limit of streams per connection, that is about one
   connection per call past the limit, where TLS channels open fewer); before 1.1 every call
   opened a connection of its own there. */
clarifai_channel *clarifai_channel_new_grpc_insecure(const char *target);

/* Per-call deadline in milliseconds, covering connect, send, receive and retries; 0 means none
   (the default; connecting alone is still bounded by 10 s, and unary calls by the idle limit
   below). A call past it fails with CLARIFAI_ERROR_TIMEOUT. On gRPC channels it is also sent as
   grpc-timeout. Negative values are INVALID_ARGUMENT; values above 99,999,999,000 (about 3
   years, the most grpc-timeout can carry; LONG_MAX among them) are taken as that. Applies to
   calls started after it returns. */
int clarifai_channel_set_timeout_ms(clarifai_channel *channel, long timeout_ms);

/* The idle limit of unary calls, deadline or not: a call fails with CLARIFAI_ERROR_TIMEOUT
   ("idle for N ms") when for idle_ms its transfer moves fewer than 16 bytes a second either way
   (a server that accepted the connection and went silent, or trickles). Default 120000 (2
   minutes); 0 turns it off; checked once a second, so it is rounded up to whole seconds.
   Streams have no idle limit: they may rightly be quiet for long (clarifai_channel_set_keepalive_ms
   keeps their connection known to NATs and load balancers). Negative values are
   INVALID_ARGUMENT; large ones are taken as in clarifai_channel_set_timeout_ms. Since 1.1. */
int clarifai_channel_set_idle_timeout_ms(clarifai_channel *channel, long idle_ms);

/* How often the connection of an open stream is kept alive, so that a NAT or a load balancer
   does not silently drop a quiet stream (a runner waiting for work): an HTTP/2 PING every
   interval_ms with libcurl 8.10 or later (checked about once a second), and TCP keepalive probes
   after interval_ms of silence (whole seconds) with any libcurl (libcurl before 8.10 sends no
   PING on its own). Default 30000; 0 turns the PINGs off (TCP probes then after a minute).
   Negative values are INVALID_ARGUMENT. Since 1.1. */
int clarifai_channel_set_keepalive_ms(clarifai_channel *channel, long interval_ms);

/* The largest answer a call accepts, in bytes: a REST answer's body once decoded (the channel
   offers gzip only), or one gRPC message once decompressed. Checked while the answer arrives
   and is decoded, so that a small compressed answer cannot make the library hold more (a
   "decompression bomb"). Default 1 GiB, as the official clients; past it a call fails with
   CLARIFAI_ERROR_PROTOCOL naming the limit. 0 is INVALID_ARGUMENT. Since 1.1. */
int clarifai_channel_set_max_receive_bytes(clarifai_channel *channel, size_t max_bytes);

/* How many times a call is tried again after a failure that cannot have been carried out, or
   that is harmless to repeat (default 4; 0 to 100): no connection, an HTTP 502 or 503 without a
   Clarifai body, an HTTP 504 for methods the REST API binds to GET only (a gateway's timeout may
   come after the server carried out a write such as PostInputs: writes are not sent twice), gRPC
   UNAVAILABLE, and the Clarifai statuses CONN_THROTTLED, CONN_EXCEED_HOURLY_LIMIT,
   MODEL_DEPLOYING, MODEL_LOADING, MODEL_BUSY_PLEASE_RETRY and TRY_AGAIN. Pauses grow from 10 ms (doubling, with jitter, at most
   2 s) and never go past the call's deadline, which covers all attempts. A stream is never
   retried once a message arrived. The last attempt's result is the call's. */
int clarifai_channel_set_max_retries(clarifai_channel *channel, int retries);

/* gRPC channels: how many HTTP/2 connections the concurrent calls of all threads (blocking,
   asynchronous, streams) are spread over, taken in turn. A connection's TLS and HTTP/2 work is
   done by one thread at a time (the calling threads take turns driving it), so one connection
   serves about one core's worth of calls. By default (not set) a channel opens connections as its
   callers need them: a call goes to a connection with no call in progress, and a blocking call
   that finds every connection busy opens another, up to 8 (asynchronous calls and streams take
   the least busy one instead); one thread calling one call after another keeps one connection
   (make bench: 8 threads over TLS on 2 cores, 1.4x the calls/s of one connection: see
   RESULTS.md, "Thread scaling"). Setting it fixes the number: 1 puts every call on one
   connection, as 1.0 did. 1 to 64, else INVALID_ARGUMENT. REST channels take it and go on opening
   a connection per concurrent call. Applies to calls started after it returns. Since 1.1. */
int clarifai_channel_set_connections(clarifai_channel *channel, int count);

/* Trust the CA certificates in this PEM file instead of the system store (e.g. for a proxy or a
   private deployment). A path that is not a readable regular file holding a PEM certificate
   (-----BEGIN CERTIFICATE-----) is INVALID_ARGUMENT. */
int clarifai_channel_set_ca_file(clarifai_channel *channel, const char *pem_path);

/* Drops the caller's reference; the channel lives on while clients hold it. Its connections
   close, and a TLS gRPC channel's I/O threads (one per HTTP/2 connection, started with it: see
   clarifai_channel_set_connections) end, when the last reference goes. */
void clarifai_channel_free(clarifai_channel *channel);

/* ---------------------------------------------------------------------------------------------
 * Clients: who is calling
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_client clarifai_client;

/* pat: a Personal Access Token or an app-specific API key, sent as "authorization: Key <pat>";
   NULL means $CLARIFAI_PAT. NULL is returned (INVALID_ARGUMENT) when there is no token or it holds
   control characters. user_id/app_id fill `user_app_id` in every request whose message has that
   field: the whole of it when the request does not carry one, else the ids it leaves out. NULL
   means $CLARIFAI_USER_ID / $CLARIFAI_APP_ID, as the official SDK reads them (since 1.1); ""
   means none (app-specific API keys need none).
   The client holds a reference to the channel. */
clarifai_client *clarifai_client_new(clarifai_channel *channel, const char *pat,
                                     const char *user_id, const char *app_id);

/* A client authenticated by a session token, sent as "x-clarifai-session-token: <token>" as the
   official SDK sends it (no authorization header); NULL means $CLARIFAI_SESSION_TOKEN. Otherwise
   as clarifai_client_new. Since 1.1. */
clarifai_client *clarifai_client_new_session(clarifai_channel *channel, const char *session_token,
                                             const char *user_id, const char *app_id);

/* A client whose calls carry "authorization: <authorization>" exactly as given: a scheme and its
   credentials ("Bearer <token>", "Key <pat>"); NULL sends no credential at all, and the server
   answers such calls as it answers any (the API: CONN_KEY_NOT_FOUND, 11009, where one is needed).
   The credential never comes from the environment; the ids do, as in clarifai_client_new.
   INVALID_ARGUMENT for "" or a value with control characters. For programs that pass on a
   caller's credential as it is (libclarifai's drop-in gRPC stub). Since 1.1. */
clarifai_client *clarifai_client_new_authorization(clarifai_channel *channel, const char *authorization,
                                                   const char *user_id, const char *app_id);

/* A new client on the same channel with the same credential, ids and settings (below); its
   settings then change on their own. Clients are cheap: make one per set of settings rather
   than a channel per setting (a channel holds connections and, on TLS gRPC, a thread). NULL
   (INVALID_ARGUMENT) for a NULL or freed client. Since 1.1. */
clarifai_client *clarifai_client_dup(const clarifai_client *client);

/* The deadline of this client's calls, overriding the channel's (as clarifai_channel_set_timeout_ms:
   0 none, huge values capped); -1: the channel's again. Other negative values are
   INVALID_ARGUMENT. Since 1.1. */
int clarifai_client_set_timeout_ms(clarifai_client *client, long timeout_ms);

/* The retry budget of this client's calls, overriding the channel's (0 to 100); -1: the
   channel's again. Since 1.1. */
int clarifai_client_set_max_retries(clarifai_client *client, int retries);

/* Sends "name: value" with every call of this client (gRPC metadata, or an HTTP header on REST),
   e.g. x-clarifai-request-id-prefix (which then replaces the library's own). value NULL removes
   it; setting a name again replaces its value. INVALID_ARGUMENT for a name that is not an HTTP
   field name, for the credential's headers (authorization, x-clarifai-session-token: use the
   constructors), for headers of the transport (content-type, te, host, grpc-*, ...), and for a
   value with control characters. Names are case-insensitive and sent in lower case. Since 1.1. */
int clarifai_client_set_header(clarifai_client *client, const char *name, const char *value);

void clarifai_client_free(clarifai_client *client);

/* ---------------------------------------------------------------------------------------------
 * Calls: any of the V2 service's methods
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_response clarifai_response;

/* Calls `method`, the V2 method name as in the official API ("PostModelOutputs", "ListConcepts").
   request_json: proto3 JSON of the method's request message (snake_case or lowerCamel names, enum
   names or numbers); NULL or "" means an empty request. On the REST channel the request is sent
   to the method's google.api.http binding that its fields fill best (the
   /v2/users/{user_id}/apps/{app_id}/... form when user_app_id is set), path values
   percent-encoded, the rest as a JSON body or, for GET and body-less DELETE, as query parameters
   (dotted names for nested fields, one key per element of a list).
   On CLARIFAI_OK or CLARIFAI_ERROR_API, *out receives a response to free with
   clarifai_response_free; on any other code *out is set to NULL. */
int clarifai_call(clarifai_client *client, const char *method, const char *request_json,
                  clarifai_response **out);

/* Calls `method` with a serialized protobuf request message (the method's request type, e.g.
   clarifai.api.ListConceptsRequest); `request` may be NULL when len is 0 (an empty request).
   len over 2 GiB - 1 (protobuf's message limit; SIZE_MAX among them) is INVALID_ARGUMENT.
   The bytes are checked against the schema before anything is sent; on the REST channel they
   travel as JSON. The response is read as usual, or as bytes with clarifai_response_proto. */
int clarifai_call_proto(clarifai_client *client, const char *method, const void *request, size_t len,
                        clarifai_response **out);

/* Server-streaming methods (GenerateModelOutputs, StreamAnnotations, StreamLivestreamAnnotations,
   StreamLogEntries, ...) on a gRPC channel. on_message is called once per message, in order, on
   the calling thread; the response passed is valid during the callback only (copy what you need).
   A non-zero return cancels the stream at once (the server sees the cancellation) and the call
   returns CLARIFAI_ERROR_CANCELLED. A message whose Clarifai status is not SUCCESS is delivered
   like any other. On the REST channel the call returns CLARIFAI_ERROR_UNSUPPORTED. */
typedef int (*clarifai_stream_fn)(const clarifai_response *message, void *userdata);
int clarifai_call_stream(clarifai_client *client, const char *method, const char *request_json,
                         clarifai_stream_fn on_message, void *userdata);

/* ---------------------------------------------------------------------------------------------
 * Streams both ways (since 1.1): the bidirectional methods (StreamModelOutputs,
 * PostModelVersionsUpload, PostPipelineStepVersionsUpload, PostArtifactVersionsUpload,
 * ProcessRunnerItems) and the server-streaming ones, pulled message by message, on gRPC channels
 * (REST cannot carry them: CLARIFAI_ERROR_UNSUPPORTED).
 *
 * One thread may send while another receives; clarifai_stream_cancel may come from any thread.
 * The client's deadline (clarifai_client_set_timeout_ms, else the channel's) bounds the whole
 * stream; a stream is never retried and has no idle limit (its connection is kept alive instead:
 * clarifai_channel_set_keepalive_ms). Memory stays bounded both ways: a
 * sender that outruns the server waits (until the deadline) once 4 MiB are queued, and a receiver
 * slower than the server holds the server back once 4 MiB are waiting to be received (as gRPC
 * flow control does: a program that sends without ever receiving, to a server that answers each
 * message, waits then; receive from another thread). With libcurl before 8.1 each stream has a
 * connection of its own (such libcurl cannot hold back one stream of a shared connection); from
 * 8.1 on, streams share the channel's TLS connection with unary calls. A server may end the
 * stream before the client closes its side (gRPC allows it): the stream then ends normally, and
 * later sends fail with CANCELLED. Known limit of libcurl before 8.1 (Debian 12's 7.88): a server
 * that ends a stream while the client's side is open sends RST_STREAM with its trailers (RFC 9113,
 * 8.1), and such libcurl drops the answer's messages that it reads together with that end (a busy
 * client, or a server that writes them at once). When that is the whole answer, recv returns
 * CLARIFAI_ERROR_TRANSPORT ("only its trailers arrived"), never a clean end; when it is the last
 * messages, it cannot be told. Closing the sending side once the last request is sent narrows
 * the window; libcurl 8.1 and later keep every message.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_stream clarifai_stream;

/* Opens a streaming call of `method`. *out receives the stream (free with clarifai_stream_free).
   A unary method is CLARIFAI_ERROR_UNSUPPORTED (use clarifai_call). */
int clarifai_stream_open(clarifai_client *client, const char *method, clarifai_stream **out);
/* Sends one request message as proto3 JSON (NULL or "" for an empty one), checked against the
   schema first; the client's ids fill its user_app_id as for any call. A server-streaming method
   takes exactly one message (a second is INVALID_ARGUMENT). Waits while the server takes no more
   (see above); TIMEOUT when the deadline passes meanwhile. */
int clarifai_stream_send(clarifai_stream *stream, const char *request_json);
/* The same with a serialized protobuf request message, checked on the wire. */
int clarifai_stream_send_proto(clarifai_stream *stream, const void *message, size_t len);
/* Half-closes: no more request messages (the server sees the end of the request stream). A
   second call is INVALID_ARGUMENT; answers keep coming until the server ends the stream. */
int clarifai_stream_close_send(clarifai_stream *stream);
/* Waits for the next answer message: CLARIFAI_OK with *out set (free it with
   clarifai_response_free; a message whose Clarifai status is not SUCCESS is delivered like any
   other); CLARIFAI_OK with *out NULL: the stream ended with gRPC status OK; another code: the
   stream failed (TIMEOUT at the deadline, CANCELLED after clarifai_stream_cancel, the error of a
   gRPC status as for any call), and every later recv returns the same. */
int clarifai_stream_recv(clarifai_stream *stream, clarifai_response **out);
/* Ends the stream at once: the server sees the cancellation (an HTTP/2 RST_STREAM), a recv
   waiting returns CLARIFAI_ERROR_CANCELLED. Any thread, any number of times; NULL is fine. */
void clarifai_stream_cancel(clarifai_stream *stream);
/* Cancels the stream if it is still open, and frees it. Not while another thread is inside a
   call with it. */
void clarifai_stream_free(clarifai_stream *stream);

/* The number of methods of clarifai.api.V2 built in (273 for API 12.6.0) and their names, in the
   order of the official service definition. clarifai_method_name returns NULL past the end.
   Static storage. */
size_t clarifai_method_count(void);
const char *clarifai_method_name(size_t index);

/* ---------------------------------------------------------------------------------------------
 * Predictions (PostModelOutputs)
 * ------------------------------------------------------------------------------------------- */
typedef enum {
  CLARIFAI_INPUT_IMAGE = 0,
  CLARIFAI_INPUT_TEXT = 1,
  CLARIFAI_INPUT_VIDEO = 2,
  CLARIFAI_INPUT_AUDIO = 3
} clarifai_input_kind;

/* One input: exactly one of url, data (with data_len > 0) or text must be set. text is only for
   CLARIFAI_INPUT_TEXT; url and data fit every kind (a text url is fetched by the server).
   Initialise it by field name (C99 designated initialisers), so that the fields left out are
   zero and a new field can never shift the others:
     clarifai_input inputs[] = {
       {.kind = CLARIFAI_INPUT_IMAGE, .url = "https://samples.clarifai.com/metro-north.jpg"},
       {.kind = CLARIFAI_INPUT_IMAGE, .data = bytes, .data_len = size, .id = "photo-1"},
       {.kind = CLARIFAI_INPUT_TEXT, .text = "a sentence to classify"},
     };
     rc = clarifai_predict(client, model_id, NULL, inputs, 3, &response); */
typedef struct clarifai_input {
  int kind;             /* clarifai_input_kind */
  const char *url;      /* one of url, data, text */
  const void *data;     /* raw bytes (not base64); the library encodes them */
  size_t data_len;
  const char *text;
  const char *id;       /* optional input id; NULL lets the server choose */
} clarifai_input;

/* Runs model `model_id` (version `version_id`, or its default version when NULL) on `count`
   inputs (count >= 1) with the client's user_app_id. A data_len, or the inputs of one request
   together, over 2 GiB - 1 bytes (protobuf's message limit) is INVALID_ARGUMENT. More than 128 inputs are split into requests
   of at most 128, sent four at a time, whose outputs come back merged, in input order, in one
   response. When some of those requests fail, the others' outputs are kept: the failed inputs
   get outputs carrying the failure, the response's status is MIXED_STATUS (10010) with the
   first failure in its details, and the call returns CLARIFAI_ERROR_API with *out set. */
int clarifai_predict(clarifai_client *client, const char *model_id, const char *version_id,
                     const clarifai_input *inputs, size_t count, clarifai_response **out);
/* One image by URL. */
int clarifai_predict_url(clarifai_client *client, const char *model_id, const char *version_id,
                         const char *url, clarifai_response **out);
/* One image from bytes in memory (len > 0). */
int clarifai_predict_bytes(clarifai_client *client, const char *model_id, const char *version_id,
                           const void *data, size_t len, clarifai_response **out);
/* One image from a file, read once with read(2) (not memory-mapped: a file truncated by another
   process during the call cannot crash the caller). A missing, unreadable or empty file,
   anything but a regular file (a directory, a FIFO, a device), a file over 2 GiB - 1 bytes, or
   one that changes size while it is read is INVALID_ARGUMENT naming the path. */
int clarifai_predict_file(clarifai_client *client, const char *model_id, const char *version_id,
                          const char *path, clarifai_response **out);
/* One text input (raw UTF-8 text). */
int clarifai_predict_text(clarifai_client *client, const char *model_id, const char *version_id,
                          const char *text, clarifai_response **out);

/* ---------------------------------------------------------------------------------------------
 * Asynchronous calls (since 1.1): many calls in flight from one thread, their outcomes taken
 * from a completion queue in the order they complete.
 *
 * A call started with clarifai_call_async or clarifai_predict_async runs on the channel's I/O
 * thread: on gRPC as a stream of the channel's HTTP/2 connection(s), on REST over the channel's
 * keep-alive connections. A channel opens at most 16 connections to its server; calls beyond
 * what they carry at once (HTTP/1.1: one each; HTTP/2: the server's limit of concurrent streams,
 * 100 at most) wait for a free one, within their deadline. Retries, deadlines and errors are
 * those of the same blocking call, with the client's settings at the time of the start.
 *
 * A queue is thread-safe: calls may be started on it from any thread, and any thread may take
 * completions. Its descriptor (an eventfd) is readable exactly while a completion waits: add it
 * to poll/epoll/select or asyncio's loop.add_reader, then take completions with
 * clarifai_queue_next(queue, 0, ...) until it returns CLARIFAI_ERROR_TIMEOUT. Read nothing from
 * the descriptor yourself. A queue does not follow fork(): calls in flight at the moment of
 * fork() are the parent's; a child uses queues of its own.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_queue clarifai_queue;

/* A new, empty queue; NULL (with the last error set) when the process is out of descriptors. */
clarifai_queue *clarifai_queue_new(void);
/* The queue's pollable descriptor (owned by the queue: do not read, write or close it); -1 for
   a NULL or wrong handle. */
int clarifai_queue_fd(const clarifai_queue *queue);
/* Starts `method` (unary, as clarifai_call) and returns at once; its completion goes to `queue`
   with `tag` (any pointer, returned as given; never dereferenced). A failure found before
   anything is sent (an unknown or streaming method, invalid request_json, a request that lacks
   the fields its REST path needs, a queue being freed) is returned here, and then no completion
   comes; CLARIFAI_OK means exactly one completion will come. */
int clarifai_call_async(clarifai_client *client, const char *method, const char *request_json,
                        clarifai_queue *queue, void *tag);
/* The same with a serialized protobuf request message, checked on the wire as clarifai_call_proto
   checks it (the bytes are copied before it returns). */
int clarifai_call_proto_async(clarifai_client *client, const char *method, const void *request, size_t len,
                              clarifai_queue *queue, void *tag);
/* Starts a prediction as clarifai_predict makes it (more than 128 inputs: several requests, in
   flight at once, merged into one response) and returns at once; one completion for it. The
   inputs are copied before it returns: their memory may go. */
int clarifai_predict_async(clarifai_client *client, const char *model_id, const char *version_id,
                           const clarifai_input *inputs, size_t count, clarifai_queue *queue, void *tag);
/* Takes the next completion, waiting up to timeout_ms (0: not at all, -1 or any negative: no
   limit). CLARIFAI_OK: *tag, *code (the call's result, as the blocking call would return it) and
   *out (the response when *code is CLARIFAI_OK or CLARIFAI_ERROR_API, else NULL; free it) are
   set, and when *code is not CLARIFAI_OK, clarifai_last_error() and the clarifai_last_error_*
   functions describe the call's failure on this thread. CLARIFAI_ERROR_TIMEOUT: nothing
   completed in time (a wait with no limit returns it only when nothing is running and nothing
   can come). tag, code and out must not be NULL. */
int clarifai_queue_next(clarifai_queue *queue, long timeout_ms, void **tag, int *code, clarifai_response **out);
/* Cancels the calls started on `queue` with `tag` that are still running: each completes with
   CLARIFAI_ERROR_CANCELLED (the server sees an RST_STREAM; a closed connection on HTTP/1.1, and
   with libcurl before 8.1 when no other call uses the connection),
   unless it completed already. Returns how many were running; 0 for a NULL or wrong handle. */
size_t clarifai_queue_cancel(clarifai_queue *queue, void *tag);
/* Cancels the calls still running, waits until they let go of the queue (a moment: nothing is
   waited for from the server), then frees the queue with the completions not taken (their
   responses too) and closes its descriptor. Not while another thread is inside a call with it. */
void clarifai_queue_free(clarifai_queue *queue);

/* ---------------------------------------------------------------------------------------------
 * Bulk prediction (since 1.1): a model run over any number of inputs, pulled from a callback as
 * they are needed (memory stays bounded: at most concurrency x batch_size inputs are held), in
 * requests of batch_size inputs, `concurrency` requests in flight at once, at most `rate`
 * requests per second. Each input's outcome goes to a callback as its request ends.
 *
 * The rate is kept as evenly spaced requests (no bursts: a server counting its limit over any
 * second sees at most `rate`). When the server answers CONN_THROTTLED (11005), that request is
 * sent again (its inputs are neither lost nor reported twice) and the rate halves, at most once
 * a second, then grows back by one request per second each second up to `rate`; with rate 0 (no
 * limit) the first throttling sets one at half the rate of the last second. Other transient
 * failures (clarifai_last_error_transient) are retried per request up to the client's retry
 * budget; each request has the client's deadline. An input the server failed (e.g. its URL could
 * not be downloaded) is reported with its own status; the others go on.
 * ------------------------------------------------------------------------------------------- */
/* Supplies the next input: fills *input (zeroed before each call) and returns 1; returns 0 when
   there are no more, a negative value to stop (clarifai_predict_many then returns CANCELLED).
   The input's strings and data are copied before the next call: they may change after it. */
typedef int (*clarifai_input_fn)(void *userdata, clarifai_input *input);
/* One input's outcome, once, in the order requests end: `index` counts the inputs in the order
   they were supplied (from 0). code CLARIFAI_OK: `result` holds the input's output alone (output
   0: concepts, regions, text, embedding, any field by path), its status the output's; code
   CLARIFAI_ERROR_API: the input failed with the status in `result` (the output's, or the
   request's when the server answered it without outputs); any other code: the input could not be
   read, or its request failed, and `result` is NULL. Unless OK, clarifai_last_error() and the
   clarifai_last_error_* functions describe the failure during the call. `result` is borrowed for
   the duration of the call. Return 0 to go on, non-zero to stop (then CANCELLED). */
typedef int (*clarifai_result_fn)(void *userdata, size_t index, int code, const clarifai_response *result);
/* Where a bulk prediction stands: after each request that ended, and once at the end. Fields may
   be added at the end in later versions (the library owns the struct). */
typedef struct clarifai_bulk_progress {
  size_t supplied;  /* inputs taken from the input callback */
  size_t done;      /* inputs reported to the result callback, failures included */
  size_t failed;    /* of those, failed */
  size_t in_flight; /* inputs supplied and not reported yet (in requests in flight or to be sent) */
  double rate;      /* inputs reported per second since the start */
} clarifai_bulk_progress;
typedef void (*clarifai_progress_fn)(void *userdata, const clarifai_bulk_progress *progress);

/* Runs model `model_id` (version `version_id`, or the default when NULL) over every input
   next_input supplies; on_result gets each input's outcome; on_progress (may be NULL) the
   progress. batch_size: inputs per request, 1 to 128 (0: 32); a request closes earlier at 120 MB
   of inputs (the API takes 128 MB). concurrency: requests in flight, 1 to 1024 (0: 8). rate:
   requests per second at most (0: no limit). The callbacks run on the calling thread, which
   waits meanwhile; they may call the library, but not free the client. Returns CLARIFAI_OK once
   every input supplied was reported (count the failures in on_result or in the progress),
   CLARIFAI_ERROR_CANCELLED when a callback asked to stop (requests in flight are cancelled, their
   inputs not reported), INVALID_ARGUMENT for a bad argument (nothing supplied then). */
int clarifai_predict_many(clarifai_client *client, const char *model_id, const char *version_id, size_t batch_size,
                          size_t concurrency, double rate, clarifai_input_fn next_input, clarifai_result_fn on_result,
                          clarifai_progress_fn on_progress, void *userdata);

/* ---------------------------------------------------------------------------------------------
 * Uploads (since 1.1): inputs added to the client's app so that the upload finishes, as the
 * official SDK's does and more: PostInputs requests of batch_size inputs (0: 32; at most 128),
 * `concurrency` of them at once (0: 4; at most 64); each request's add job followed until done
 * (GetInputsAddJob); the inputs whose download failed (a URL the server could not fetch) read
 * (ListInputs), deleted, and sent again, up to max_retries more times (at most 100); those still
 * failing deleted and reported (an add job unfinished after 30 minutes fails its inputs with
 * CLARIFAI_ERROR_TIMEOUT). An input without an id gets one made from its content ("in-" and
 * 32 hex digits of a SHA-256), so that uploading the same content again never adds it twice: an
 * input already in the app is left as it is (PostInputs' input_id_conflict_resolution SKIP), and
 * the same content twice in one upload is sent once. Inputs are pulled from next_input, at most
 * batch_size x concurrency at a time (memory stays bounded), and their outcomes come in order.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_upload_input {
  clarifai_input input;         /* the data, its kind and (optionally) the input's id */
  const char *const *concepts;  /* ids of the concepts it shows (value 1); NULL when concept_count is 0 */
  size_t concept_count;
  const char *metadata_json;    /* a JSON object kept with the input (data.metadata); NULL for none */
} clarifai_upload_input;

/* Fills *input (zeroed before each call) with the next input and returns 1; 0 when there are no
   more; -1 stops the upload (CLARIFAI_ERROR_CANCELLED). The library copies what it needs before
   the next call. An input that cannot be sent (no data, a metadata_json that is not an object)
   is reported alone with INVALID_ARGUMENT. */
typedef int (*clarifai_upload_input_fn)(void *userdata, clarifai_upload_input *input);
/* The outcome of input `index` (counted from 0 in the order supplied): code CLARIFAI_OK when the
   input is in the app, downloaded; CLARIFAI_ERROR_API when its download still failed after every
   try (status_code: its Clarifai status, e.g. 30002 INPUT_DOWNLOAD_FAILED; it was deleted);
   another code when its request failed (clarifai_last_error says why). input_id is the input's
   id ("" for one refused before sending), valid during the call; tries: how many times it was
   sent. A non-zero return stops the upload (CLARIFAI_ERROR_CANCELLED). */
typedef int (*clarifai_upload_result_fn)(void *userdata, size_t index, int code, const char *input_id, int status_code,
                                         unsigned tries);
/* Returns CLARIFAI_OK once every input supplied was reported (whatever each one's outcome),
   CLARIFAI_ERROR_CANCELLED when a callback stopped it, INVALID_ARGUMENT for bad arguments (before
   any input is taken). on_progress may be NULL; it is called after each round of inputs. */
int clarifai_upload_inputs(clarifai_client *client, size_t batch_size, size_t concurrency, unsigned max_retries,
                           clarifai_upload_input_fn next_input, clarifai_upload_result_fn on_result,
                           clarifai_progress_fn on_progress, void *userdata);

/* ---------------------------------------------------------------------------------------------
 * Pagination (since 1.1): every page of a List* or Search method, one call each.
 *
 * The pager sets the request's `page` and `per_page` (or those of its `pagination`: the Post*Searches
 * methods), or its `last_id` cursor to the id of the previous page's last item (StreamInputs), and
 * keeps the rest of the request as given. A page's items are the entries of its longest repeated
 * message field (inputs, models, concepts, hits, ...). It stops after the first page shorter than
 * per_page, and at the first empty page, which is not handed out; with per_page 0 (the server's
 * default size) only an empty page ends it. Items added or deleted while paging can shift the
 * pages of a page-numbered method (an item seen twice or not at all): the API's own behaviour.
 * A pager is used by one thread at a time; it keeps its client alive.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_pager clarifai_pager;

/* A pager over `method` (unary, with page and per_page, pagination, or last_id in its request)
   starting at page 1, for the request `request_json` (NULL or "" for an empty one; checked as
   by clarifai_call). NULL with the last error set for another method or a bad request. */
clarifai_pager *clarifai_pager_new(clarifai_client *client, const char *method, const char *request_json,
                                   unsigned per_page);
/* The next page: CLARIFAI_OK with *page set (free it); CLARIFAI_OK with *page NULL: no more
   pages. A failed call returns its code as clarifai_call does (*page set for CLARIFAI_ERROR_API)
   and leaves the pager where it was: the next call asks for the same page again. */
int clarifai_pager_next(clarifai_pager *pager, clarifai_response **page);
void clarifai_pager_free(clarifai_pager *pager);

/* ---------------------------------------------------------------------------------------------
 * Resource URLs (since 1.1): the ids a clarifai.com address names, read as the official SDK reads
 * them (ClarifaiUrlHelper), for programs that take a model's or workflow's URL from their user.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_resource_ids {
  const char *user_id;
  const char *app_id;
  const char *resource_type; /* "models", "workflows", "datasets", ...; NULL for an app's URL */
  const char *resource_id;   /* NULL for an app's URL */
  const char *version_id;    /* NULL unless the URL names a version */
} clarifai_resource_ids;

/* Reads https://HOST/{user_id}/{app_id}[/{resource_type}/{resource_id}[/{version_type}/{version_id}]]
   (e.g. https://clarifai.com/clarifai/main/models/general-image-recognition/model_version/aa7f...):
   any host, http:// or https://, a trailing slash, query and fragment ignored, ids as written
   (no percent-decoding). The ids are copied into `buffer` (buffer_size bytes, of which
   strlen(url) + 1 always suffice) and *ids points into it; the library keeps nothing. No call is
   made and no file read. INVALID_ARGUMENT, naming the URL, for any other form (an empty part,
   4 or 6 parts, another scheme), and for a buffer too small (the message says how many bytes the
   ids need); *ids is then all NULL. */
int clarifai_parse_resource_url(const char *url, clarifai_resource_ids *ids, char *buffer, size_t buffer_size);

/* ---------------------------------------------------------------------------------------------
 * Responses: JSON or struct buffers
 * All strings and arrays below belong to the response and stay valid until it is freed.
 * Strings absent from the response are "" (never NULL) unless said otherwise.
 *
 * A REST answer is read as far as it is asked for (since 1.1): the call reads its status (a
 * malformed status fails the call, as in 1.0); clarifai_response_output_count finds its
 * outputs, reading on to the end of the text, and clarifai_response_concepts reads an output's
 * concepts straight from the JSON text when they have the form servers write (each key once,
 * values of the expected kinds), as clarifai_response_concepts_text and _outputs_text do (the
 * latter's contents bits then from whether the JSON gives regions, text or embeddings a value
 * other than null or []); anything else (clarifai_response_json, _proto, paths, regions,
 * the text, embeddings, or outputs and concepts in another form) converts the whole answer to
 * the response message first, checking every field as the official JSON parser does. A
 * malformed part of an answer whose status is fine is therefore reported by the function that
 * reads it (CLARIFAI_ERROR_PROTOCOL, naming the field), not by the call; 1.0 converted every
 * answer in the call. gRPC answers are checked whole in the call, as before.
 * ------------------------------------------------------------------------------------------- */
typedef struct clarifai_concept {
  const char *id;
  const char *name;
  float value;
  const char *app_id;
} clarifai_concept;

typedef struct clarifai_region {
  const char *id;
  float top_row, left_col, bottom_row, right_col; /* region_info.bounding_box, fractions 0..1 */
  float value;
  const clarifai_concept *concepts;               /* the region's data.concepts */
  size_t concept_count;
} clarifai_region;

/* status.code, e.g. 10000 (SUCCESS); 0 for NULL. */
int clarifai_response_status_code(const clarifai_response *response);
const char *clarifai_response_status_description(const clarifai_response *response);
const char *clarifai_response_status_details(const clarifai_response *response);
/* status.req_id: the server's id for the request, to quote to Clarifai support. */
const char *clarifai_response_request_id(const clarifai_response *response);

/* The server's metadata on a unary call's answer: on gRPC its initial metadata (*trailing 0),
   then its trailing metadata (*trailing 1); on REST the answer's HTTP headers (*trailing 0).
   Names are lower case, in arrival order; the fields of HTTP and gRPC themselves (content-type,
   content-length, te, grpc-status, grpc-message, grpc-encoding, ...) are left out, as grpcio
   leaves them out, but grpc-status-details-bin stays. A stream's messages have none. The count,
   then field `index` (strings owned by the response; NULL pointers are skipped); past the end
   *name and *value are NULL and the result is INVALID_ARGUMENT. Since 1.1. */
size_t clarifai_response_metadata_count(const clarifai_response *response);
int clarifai_response_metadata(const clarifai_response *response, size_t index, const char **name, const char **value,
                               int *trailing);

/* The whole response message as JSON in the REST API's own form (original snake_case field
   names, enums as numbers, 64-bit integers as strings, defaults left out except the fields the
   API marks cl_show_if_empty, e.g. "concepts": []), written from the message on the first call
   (later calls return the same string, valid until the response is freed): the same text on every
   channel (since 1.1; 1.0 handed out a REST server's own text, whose spacing and empty fields
   differ). NULL for NULL, and NULL with
   clarifai_last_error() set when a gRPC message has no JSON form (e.g. a timestamp beyond year
   9999). */
const char *clarifai_response_json(const clarifai_response *response);

/* The whole response message serialized as protobuf binary (the method's response type).
   *data stays valid until the response is freed. */
int clarifai_response_proto(const clarifai_response *response, const void **data, size_t *len);

/* The number of entries in `outputs` (0 for responses without outputs or NULL; 0 with
   clarifai_last_error() set, CLARIFAI_ERROR_PROTOCOL, for a REST answer whose outputs do not read,
   since 1.1: see above). */
size_t clarifai_response_output_count(const clarifai_response *response);

/* outputs[output].data.concepts. An output without concepts gives *concepts = NULL, *count = 0.
   An output index past the end is INVALID_ARGUMENT. */
int clarifai_response_concepts(const clarifai_response *response, size_t output,
                               const clarifai_concept **concepts, size_t *count);
/* outputs[output].data.regions, each with its bounding box and concepts. */
int clarifai_response_regions(const clarifai_response *response, size_t output,
                              const clarifai_region **regions, size_t *count);
/* outputs[output].data.text.raw, or NULL when absent or the index is past the end. */
const char *clarifai_response_text(const clarifai_response *response, size_t output);
/* outputs[output].data.embeddings[0].vector. An output without an embedding gives
   *vector = NULL, *dim = 0. */
int clarifai_response_embedding(const clarifai_response *response, size_t output,
                                const float **vector, size_t *dim);
/* outputs[output].data.concepts as one block of text, for bindings that build their own objects
   from it in one step rather than from each struct's fields (since 1.1): for each concept, its id,
   name, value and app_id, each followed by a NUL byte (4 per concept); the strings as
   clarifai_response_concepts has them, the value as the shortest decimal that reads back as the
   same float ("0.87", as in the JSON; "nan", "inf", "-inf"). *text belongs to the response,
   *len counts its bytes, *count the concepts. An output without concepts gives *text = NULL,
   *len = *count = 0; an output index past the end is INVALID_ARGUMENT. */
int clarifai_response_concepts_text(const clarifai_response *response, size_t output, const char **text,
                                    size_t *len, size_t *count);
/* Every output at once, for bindings that read a whole answer in one call (since 1.1): the
   concepts of all outputs in one block of text, output after output, each as
   clarifai_response_concepts_text writes it; *outputs the output count;
   (*concept_counts)[i] the concepts of output i; (*contents)[i] what else output i holds, in
   bits: CLARIFAI_OUTPUT_REGIONS, _TEXT and _EMBEDDING, set when clarifai_response_regions,
   clarifai_response_text and clarifai_response_embedding have something to read for it (a bit
   clear: they give nothing, and need not be called). The text and both arrays belong to the
   response; without any concept *text = NULL and *len = 0, without outputs the arrays are
   NULL. */
#define CLARIFAI_OUTPUT_REGIONS 1u
#define CLARIFAI_OUTPUT_TEXT 2u
#define CLARIFAI_OUTPUT_EMBEDDING 4u
int clarifai_response_outputs_text(const clarifai_response *response, const char **text, size_t *len,
                                   size_t *outputs, const size_t **concept_counts,
                                   const unsigned char **contents);

/* Any field of any response, without a JSON parser (since 1.1). `path` names a field by its
   original (snake_case) name, "." between levels and [i] for an element of a repeated field:
   "status.description", "outputs[0].status.code", "outputs[1].input.id", "models[2].id",
   "outputs[0].data.concepts[3].value". A field absent from the message reads as its proto3
   default (0, "", an enum's 0 value). An unknown field name, an index past the end, a repeated
   field without an index (or an index on one that is not repeated), and a getter of the wrong
   kind for the field are INVALID_ARGUMENT with the reason; these getters clear the last error
   when they succeed, so that a 0 or NULL can be told from a failure by clarifai_last_error_code. */
/* The number of elements of a repeated field; 0 on failure. */
size_t clarifai_response_count(const clarifai_response *response, const char *path);
/* A string field, or an enum field by its value's name ("SUCCESS"); NULL on failure. The text
   belongs to the response; asking again for the same path returns the same pointer. */
const char *clarifai_response_string(const clarifai_response *response, const char *path);
/* An integer, bool (0 or 1) or enum (its number) field. A uint64 above LLONG_MAX is
   INVALID_ARGUMENT. *value is 0 on failure. */
int clarifai_response_int64(const clarifai_response *response, const char *path, long long *value);
/* A float or double field. *value is 0 on failure. */
int clarifai_response_double(const clarifai_response *response, const char *path, double *value);

void clarifai_response_free(clarifai_response *response);

/* ---------------------------------------------------------------------------------------------
 * Schema: the official message types, usable on their own
 * Conversions follow the proto3 JSON mapping as the official protobuf runtime applies it.
 * ------------------------------------------------------------------------------------------- */
/* JSON -> protobuf binary. message_type is a full name, e.g. "clarifai.api.PostModelOutputsRequest"
   (any message of the API definition, google.protobuf well-known types included). The JSON may
   use original or lowerCamel field names, enum names or numbers, numbers or strings for integers,
   "NaN"/"Infinity", standard or URL-safe base64 with or without padding. An unknown field, a
   value of the wrong type or out of range is INVALID_ARGUMENT with the field's path, e.g.
   "inputs[3].data.image.base64: invalid base64". On success *out (free with clarifai_free) holds
   *out_len bytes; *out is never NULL on success, even for an empty message. Fields are written in
   the order the JSON gives them: valid protobuf, byte-identical to the official serializer's
   output when the keys come in field-number order. */
int clarifai_json_to_proto(const char *message_type, const char *json, void **out, size_t *out_len);

/* Protobuf binary -> JSON in the REST API's form: original field names, enums as numbers,
   64-bit integers as strings, defaults left out (repeated and scalar fields marked
   cl_show_if_empty are printed even when empty), floats printed in the shortest form that reads
   back to the same value. Unknown fields are skipped. A truncated or malformed buffer, or a string
   that is not UTF-8, is INVALID_ARGUMENT naming the field. On success *out_json is a
   NUL-terminated string to free with clarifai_free. `data` may be NULL when len is 0. */
int clarifai_proto_to_json(const char *message_type, const void *data, size_t len, char **out_json);

/* Frees memory the library handed over with ownership (clarifai_json_to_proto,
   clarifai_proto_to_json). NULL is fine. */
void clarifai_free(void *memory);

#ifdef __cplusplus
}
#endif
#endif /* CLARIFAI_H */
