/* migrate.c — applies versioned schema migrations (see migrate.h). */
#include "rooms/migrate.h"

#include "core/err.h"
#include "core/log.h"

#include <stdio.h>

int km_migrate_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int km_migrate(sqlite3 *db, const km_migration_t *migrations, int count, int *applied,
	       char *err, size_t errlen)
{
	if (applied)
		*applied = 0;
	for (int i = 0; i < count; i++)
		if (migrations[i].version != i + 1)
			return km_errf(KM_EINVAL, err, errlen, "migration %d has version %d, expected %d",
				       i, migrations[i].version, i + 1);
	int current = km_migrate_version(db);
	if (current < 0)
		return km_errf(KM_ESTORE, err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
	if (current > count)
		return km_errf(KM_EVERSION, err, errlen,
			       "database schema version %d is newer than this kamer (knows up to %d): "
			       "upgrade kamer or restore a matching backup",
			       current, count);
	for (int i = current; i < count; i++) {
		const km_migration_t *m = &migrations[i];
		char *emsg = NULL;
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", m->version);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (sqlite3_exec(db, m->sql, NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (sqlite3_exec(db, bump, NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		{
			char q[128];
			km_info("store", "migrated", "version=%d name=%s", m->version, km_log_quote(q, sizeof q, m->name));
		}
		if (applied)
			(*applied)++;
		continue;
	fail:
		km_errf(KM_ESTORE, err, errlen, "migration %d (%s) failed: %s", m->version, m->name,
			emsg ? emsg : sqlite3_errmsg(db));
		sqlite3_free(emsg);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return KM_ESTORE;
	}
	return 0;
}
