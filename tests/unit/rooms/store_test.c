/* store_test.c — the SQLite store: pragmas, migrations (order, refusal of a
 * newer database, rollback of a failed step) and the durable probe table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "rooms/migrate.h"
#include "rooms/store.h"
#include "rooms/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], db[300];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/kamer-store-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof db, "%s/kamer.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int pragma_int(sqlite3 *d, const char *sql)
{
	sqlite3_stmt *st;
	int v = -1;
	assert_int_equal(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_open_sets_pragmas_and_migrates(void **state)
{
	km_store_t *s;
	char err[256];
	assert_int_equal(km_store_open(db, &s, err, sizeof err), 0);
	assert_int_equal(km_store_schema_version(s), km_store_schema_latest());
	assert_int_equal(pragma_int(s->db, "PRAGMA synchronous"), 2); /* FULL */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	km_store_close(s);
	struct stat sb;
	assert_int_equal(stat(db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_probe_durable_across_reopen(void **state)
{
	km_store_t *s;
	char err[256], val[64];
	int64_t n = -1;
	assert_int_equal(km_store_open(db, &s, err, sizeof err), 0);
	assert_int_equal(km_store_probe_put(s, "a", "1"), 0);
	assert_int_equal(km_store_probe_put(s, "b", "2"), 0);
	assert_int_equal(km_store_probe_put(s, "a", "3"), KM_EEXIST);
	assert_int_equal(km_store_probe_get(s, "nope", val, sizeof val), KM_ENOTFOUND);
	km_store_close(s);
	assert_int_equal(km_store_open(db, &s, err, sizeof err), 0);
	assert_int_equal(km_store_probe_get(s, "a", val, sizeof val), 0);
	assert_string_equal(val, "1");
	assert_int_equal(km_store_probe_count(s, &n), 0);
	assert_int_equal(n, 2);
	km_store_close(s);
}

static void test_newer_database_refused(void **state)
{
	km_store_t *s;
	char err[256];
	assert_int_equal(km_store_open(db, &s, err, sizeof err), 0);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", km_store_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK);
	km_store_close(s);
	assert_int_equal(km_store_open(db, &s, err, sizeof err), KM_EVERSION);
	assert_null(s);
	char want[96];
	snprintf(want, sizeof want, "schema version %d is newer than this kamer (knows up to %d)",
		 km_store_schema_latest() + 1, km_store_schema_latest());
	assert_non_null(strstr(err, want));
}

static void test_failed_migration_rolls_back(void **state)
{
	sqlite3 *d;
	char err[256];
	int applied = -1;
	assert_int_equal(sqlite3_open(db, &d), SQLITE_OK);
	const km_migration_t list[] = {
		{ 1, "one", "CREATE TABLE a (x INTEGER);" },
		{ 2, "two", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);" },
	};
	assert_int_equal(km_migrate(d, list, 2, &applied, err, sizeof err), KM_ESTORE);
	assert_int_equal(applied, 1);
	assert_int_equal(km_migrate_version(d), 1);
	assert_non_null(strstr(err, "migration 2 (two) failed"));
	/* Table b of the failed step must not exist. */
	assert_int_equal(pragma_int(d, "SELECT count(*) FROM sqlite_master WHERE name = 'b'"), 0);
	assert_int_equal(pragma_int(d, "SELECT count(*) FROM sqlite_master WHERE name = 'a'"), 1);
	/* Fixed list: picks up at 2, runs only that. */
	const km_migration_t fixed[] = {
		{ 1, "one", "CREATE TABLE a (x INTEGER);" },
		{ 2, "two", "CREATE TABLE b (x INTEGER);" },
	};
	assert_int_equal(km_migrate(d, fixed, 2, &applied, err, sizeof err), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(km_migrate(d, fixed, 2, &applied, err, sizeof err), 0);
	assert_int_equal(applied, 0);
	sqlite3_close(d);
}

static void test_migration_list_must_be_ordered(void **state)
{
	sqlite3 *d;
	char err[256];
	assert_int_equal(sqlite3_open(":memory:", &d), SQLITE_OK);
	const km_migration_t list[] = { { 1, "one", "SELECT 1;" }, { 3, "three", "SELECT 1;" } };
	assert_int_equal(km_migrate(d, list, 2, NULL, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "expected 2"));
	sqlite3_close(d);
}

static void test_unopenable_path(void **state)
{
	km_store_t *s;
	char err[256];
	assert_int_equal(km_store_open("/nonexistent-dir/kamer.db", &s, err, sizeof err), KM_EIO);
	assert_non_null(strstr(err, "cannot open database"));
}

int main(void)
{
	km_log_set_level(KM_LOG_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_sets_pragmas_and_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_durable_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_list_must_be_ordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unopenable_path, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
