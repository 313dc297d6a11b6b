/* store_int.h — internals shared by the store_*.c files of the SQLite
 * backend and the audit log (rooms/audit*.c). Nothing outside rooms/ includes it. */
#ifndef KM_STORE_INT_H
#define KM_STORE_INT_H

#include "rooms/store.h"

#include <sqlite3.h>

/* Prepared statements, cached per store; one id per statement. */
enum {
	KM__STMT_PROBE_PUT,
	KM__STMT_PROBE_GET,
	KM__STMT_PROBE_COUNT,
	KM__STMT_MAX
};

struct km_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[KM__STMT_MAX];
	int full; /* the last failed write found the disk full (cleared by a commit) */
};

/* KM_EFULL (and remembers it) if the SQLite result sqlite_rc says the disk
 * is full, else otherwise. */
int km__store_fail(km_store_t *s, int sqlite_rc, int otherwise);

/* Returns the cached statement id (prepared from sql on first use), reset
 * and with bindings cleared; NULL if it cannot be prepared. Borrowed. */
sqlite3_stmt *km__store_stmt(km_store_t *s, int id, const char *sql);

/* A write transaction that nests: BEGIN IMMEDIATE when none is open, else a
 * savepoint, so that a domain write can run alone or inside a caller's
 * transaction (with its audit row). km__store_end commits (or releases)
 * when rc is 0 and rolls back otherwise; it returns rc, or KM_ESTORE if the
 * commit itself failed (then everything was rolled back). */
typedef struct km__store_tx {
	int nested;
} km__store_tx_t;
int km__store_begin(km_store_t *s, km__store_tx_t *tx);
int km__store_end(km_store_t *s, km__store_tx_t *tx, int rc);

/* Prepares sql and binds the arguments named by types, one letter each:
 * 'i' int64_t, 'l' long, 't' const char * (NULL binds NULL), 'b' const
 * uint8_t * then size_t, 'n' NULL. *out is new (caller finalizes). */
int km__store_prepare(km_store_t *s, sqlite3_stmt **out, const char *sql, const char *types, ...);
/* Prepares, binds, steps once and finalizes a statement that returns no
 * rows. *changes (may be NULL) gets sqlite3_changes. Returns 0, KM_EEXIST
 * (unique or primary key), KM_ENOTFOUND (foreign key), KM_EINVAL (check
 * constraint) or KM_ESTORE. */
int km__store_exec(km_store_t *s, int *changes, const char *sql, const char *types, ...);

/* Steps st to the end, growing an array of elements of size bytes, each
 * filled by row(st, element). Finalizes st. On success *out is new (caller
 * frees; NULL when empty) and *n the count; on failure nothing is returned. */
typedef int (*km__row_fn)(sqlite3_stmt *st, void *element);
int km__store_collect(sqlite3_stmt *st, size_t size, km__row_fn row, void **out, size_t *n);

#endif
