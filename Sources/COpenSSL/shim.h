#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
/* libcrypto's base64 codec, SHA-256 (an uploaded input's id from its content) and random bytes
   (an add job's id). */
#include <openssl/evp.h>
#include <openssl/rand.h>
#endif
