/* A small JSON reader for the front door (door.c): the records ocirun wrote
 * itself (state.json), nothing else. Strings keep their raw bytes as written
 * (ensure_ascii escapes, which `state` prints again byte for byte) and are
 * decoded on demand. libc only. No CDEF markers: private to C.
 */
#ifndef OCIRUN_JSON_H
#define OCIRUN_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    const char *raw; /* the token as written: a string with its quotes */
    size_t rawlen;
    const char *key; /* a member's key, raw without its quotes */
    size_t keylen;
    struct json *child; /* first element or member */
    struct json *next;
};

/* Parse text[0..len) into nodes from pool (n of them). NULL when it is not
 * one JSON document, or has more nodes than the pool. */
struct json *json_parse(const char *text, size_t len, struct json *pool, size_t n);

/* The member `key` of an object (the last one, as Python's json keeps), or NULL. */
struct json *json_get(const struct json *obj, const char *key);

/* A string's value, decoded (UTF-8), into out (NUL-terminated): its length,
 * or -1 if it is no string, holds a NUL or a lone surrogate, or does not fit. */
long json_string(const struct json *v, char *out, size_t outlen);

/* An integer number's value: 0, or -1 if it is no integer or out of range. */
int json_int(const struct json *v, int64_t *out);

/* 1 when a string token is exactly what Python's json.dumps (ensure_ascii)
 * writes for its value: then its raw bytes may be printed again. */
int json_canonical_string(const struct json *v);

/* A string written the way json.dumps (ensure_ascii) writes it, into out. 0, or -1 if it does not fit. */
int json_quote(const char *s, size_t len, char *out, size_t outlen);

#endif
