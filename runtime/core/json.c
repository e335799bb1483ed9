/* See json.h. Strict RFC 8259 (what Python's json accepts, minus NaN and
 * Infinity, which fastjson refuses too); nesting bounded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
    const char *p, *end;
    struct json *pool;
    size_t used, n;
    int depth;
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* the string token at ps->p (its opening quote): advance past it */
static int scan_string(struct parser *ps)
{
    ps->p++;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (ps->end - ps->p < 2)
                return -1;
            char e = ps->p[1];
            if (e == 'u') {
                if (ps->end - ps->p < 6)
                    return -1;
                for (int i = 2; i < 6; i++)
                    if (hexval(ps->p[i]) < 0)
                        return -1;
                ps->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e))
                return -1;
            ps->p += 2;
            continue;
        }
        ps->p++;
    }
    return -1;
}

static struct json *value(struct parser *ps);

static struct json *node(struct parser *ps, enum json_type t)
{
    if (ps->used >= ps->n)
        return NULL;
    struct json *v = &ps->pool[ps->used++];
    memset(v, 0, sizeof(*v));
    v->type = t;
    v->raw = ps->p;
    return v;
}

static struct json *container(struct parser *ps, int object)
{
    struct json *v = node(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (!v || ++ps->depth > 64)
        return NULL;
    ps->p++;
    skip_ws(ps);
    struct json **tail = &v->child;
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
        ps->p++;
        ps->depth--;
        v->rawlen = (size_t)(ps->p - v->raw);
        return v;
    }
    for (;;) {
        const char *key = NULL;
        size_t keylen = 0;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return NULL;
            key = ps->p + 1;
            if (scan_string(ps) < 0)
                return NULL;
            keylen = (size_t)(ps->p - 1 - key);
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return NULL;
            ps->p++;
            skip_ws(ps);
        }
        struct json *item = value(ps);
        if (!item)
            return NULL;
        item->key = key;
        item->keylen = keylen;
        *tail = item;
        tail = &item->next;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return NULL;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != (object ? '}' : ']'))
            return NULL;
        ps->p++;
        ps->depth--;
        v->rawlen = (size_t)(ps->p - v->raw);
        return v;
    }
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return -1;
    ps->p += n;
    return 0;
}

static struct json *value(struct parser *ps)
{
    if (ps->p >= ps->end)
        return NULL;
    char c = *ps->p;
    struct json *v;
    if (c == '{' || c == '[')
        return container(ps, c == '{');
    if (c == '"') {
        v = node(ps, JSON_STRING);
        if (!v || scan_string(ps) < 0)
            return NULL;
    } else if (c == 't' || c == 'f' || c == 'n') {
        v = node(ps, c == 't' ? JSON_TRUE : c == 'f' ? JSON_FALSE : JSON_NULL);
        if (!v || literal(ps, c == 't' ? "true" : c == 'f' ? "false" : "null") < 0)
            return NULL;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = node(ps, JSON_NUMBER);
        if (!v)
            return NULL;
        if (*ps->p == '-')
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return NULL;
        if (*ps->p == '0')
            ps->p++;
        else
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;
        if (ps->p < ps->end && *ps->p == '.') {
            ps->p++;
            if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
                return NULL;
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
            ps->p++;
            if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                ps->p++;
            if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
                return NULL;
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;
        }
    } else {
        return NULL;
    }
    v->rawlen = (size_t)(ps->p - v->raw);
    return v;
}

struct json *json_parse(const char *text, size_t len, struct json *pool, size_t n)
{
    struct parser ps = {.p = text, .end = text + len, .pool = pool, .n = n};
    skip_ws(&ps);
    struct json *v = value(&ps);
    if (!v)
        return NULL;
    skip_ws(&ps);
    return ps.p == ps.end ? v : NULL;
}

struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    struct json *found = NULL;
    /* keys ocirun looks up are plain ASCII: a raw key equal to them is that key */
    for (struct json *m = obj->child; m; m = m->next)
        if (m->keylen == n && !memcmp(m->key, key, n))
            found = m;
    return found;
}

static int put_utf8(char **o, char *end, unsigned cp)
{
    unsigned char b[4];
    int n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (end - *o < n)
        return -1;
    memcpy(*o, b, (size_t)n);
    *o += n;
    return 0;
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

long json_string(const struct json *v, char *out, size_t outlen)
{
    if (!v || v->type != JSON_STRING || outlen == 0)
        return -1;
    const char *p = v->raw + 1, *e = v->raw + v->rawlen - 1;
    char *o = out, *oend = out + outlen - 1;
    while (p < e) {
        unsigned cp;
        if (*p != '\\') {
            if (!*p || o >= oend)
                return -1;
            *o++ = *p++;
            continue;
        }
        char c = p[1];
        if (c == 'u') {
            cp = hex4(p + 2);
            p += 6;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u')
                    return -1;
                unsigned lo = hex4(p + 2);
                if (lo < 0xdc00 || lo >= 0xe000)
                    return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (cp == 0 || put_utf8(&o, oend, cp) < 0)
                return -1;
            continue;
        }
        cp = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : (unsigned char)c;
        if (o >= oend)
            return -1;
        *o++ = (char)cp;
        p += 2;
    }
    *o = 0;
    return (long)(o - out);
}

int json_int(const struct json *v, int64_t *out)
{
    if (!v || v->type != JSON_NUMBER || v->rawlen > 20)
        return -1;
    char buf[24];
    memcpy(buf, v->raw, v->rawlen);
    buf[v->rawlen] = 0;
    if (strpbrk(buf, ".eE"))
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(buf, &end, 10);
    if (errno || *end)
        return -1;
    *out = n;
    return 0;
}

static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    }
    return NULL;
}

int json_canonical_string(const struct json *v)
{
    if (!v || v->type != JSON_STRING)
        return 0;
    const char *p = v->raw + 1, *e = v->raw + v->rawlen - 1;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c != '\\') {
            if (c < 0x20 || c > 0x7e)
                return 0; /* json.dumps escapes these */
            p++;
            continue;
        }
        char n = p[1];
        if (n == 'u') {
            unsigned cp = hex4(p + 2);
            for (int i = 2; i < 6; i++)
                if (p[i] >= 'A' && p[i] <= 'F')
                    return 0; /* json.dumps writes lowercase hex */
            if ((cp >= 0x20 && cp <= 0x7e) || short_escape((unsigned char)cp))
                return 0; /* written plain, or with its short escape */
            p += 6;
            continue;
        }
        if (n == '/')
            return 0;
        p += 2;
    }
    return 1;
}

int json_quote(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
#define PUT(str)                  \
    do {                          \
        size_t l_ = strlen(str);  \
        if (o + l_ + 1 >= outlen) \
            return -1;            \
        memcpy(out + o, str, l_); \
        o += l_;                  \
    } while (0)
    PUT("\"");
    while (p < e) {
        unsigned cp = *p;
        int n = 1;
        if (cp >= 0x80) { /* UTF-8; anything malformed is written as U+FFFD */
            if ((cp & 0xe0) == 0xc0 && e - p >= 2)
                cp = (cp & 0x1f) << 6 | (p[1] & 0x3f), n = 2;
            else if ((cp & 0xf0) == 0xe0 && e - p >= 3)
                cp = (cp & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f), n = 3;
            else if ((cp & 0xf8) == 0xf0 && e - p >= 4)
                cp = (cp & 0x07) << 18 | (p[1] & 0x3f) << 12 | (p[2] & 0x3f) << 6 | (p[3] & 0x3f), n = 4;
            else
                cp = 0xfffd;
        }
        p += n;
        const char *esc = cp < 0x80 ? short_escape((unsigned char)cp) : NULL;
        char buf[16];
        if (esc) {
            PUT(esc);
        } else if (cp >= 0x20 && cp <= 0x7e) {
            buf[0] = (char)cp;
            buf[1] = 0;
            PUT(buf);
        } else if (cp >= 0x10000) {
            cp -= 0x10000;
            snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            PUT(buf);
        } else {
            snprintf(buf, sizeof(buf), "\\u%04x", cp);
            PUT(buf);
        }
    }
    PUT("\"");
#undef PUT
    out[o] = 0;
    return 0;
}
