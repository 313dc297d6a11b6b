/* store_probe.c — the test-hook key/value table used by the crash test. */
#include "core/err.h"
#include "rooms/store_int.h"

#include <stdio.h>
#include <time.h>

int km_store_probe_put(km_store_t *s, const char *key, const char *value)
{
	sqlite3_stmt *st = km__store_stmt(s, KM__STMT_PROBE_PUT,
					  "INSERT INTO test_probe(key, value, created_at) VALUES (?, ?, ?)");
	if (!st)
		return KM_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		s->full = 0;
		return 0;
	}
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return KM_EEXIST;
	return km__store_fail(s, rc, KM_ESTORE);
}

int km_store_probe_get(km_store_t *s, const char *key, char *val, size_t vallen)
{
	sqlite3_stmt *st = km__store_stmt(s, KM__STMT_PROBE_GET, "SELECT value FROM test_probe WHERE key = ?");
	if (!st)
		return KM_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int ret = KM_ENOTFOUND;
	if (rc == SQLITE_ROW) {
		snprintf(val, vallen, "%s", (const char *)sqlite3_column_text(st, 0));
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = KM_ESTORE;
	}
	sqlite3_reset(st);
	return ret;
}

int km_store_probe_count(km_store_t *s, int64_t *count)
{
	sqlite3_stmt *st = km__store_stmt(s, KM__STMT_PROBE_COUNT, "SELECT count(*) FROM test_probe");
	if (!st)
		return KM_ESTORE;
	int ret = KM_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		ret = 0;
	}
	sqlite3_reset(st);
	return ret;
}
