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
};

/* Returns the cached statement id (prepared from sql on first use), reset
 * and with bindings cleared; NULL if it cannot be prepared. Borrowed. */
sqlite3_stmt *km__store_stmt(km_store_t *s, int id, const char *sql);

/* Steps st to the end, growing an array of elements of size bytes, each
 * filled by row(st, element). Finalizes st. On success *out is new (caller
 * frees; NULL when empty) and *n the count; on failure nothing is returned. */
typedef int (*km__row_fn)(sqlite3_stmt *st, void *element);
int km__store_collect(sqlite3_stmt *st, size_t size, km__row_fn row, void **out, size_t *n);

#endif
