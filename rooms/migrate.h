/* migrate.h — versioned schema migrations for the SQLite store (internal to
 * rooms/). A migration is one SQL script; each runs in its own transaction
 * together with the version bump, so a crash leaves either the old or the
 * new version. The version is kept in PRAGMA user_version. */
#ifndef KM_MIGRATE_H
#define KM_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

typedef struct km_migration {
	int version; /* 1, 2, 3, ... in order, no gaps */
	const char *name;
	const char *sql;
} km_migration_t;

/* The migrations of this binary (schema.c). */
extern const km_migration_t km_schema_migrations[];
extern const int km_schema_count;

/* Applies migrations[i] for every version above the database's, in order.
 * Returns 0, KM_EVERSION if the database is newer than the last migration,
 * KM_EINVAL if the list is not 1..n in order, or KM_ESTORE if a script
 * fails (that migration is rolled back; earlier ones stay). *applied (may be
 * NULL) gets how many ran. */
int km_migrate(sqlite3 *db, const km_migration_t *migrations, int count, int *applied,
	       char *err, size_t errlen);

/* PRAGMA user_version of db, or -1. */
int km_migrate_version(sqlite3 *db);

#endif
