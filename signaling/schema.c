/* schema.c — the field tables of every WSS message type and every JSON API
 * body, and the pure checks over them (schema.h). The limits are the ones
 * the handlers enforce (consult.c, media_ws.c, api_*.c), taken from the same
 * constants; a table never refuses what the web client, kamer-peer or the
 * load client send. No I/O, no logging, no globals beyond const tables. */
#include "signaling/schema.h"

#include "core/err.h"
#include "media/ice.h"
#include "media/sdp.h"
#include "rooms/accounts.h"
#include "rooms/consults.h"
#include "rooms/password.h"
#include "signaling/http.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_MAX 512         /* a link's token comes from a path of at most 511 bytes */
#define ID_MAX INT64_MAX

enum { T_STR = 1, T_INT = 2, T_BOOL = 4, T_ARR = 8, T_OBJ = 16 };
enum { OPT = 0, REQ = 1, NO_CTRL = 2, NOT_BLANK = 4 };

typedef struct schema schema_t;

typedef struct field {
	const char *name;
	unsigned types;            /* T_* mask */
	unsigned flags;            /* REQ, NO_CTRL (below 0x20, and DEL), NOT_BLANK (not only spaces) */
	long long min, max;        /* string: bytes; integer (and a boolean as 0/1 where one is allowed): value; list: items */
	const char *const *one_of; /* string: the allowed values (NULL-terminated), NULL: any */
	const schema_t *items;     /* list: each item is an object of this shape */
} field_t;

struct schema {
	const field_t *fields; /* ends with a NULL name */
	/* A member not in fields: fills *f and returns 0 to check it, -1 to
	 * refuse it. NULL: other members are ignored. */
	int (*other)(const char *name, field_t *f);
};

#define STR(n, fl, lo, hi) { n, T_STR, fl, lo, hi, NULL, NULL }
#define ENUM(n, fl, vals) { n, T_STR, fl, 1, 64, vals, NULL }
#define INT(n, fl, lo, hi) { n, T_INT, fl, lo, hi, NULL, NULL }
#define BOOL(n, fl) { n, T_BOOL, fl, 0, 1, NULL, NULL }
#define LIST(n, fl, lo, hi, sch) { n, T_ARR, fl, lo, hi, NULL, sch }
#define END { NULL, 0, 0, 0, 0, NULL, NULL }

static const char *const conns[] = { "pub", "sub", "echo", NULL };
static const char *const roles[] = { "admin", "clinician", NULL };
static const char *const kinds[] = { "patient", "colleague", NULL };

/* ---- WSS messages (docs/protocol.md) ---- */

static const field_t ws_none[] = { END };
static const field_t ws_join[] = { STR("token", REQ, 0, TOKEN_MAX), END }; /* a wrong one: link_invalid */
static const field_t ws_consent[] = { BOOL("accept", REQ), INT("version", REQ, 0, INT64_MAX), END };
static const field_t ws_name[] = { STR("display_name", REQ | NO_CTRL | NOT_BLANK, 1, KM_DISPLAY_NAME_MAX), END };
static const field_t ws_chat[] = { STR("text", REQ, 1, KM_CHAT_MAX), END };
static const field_t ws_private[] = { STR("text", REQ, 1, KM_CHAT_MAX), INT("participant", OPT, 1, ID_MAX), END };
static const field_t ws_watch[] = { INT("consult", REQ, 1, ID_MAX), END };
static const field_t ws_decide[] = { INT("participant", REQ, 1, ID_MAX), END };
static const field_t ws_offer[] = { STR("sdp", REQ, 0, KM_SDP_MAX_LEN), END };
static const field_t ws_answer[] = { ENUM("conn", OPT, conns), INT("version", REQ, 1, INT64_MAX),
				     STR("sdp", REQ, 0, KM_SDP_MAX_LEN), END };
static const field_t ws_candidate[] = { ENUM("conn", REQ, conns), STR("candidate", REQ, 0, KM_ICE_CANDIDATE_MAX), END };
static const field_t ws_close[] = { ENUM("conn", REQ, conns), END };

static const struct {
	const char *type;
	schema_t s;
} ws_types[] = {
	{ "ping", { ws_none, NULL } },
	{ "join", { ws_join, NULL } },
	{ "resume", { ws_none, NULL } },
	{ "consent", { ws_consent, NULL } },
	{ "name", { ws_name, NULL } },
	{ "leave", { ws_none, NULL } },
	{ "chat", { ws_chat, NULL } },
	{ "private", { ws_private, NULL } },
	{ "watch", { ws_watch, NULL } },
	{ "admit", { ws_decide, NULL } },
	{ "refuse", { ws_decide, NULL } },
	{ "end", { ws_none, NULL } },
	{ "media.publish", { ws_offer, NULL } },
	{ "media.echo", { ws_offer, NULL } },
	{ "media.subscribe", { ws_none, NULL } },
	{ "media.answer", { ws_answer, NULL } },
	{ "media.candidate", { ws_candidate, NULL } },
	{ "media.close", { ws_close, NULL } },
};
#define N_WS (sizeof ws_types / sizeof ws_types[0])

/* ---- API bodies (docs/api.md; the handlers in api*.c) ---- */

static const field_t api_none[] = { END };
static const field_t api_signin[] = { STR("email", REQ, 1, 254), STR("password", REQ, 1, KM_PASSWORD_INPUT_MAX), END };
/* One of the two; a wrong one of any length is a failed sign-in (401). */
static const field_t api_totp[] = { STR("code", OPT, 0, 64), STR("recovery_code", OPT, 0, 64), END };
static const field_t api_enrol_start[] = { STR("password", OPT, 1, KM_PASSWORD_INPUT_MAX), END };
static const field_t api_enrol_confirm[] = { STR("code", REQ, 1, 16), END };
static const field_t api_setup_check[] = { STR("token", REQ, 1, 64), END };
static const field_t api_setup[] = { STR("token", REQ, 1, 64), STR("password", REQ, 1, KM_PASSWORD_INPUT_MAX), END };
static const field_t api_password[] = { STR("current", REQ, 1, KM_PASSWORD_INPUT_MAX),
					STR("new", REQ, 1, KM_PASSWORD_INPUT_MAX), END };
static const field_t api_consent[] = { STR("nl", REQ, 1, 8000), STR("en", REQ, 1, 8000), END };
static const field_t api_user_new[] = { STR("email", REQ, 1, 254), ENUM("role", REQ, roles), END };
static const field_t api_user_patch[] = { ENUM("role", REQ, roles), END };
static const field_t api_cookie[] = { STR("resume", REQ, 1, 64), END };
static const field_t api_invitee[] = { STR("email", REQ, 1, 254), ENUM("kind", REQ, kinds), END };
static const schema_t invitee = { api_invitee, NULL };
static const field_t api_consult[] = {
	STR("label", OPT, 0, KM_CONSULT_LABEL_MAX), INT("starts_at", REQ, INT64_MIN, INT64_MAX),
	INT("expires_at", REQ, INT64_MIN, INT64_MAX), LIST("invitees", REQ, 1, KM_CONSULT_MAX_INVITEES, &invitee), END
};
static const field_t api_probe[] = { STR("key", REQ, 1, 64), STR("value", REQ, 0, 1024), END };
static const field_t api_clock[] = { INT("advance", REQ, 0, 4000LL * 86400), END };

/* PUT /admin/policy: any of the policy's settings, each a number (or a
 * boolean as 0/1) in its range (rooms/accounts.c); nothing else. */
static int policy_field(const char *name, field_t *f)
{
	long *v, mn, mx;
	const char *n;
	for (int i = 0; (n = km_policy_field(NULL, i, &v, &mn, &mx)); i++) {
		if (strcmp(n, name) == 0) {
			*f = (field_t){ n, T_INT | T_BOOL, OPT, mn, mx, NULL, NULL };
			return 0;
		}
	}
	return -1;
}

static const struct {
	int method;
	const char *pattern;
	schema_t s;
} api_bodies[] = {
	{ KM_POST, "/api/v1/auth/signin", { api_signin, NULL } },
	{ KM_POST, "/api/v1/auth/totp", { api_totp, NULL } },
	{ KM_POST, "/api/v1/auth/enrol/start", { api_enrol_start, NULL } },
	{ KM_POST, "/api/v1/auth/enrol/confirm", { api_enrol_confirm, NULL } },
	{ KM_POST, "/api/v1/auth/setup/check", { api_setup_check, NULL } },
	{ KM_POST, "/api/v1/auth/setup", { api_setup, NULL } },
	{ KM_POST, "/api/v1/auth/signout", { api_none, NULL } },
	{ KM_POST, "/api/v1/auth/password", { api_password, NULL } },
	{ KM_PUT, "/api/v1/admin/consent", { api_consent, NULL } },
	{ KM_POST, "/api/v1/admin/users", { api_user_new, NULL } },
	{ KM_PATCH, "/api/v1/admin/users/{id}", { api_user_patch, NULL } },
	{ KM_POST, "/api/v1/admin/users/{id}/disable", { api_none, NULL } },
	{ KM_POST, "/api/v1/admin/users/{id}/enable", { api_none, NULL } },
	{ KM_POST, "/api/v1/admin/users/{id}/reset-2fa", { api_none, NULL } },
	{ KM_POST, "/api/v1/admin/users/{id}/setup-link", { api_none, NULL } },
	{ KM_PUT, "/api/v1/admin/policy", { api_none, policy_field } },
	{ KM_POST, "/api/v1/participant/cookie", { api_cookie, NULL } },
	{ KM_POST, "/api/v1/consults", { api_consult, NULL } },
	{ KM_POST, "/api/v1/consults/{id}/end", { api_none, NULL } },
	{ KM_POST, "/api/v1/invitations/{id}/resend", { api_none, NULL } },
	{ KM_POST, "/api/v1/invitations/{id}/revoke", { api_none, NULL } },
	{ KM_POST, "/api/v1/test/probe", { api_probe, NULL } },
	{ KM_POST, "/api/v1/test/clock", { api_clock, NULL } },
	{ KM_POST, "/api/v1/test/retention", { api_none, NULL } },
	{ KM_POST, "/api/v1/test/expire", { api_none, NULL } },
};
#define N_API (sizeof api_bodies / sizeof api_bodies[0])

/* ---- the checks ---- */

static unsigned type_of(const json_t *v)
{
	return json_is_string(v) ? T_STR : json_is_integer(v) ? T_INT : json_is_boolean(v) ? T_BOOL
	       : json_is_array(v) ? T_ARR : json_is_object(v) ? T_OBJ : 0;
}

static const char *type_name(const json_t *v)
{
	return json_is_string(v) ? "a string" : json_is_integer(v) ? "an integer" : json_is_real(v) ? "a fraction"
	       : json_is_boolean(v) ? "a boolean" : json_is_array(v) ? "a list" : json_is_object(v) ? "an object"
	       : "null";
}

static const char *wanted(unsigned types)
{
	return types == T_STR ? "a string" : types == T_INT ? "an integer" : types == T_BOOL ? "a boolean"
	       : types == (T_INT | T_BOOL) ? "a number" : types == T_ARR ? "a list" : "an object";
}

/* 1 if containers nest more than `levels` levels deep from v (a scalar is
 * 0 levels, [] and {} 1). Recursion stops at `levels`. */
static int too_deep(json_t *v, int levels)
{
	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (levels <= 0)
		return 1;
	const char *k;
	size_t i;
	json_t *x;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (too_deep(x, levels - 1))
				return 1;
	} else {
		json_array_foreach(v, i, x)
			if (too_deep(x, levels - 1))
				return 1;
	}
	return 0;
}

/* How many bytes of a member's name a reason repeats: at most 64, cut
 * before a UTF-8 continuation byte so that the reason stays valid UTF-8. */
static int name_len(const char *k)
{
	size_t n = strnlen(k, 64);
	while (n > 0 && k[n] && ((unsigned char)k[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* The root object's depth, blaming the member that is too deep. */
static int depth_check(json_t *root, char *err, size_t errlen)
{
	const char *k;
	json_t *x;
	json_object_foreach(root, k, x)
		if (too_deep(x, KM_SCHEMA_MAX_DEPTH - 1))
			return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%.*s\": nested deeper than %d levels",
				       name_len(k), k, KM_SCHEMA_MAX_DEPTH);
	return 0;
}

static int check_object(const schema_t *s, json_t *obj, const char *prefix, char *err, size_t errlen);

static int check_string(const field_t *f, const json_t *v, const char *path, char *err, size_t errlen)
{
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (f->one_of) {
		char list[128] = "";
		for (const char *const *o = f->one_of; *o; o++) {
			if (strlen(*o) == len && memcmp(*o, s, len) == 0)
				return 0;
			size_t n = strlen(list);
			snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *o);
		}
		return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": must be one of %s", path, list);
	}
	if ((long long)len < f->min)
		return f->min == 1 ? km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": empty string", path)
				   : km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": string shorter than %lld bytes",
					     path, f->min);
	if ((long long)len > f->max)
		return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": string longer than %lld bytes", path, f->max);
	if (f->flags & NO_CTRL)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": control character at byte %zu",
					       path, i);
	if ((f->flags & NOT_BLANK) && strspn(s, " ") >= len)
		return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": only blanks", path);
	return 0;
}

static int check_list(const field_t *f, json_t *v, const char *path, char *err, size_t errlen)
{
	size_t n = json_array_size(v), i;
	json_t *x;
	if ((long long)n < f->min || (long long)n > f->max)
		return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": list of %lld to %lld items expected, got %zu",
			       path, f->min, f->max, n);
	if (!f->items)
		return 0;
	json_array_foreach(v, i, x) {
		char p[160];
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		if (!json_is_object(x))
			return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": expected an object, got %s", p,
				       type_name(x));
		int rc = check_object(f->items, x, p, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_value(const field_t *f, json_t *v, const char *path, char *err, size_t errlen)
{
	unsigned t = type_of(v);
	if (!(t & f->types))
		return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": expected %s, got %s", path, wanted(f->types),
			       type_name(v));
	if (t == T_STR)
		return check_string(f, v, path, err, errlen);
	if (t == T_ARR)
		return check_list(f, v, path, err, errlen);
	if (t == T_INT || (t == T_BOOL && (f->types & T_INT))) {
		/* a boolean where a number is allowed counts as 0 or 1 */
		long long n = t == T_BOOL ? json_is_true(v) : (long long)json_integer_value(v);
		if (n < f->min || n > f->max)
			return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": %lld is out of range %lld..%lld", path,
				       n, f->min, f->max);
	}
	return 0;
}

static int in_table(const field_t *fields, const char *name)
{
	for (const field_t *f = fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return 1;
	return 0;
}

static int check_object(const schema_t *s, json_t *obj, const char *prefix, char *err, size_t errlen)
{
	char path[200];
	for (const field_t *f = s->fields; f->name; f++) {
		snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
		json_t *v = json_object_get(obj, f->name);
		if (!v) {
			if (f->flags & REQ)
				return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": missing", path);
			continue;
		}
		int rc = check_value(f, v, path, err, errlen);
		if (rc)
			return rc;
	}
	if (!s->other)
		return 0;
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		field_t f;
		if (in_table(s->fields, k))
			continue;
		snprintf(path, sizeof path, "%s%s%.*s", prefix, prefix[0] ? "." : "", name_len(k), k);
		if (s->other(k, &f) != 0)
			return km_errf(KM_SCHEMA_EFIELD, err, errlen, "field \"%s\": not a known setting", path);
		int rc = check_value(&f, v, path, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Parses buf as one JSON object (duplicate keys refused, as before). */
static int parse_object(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	*out = NULL;
	json_t *j = json_loadb(buf ? buf : "", buf ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		/* jansson may quote a piece of the input: keep the reason ASCII */
		for (char *p = je.text; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		return km_errf(KM_SCHEMA_EJSON, err, errlen, "not valid JSON: %s", je.text);
	}
	if (!json_is_object(j)) {
		int rc = km_errf(KM_SCHEMA_EOBJECT, err, errlen, "expected a JSON object, got %s", type_name(j));
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

int km_schema_ws_parse(const char *buf, size_t len, json_t **out, const char **type, char *err, size_t errlen)
{
	static const field_t ref = STR("ref", OPT, 0, KM_SCHEMA_REF_MAX);
	if (type)
		*type = NULL;
	int rc = parse_object(buf, len, out, err, errlen);
	if (rc)
		return rc;
	json_t *jt = json_object_get(*out, "type");
	if (!json_is_string(jt))
		return km_errf(KM_SCHEMA_ETYPE, err, errlen, "the message has no string \"type\"");
	const char *t = json_string_value(jt);
	size_t tl = json_string_length(jt);
	if (type)
		*type = t;
	const schema_t *s = NULL;
	for (size_t i = 0; i < N_WS && !s; i++)
		if (strlen(ws_types[i].type) == tl && memcmp(ws_types[i].type, t, tl) == 0)
			s = &ws_types[i].s;
	if (!s)
		return km_errf(KM_SCHEMA_EUNKNOWN, err, errlen, "unknown message type");
	json_t *jr = json_object_get(*out, "ref");
	if (jr && (rc = check_value(&ref, jr, "ref", err, errlen)))
		return rc;
	if ((rc = depth_check(*out, err, errlen)))
		return rc;
	return check_object(s, *out, "", err, errlen);
}

const char *km_schema_ws_ref(const json_t *msg)
{
	json_t *r = json_object_get(msg, "ref");
	return json_is_string(r) && json_string_length(r) <= KM_SCHEMA_REF_MAX ? json_string_value(r) : NULL;
}

int km_schema_api_body(int method, const char *pattern, const char *buf, size_t len, json_t **out, char *err,
		       size_t errlen)
{
	int rc = parse_object(buf, len, out, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < N_API; i++) {
		if (api_bodies[i].method != method || !pattern || strcmp(api_bodies[i].pattern, pattern) != 0)
			continue;
		if ((rc = depth_check(*out, err, errlen)))
			return rc;
		return check_object(&api_bodies[i].s, *out, "", err, errlen);
	}
	return km_errf(KM_SCHEMA_ENOSCHEMA, err, errlen, "no body schema for this route");
}

const char *km_schema_ws_code(int rc)
{
	switch (rc) {
	case KM_SCHEMA_EJSON: return "invalid_json";
	case KM_SCHEMA_EOBJECT: return "invalid_message";
	case KM_SCHEMA_ETYPE: return "missing_type";
	case KM_SCHEMA_EUNKNOWN: return "unknown_type";
	case KM_SCHEMA_EFIELD: return "invalid_field";
	default: return NULL;
	}
}

const char *km_schema_api_code(int rc)
{
	switch (rc) {
	case KM_SCHEMA_EJSON: return "invalid_json";
	case KM_SCHEMA_EOBJECT: return "invalid_body";
	case KM_SCHEMA_EFIELD: return "invalid_field";
	default: return NULL;
	}
}

int km_schema_err_field(const char *err, char *name, size_t len)
{
	static const char pre[] = "field \"";
	if (!err || !name || !len || strncmp(err, pre, sizeof pre - 1) != 0)
		return -1;
	const char *b = err + sizeof pre - 1, *e = strstr(b, "\": ");
	if (!e || (size_t)(e - b) >= len)
		return -1;
	memcpy(name, b, (size_t)(e - b));
	name[e - b] = 0;
	return 0;
}

const char *km_schema_ws_type(size_t i)
{
	return i < N_WS ? ws_types[i].type : NULL;
}

const char *km_schema_api_route(size_t i, int *method)
{
	if (i >= N_API)
		return NULL;
	if (method)
		*method = api_bodies[i].method;
	return api_bodies[i].pattern;
}
