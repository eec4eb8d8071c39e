/*
 * libFuzzer target for libclarifai's codec (clarifai_json_to_proto / clarifai_proto_to_json).
 *
 * Built twice by Tests/Fuzz/run.sh, against a libclarifai built with ASan and SanitizerCoverage:
 *   -DFUZZ_BINARY  fuzz_proto_to_json: the input's bytes are a protobuf binary.
 *   -DFUZZ_JSON    fuzz_json_to_proto: the input's bytes are a JSON text (NUL-terminated copy).
 * The first byte of an input picks the message type (TYPES[byte % TYPE_COUNT]); the rest is the data.
 *
 * Checks, each abort()s with a description on stderr (libFuzzer then keeps the input):
 *  - every call returns CLARIFAI_OK or CLARIFAI_ERROR_INVALID_ARGUMENT (malformed input is never
 *    INTERNAL or anything else), a failure leaves a non-empty clarifai_last_error(), a success a
 *    non-NULL output;
 *  - binary direction: when binary -> JSON succeeds, that JSON -> binary must succeed, and
 *    (strict, the default) that binary -> JSON again gives the same JSON text;
 *  - JSON direction: when JSON -> binary succeeds, that binary -> JSON must succeed, its JSON ->
 *    binary must succeed, and (strict) print the same JSON again; with CLARIFAI_FUZZ_CANONICAL=1
 *    the two binaries must also be the same bytes (fields written in field-number order whatever
 *    the JSON's key order, as the official runtime serializes).
 * Set CLARIFAI_FUZZ_LAX=1 to keep only the success requirements (no equality checks).
 * CLARIFAI_FUZZ_TOLERATE="text1|text2" lets a failed round trip pass when clarifai_last_error()
 * contains one of the texts: a way to keep fuzzing past a known, reported issue.
 * ASan reports memory errors in the library; LeakSanitizer reports per-input leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clarifai.h"

#if !defined(FUZZ_BINARY) && !defined(FUZZ_JSON)
#error "define FUZZ_BINARY or FUZZ_JSON"
#endif

/* Order matters: the seed corpus (Tests/Fuzz/make_corpus.py) writes these indexes as first byte. */
static const char *const TYPES[] = {
    "clarifai.api.PostModelOutputsRequest",
    "clarifai.api.MultiOutputResponse",
    "google.protobuf.Struct",
    "clarifai.api.Input",
    "google.protobuf.Value",
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.UInt64Value",
};
#define TYPE_COUNT (sizeof TYPES / sizeof TYPES[0])

static int strict = 1, canonical = 0;
static const char *tolerate = NULL;

static int flag(const char *name) {
  const char *value = getenv(name);
  return value && *value && strcmp(value, "0") != 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  strict = !flag("CLARIFAI_FUZZ_LAX");
  canonical = flag("CLARIFAI_FUZZ_CANONICAL");
  tolerate = getenv("CLARIFAI_FUZZ_TOLERATE");
  if (tolerate && !*tolerate) tolerate = NULL;
  return 0;
}

/* Whether the last error contains one of the '|'-separated texts of CLARIFAI_FUZZ_TOLERATE. */
static int tolerated(void) {
  const char *error = clarifai_last_error();
  for (const char *p = tolerate; p && *p;) {
    const char *end = strchr(p, '|');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    for (const char *e = error; n && e && *e; e++)
      if (strncmp(e, p, n) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

static void dump(const char *label, const void *data, size_t len) {
  const unsigned char *bytes = (const unsigned char *)data;
  fprintf(stderr, "%s (%zu bytes): ", label, len);
  for (size_t i = 0; i < len && i < 4096; i++) fprintf(stderr, "%02x", bytes[i]);
  fprintf(stderr, "%s\n", len > 4096 ? "..." : "");
}

static void fail(const char *type, const char *what, int code) {
  fprintf(stderr, "\n*** codec check failed for %s: %s (code %d %s, last error \"%s\")\n", type, what, code,
          clarifai_error_name(code), clarifai_last_error());
  abort();
}

/* A call's code must be OK or INVALID_ARGUMENT, with an error message on failure. */
static int checked(const char *type, const char *call, int code) {
  if (code != CLARIFAI_OK && code != CLARIFAI_ERROR_INVALID_ARGUMENT) fail(type, call, code);
  if (code != CLARIFAI_OK && (clarifai_last_error() == NULL || clarifai_last_error()[0] == '\0'))
    fail(type, "failure without an error message", code);
  return code;
}

static void *to_binary(const char *type, const char *json, size_t *len, int must_succeed, const char *what) {
  void *out = NULL;
  *len = 0;
  int code = checked(type, what, clarifai_json_to_proto(type, json, &out, len));
  if (code != CLARIFAI_OK) {
    if (must_succeed && !tolerated()) {
      fprintf(stderr, "JSON: %s\n", json);
      fail(type, what, code);
    }
    return NULL;
  }
  if (out == NULL) fail(type, "clarifai_json_to_proto succeeded with *out == NULL", code);
  return out;
}

static char *to_json(const char *type, const void *data, size_t len, int must_succeed, const char *what) {
  char *out = NULL;
  int code = checked(type, what, clarifai_proto_to_json(type, data, len, &out));
  if (code != CLARIFAI_OK) {
    if (must_succeed && !tolerated()) {
      dump("binary", data, len);
      fail(type, what, code);
    }
    return NULL;
  }
  if (out == NULL) fail(type, "clarifai_proto_to_json succeeded with *out_json == NULL", code);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *type = TYPES[data[0] % TYPE_COUNT];
  data++;
  size--;

#ifdef FUZZ_BINARY
  /* libFuzzer's buffer is a heap block of exactly `size` bytes: ASan sees any over-read. */
  char *json = to_json(type, size ? data : NULL, size, 0, "binary -> JSON");
  if (json == NULL) return 0;
  size_t len;
  void *binary = to_binary(type, json, &len, 1, "round trip: JSON printed by clarifai_proto_to_json -> binary");
  if (binary != NULL && strict) {
    /* binary -> JSON -> binary -> JSON: the second JSON must be the first. */
    char *again = to_json(type, binary, len, 1, "round trip: binary -> JSON -> binary -> JSON");
    if (again != NULL && strcmp(json, again) != 0) {
      fprintf(stderr, "first JSON:  %s\nsecond JSON: %s\n", json, again);
      fail(type, "binary -> JSON is not a fixed point of JSON -> binary -> JSON", 0);
    }
    clarifai_free(again);
  }
  clarifai_free(binary);
  clarifai_free(json);
#else
  char *text = malloc(size + 1);
  if (text == NULL) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t len;
  void *binary = to_binary(type, text, &len, 0, "JSON -> binary");
  if (binary != NULL) {
    char *json = to_json(type, binary, len, 1, "round trip: binary made by clarifai_json_to_proto -> JSON");
    size_t len2 = 0;
    void *binary2 = json ? to_binary(type, json, &len2, 1, "round trip: JSON -> binary -> JSON -> binary") : NULL;
    char *json2 = binary2 && strict ? to_json(type, binary2, len2, 1, "round trip: JSON -> binary -> JSON -> binary -> JSON") : NULL;
    if (json2 != NULL && strcmp(json, json2) != 0) {
      fprintf(stderr, "input JSON: %s\nfirst printed JSON:  %s\nsecond printed JSON: %s\n", text, json, json2);
      fail(type, "the JSON printed from JSON -> binary is not a fixed point of JSON -> binary -> JSON", 0);
    }
    if (binary2 != NULL && canonical && (len != len2 || memcmp(binary, binary2, len) != 0)) {
      fprintf(stderr, "input JSON: %s\nprinted JSON: %s\n", text, json);
      dump("first binary", binary, len);
      dump("second binary", binary2, len2);
      fail(type, "JSON -> binary differs from JSON -> binary -> JSON -> binary", 0);
    }
    clarifai_free(json2);
    clarifai_free(binary2);
    clarifai_free(json);
    clarifai_free(binary);
  }
  free(text);
#endif
  return 0;
}
