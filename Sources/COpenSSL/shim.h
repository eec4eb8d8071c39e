#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
/* Only libcrypto's base64 codec is used. */
#include <openssl/evp.h>
#endif
