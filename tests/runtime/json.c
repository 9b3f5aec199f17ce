/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct p {
	const char *s, *end;
	int depth;
};

static void ws(struct p *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\t' || *p->s == '\r'))
		p->s++;
}

static int value(struct p *p, struct json *out);

static void put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if ((c | 32) >= 'a' && (c | 32) <= 'f')
			*v |= (unsigned)((c | 32) - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

static int string(struct p *p, char **out, size_t *len)
{
	char *o;
	size_t n = 0;

	if (p->s >= p->end || *p->s != '"')
		return -1;
	p->s++;
	{	/* the unescaped string is at most as long as its source */
		const char *e = p->s;

		while (e < p->end && *e != '"')
			e += (*e == '\\' && e + 1 < p->end) ? 2 : 1;
		o = malloc((size_t)(e - p->s) + 1);
	}
	if (!o)
		return -1;
	while (p->s < p->end && *p->s != '"') {
		char c = *p->s++;

		if (c != '\\') {
			o[n++] = c;
			continue;
		}
		if (p->s >= p->end)
			goto bad;
		c = *p->s++;
		switch (c) {
		case 'n': o[n++] = '\n'; break;
		case 't': o[n++] = '\t'; break;
		case 'r': o[n++] = '\r'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'u': {
			unsigned cp, lo;

			if (p->end - p->s < 4 || hex4(p->s, &cp))
				goto bad;
			p->s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p->end - p->s >= 6 && p->s[0] == '\\' &&
			    p->s[1] == 'u' && !hex4(p->s + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p->s += 6;
			}
			put_utf8(o, &n, cp);
			break;
		}
		default: o[n++] = c; break;
		}
	}
	if (p->s >= p->end)
		goto bad;
	p->s++;
	o[n] = '\0';
	*out = o;
	*len = n;
	return 0;
bad:
	free(o);
	return -1;
}

/* grows to the next power of two when n reaches one */
static int push(struct json *j, struct json *v, char *key)
{
	if ((j->n & (j->n - 1)) == 0) {
		size_t cap = j->n ? j->n * 2 : 1;
		struct json *ni = realloc(j->items, cap * sizeof(*ni));
		char **nk;

		if (!ni)
			return -1;
		j->items = ni;
		if (j->kind == JSON_OBJ) {
			nk = realloc(j->keys, cap * sizeof(*nk));
			if (!nk)
				return -1;
			j->keys = nk;
		}
	}
	if (j->kind == JSON_OBJ)
		j->keys[j->n] = key;
	j->items[j->n++] = *v;
	return 0;
}

static void clear(struct json *j);

static int value(struct p *p, struct json *out)
{
	memset(out, 0, sizeof(*out));
	ws(p);
	if (p->s >= p->end || ++p->depth > 64)
		return -1;
	if (*p->s == '{' || *p->s == '[') {
		char close = *p->s == '{' ? '}' : ']';

		out->kind = *p->s == '{' ? JSON_OBJ : JSON_ARR;
		p->s++;
		ws(p);
		if (p->s < p->end && *p->s == close) {
			p->s++;
			p->depth--;
			return 0;
		}
		for (;;) {
			struct json v;
			char *key = NULL;
			size_t kl;

			ws(p);
			if (out->kind == JSON_OBJ) {
				if (string(p, &key, &kl))
					goto bad;
				ws(p);
				if (p->s >= p->end || *p->s++ != ':') {
					free(key);
					goto bad;
				}
			}
			if (value(p, &v) || push(out, &v, key)) {
				free(key);
				goto bad;
			}
			ws(p);
			if (p->s < p->end && *p->s == ',') {
				p->s++;
				continue;
			}
			if (p->s < p->end && *p->s == close) {
				p->s++;
				break;
			}
			goto bad;
		}
		p->depth--;
		return 0;
bad:
		clear(out);
		return -1;
	}
	if (*p->s == '"') {
		out->kind = JSON_STR;
		p->depth--;
		return string(p, &out->str, &out->len);
	}
	if (p->end - p->s >= 4 && !memcmp(p->s, "true", 4)) {
		out->kind = JSON_BOOL;
		out->num = 1;
		p->s += 4;
	} else if (p->end - p->s >= 5 && !memcmp(p->s, "false", 5)) {
		out->kind = JSON_BOOL;
		p->s += 5;
	} else if (p->end - p->s >= 4 && !memcmp(p->s, "null", 4)) {
		p->s += 4;
	} else {
		char buf[64], *e;
		size_t n = 0;

		while (p->s + n < p->end && n < 63 && strchr("+-0123456789.eE", p->s[n]))
			n++;
		memcpy(buf, p->s, n);
		buf[n] = '\0';
		out->kind = JSON_NUM;
		out->num = strtod(buf, &e);
		if (!n || *e)
			return -1;
		p->s += n;
	}
	p->depth--;
	return 0;
}

static void clear(struct json *j)
{
	for (size_t i = 0; i < j->n; i++) {
		clear(&j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
	memset(j, 0, sizeof(*j));
}

struct json *json_parse(const char *text, size_t len)
{
	struct p p = { text, text + len, 0 };
	struct json *j = malloc(sizeof(*j));

	if (!j)
		return NULL;
	if (value(&p, j)) {
		free(j);
		return NULL;
	}
	return j;
}

struct json *json_parse_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	struct json *j;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	j = json_parse(buf, (size_t)n);
	free(buf);
	return j;
}

void json_free(struct json *j)
{
	if (j) {
		clear(j);
		free(j);
	}
}

const struct json *json_get(const struct json *o, const char *key)
{
	if (!o || o->kind != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}
