/* store.h — kamer's persistent store, behind one interface so that a
 * PostgreSQL backend can replace the embedded SQLite one without touching
 * callers. Callers see domain operations, never SQL.
 *
 * Durability: every function that reports success has committed its
 * transaction with SQLite in WAL mode and synchronous=FULL, so the write
 * survives a kill -9 of the process and a power loss.
 *
 * Threading: a km_store_t belongs to one thread (the signaling thread in
 * `kamer serve`, the main thread in the CLI). */
#ifndef KM_STORE_H
#define KM_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct km_store km_store_t;

/* Opens (creating if missing) the database at path (file mode 0600), sets WAL
 * and synchronous=FULL, and applies pending schema migrations. Refuses a
 * database whose schema is newer than this binary (KM_EVERSION) with a
 * reason naming both versions. *out is new; free with km_store_close. */
int km_store_open(const char *path, km_store_t **out, char *err, size_t errlen);

/* Checkpoints the WAL into the main file (TRUNCATE) and closes. NULL is ok. */
void km_store_close(km_store_t *s);

/* The schema version of the open database, and the newest this binary knows. */
int km_store_schema_version(km_store_t *s);
int km_store_schema_latest(void);

/* Test hooks (only reachable through `test_hooks = true`): a durable
 * key/value write used by the crash test, and its read-back.
 * km_store_probe_put: returns 0, or KM_EEXIST if key is taken.
 * km_store_probe_get: copies the value into val; KM_ENOTFOUND if absent. */
int km_store_probe_put(km_store_t *s, const char *key, const char *value);
int km_store_probe_get(km_store_t *s, const char *key, char *val, size_t vallen);
/* Counts the probe rows (for tests). */
int km_store_probe_count(km_store_t *s, int64_t *count);

/* The last error message of the store (for logs; never contains data). */
const char *km_store_errmsg(km_store_t *s);
/* 1 if the last failed write found the disk full (until a write succeeds):
 * for answers that say so instead of a generic failure. */
int km_store_full(const km_store_t *s);

#endif
