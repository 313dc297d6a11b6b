/* ws_msg_fuzz.c — libFuzzer harness for the WSS message schema
 * (signaling/schema.h): any bytes give one of the schema's results, never a
 * crash; every refusal has a wire code and a reason that is valid UTF-8 (it
 * goes back to the client inside a JSON error), a field failure names its
 * field; and a message that is accepted, written back with jansson and
 * parsed again, is accepted again as the same type and the same object. */
#include "signaling/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reason as the server sends it: a JSON string (NULL if not UTF-8). */
static void check_reason(int rc, const char *err)
{
	char name[96];
	CHECK(err[0] != 0);
	json_t *s = json_string(err);
	CHECK(s != NULL);
	json_decref(s);
	if (rc == KM_SCHEMA_EFIELD)
		CHECK(km_schema_err_field(err, name, sizeof name) == 0); /* "" is a valid member name */
}

static void round_trip(json_t *m, const char *type, size_t flags)
{
	char *s = json_dumps(m, flags);
	CHECK(s != NULL);
	json_t *m2 = NULL;
	const char *t2 = NULL;
	char err[256] = "";
	CHECK(km_schema_ws_parse(s, strlen(s), &m2, &t2, err, sizeof err) == KM_SCHEMA_OK);
	CHECK(t2 != NULL && strcmp(type, t2) == 0);
	CHECK(json_equal(m, m2));
	json_decref(m2);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m = NULL;
	const char *type = NULL;
	char err[256] = "";
	int rc = km_schema_ws_parse((const char *)data, size, &m, &type, err, sizeof err);
	CHECK(rc <= KM_SCHEMA_OK && rc >= KM_SCHEMA_EFIELD);
	CHECK((km_schema_ws_code(rc) == NULL) == (rc == KM_SCHEMA_OK));
	if (rc == KM_SCHEMA_EJSON || rc == KM_SCHEMA_EOBJECT) {
		CHECK(m == NULL && type == NULL);
		check_reason(rc, err);
		return 0;
	}
	CHECK(json_is_object(m));
	CHECK((type != NULL) == (rc != KM_SCHEMA_ETYPE));
	const char *ref = km_schema_ws_ref(m);
	CHECK(!ref || strlen(ref) <= KM_SCHEMA_REF_MAX);
	if (rc != KM_SCHEMA_OK) {
		check_reason(rc, err);
	} else {
		round_trip(m, type, JSON_COMPACT);
		round_trip(m, type, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_SORT_KEYS);
	}
	json_decref(m);
	return 0;
}
