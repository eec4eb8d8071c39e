#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H
#include <jansson.h>

/* json_typeof is a macro, which Swift cannot call. */
static inline json_type cjansson_typeof(const json_t *value) { return json_typeof(value); }
#endif
