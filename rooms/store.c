/* store.c — the SQLite implementation of store.h: opening, pragmas,
 * migrations, closing. Domain operations live in store_*.c files. */
#include "rooms/store.h"

#include "core/err.h"
#include "core/log.h"
#include "rooms/migrate.h"
#include "rooms/store_int.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *emsg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
		km_errf(KM_ESTORE, err, errlen, "%s: %s", sql, emsg ? emsg : sqlite3_errmsg(db));
		sqlite3_free(emsg);
		return KM_ESTORE;
	}
	return 0;
}

int km_store_open(const char *path, km_store_t **out, char *err, size_t errlen)
{
	*out = NULL;
	/* Create the file ourselves so that it is 0600 from the first byte. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return km_errf(KM_EIO, err, errlen, "cannot open database %s", path);
	close(fd);

	km_store_t *s = calloc(1, sizeof *s);
	if (!s)
		return KM_ENOMEM;
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		km_errf(KM_ESTORE, err, errlen, "cannot open database %s: %s", path,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	if ((rc = exec(s->db, "PRAGMA journal_mode=WAL", err, errlen)) ||
	    (rc = exec(s->db, "PRAGMA synchronous=FULL", err, errlen)) ||
	    (rc = exec(s->db, "PRAGMA foreign_keys=ON", err, errlen)) ||
	    (rc = exec(s->db, "PRAGMA secure_delete=ON", err, errlen)))
		goto fail;
	rc = km_migrate(s->db, km_schema_migrations, km_schema_count, NULL, err, errlen);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s);
	return rc ? rc : KM_ESTORE;
}

void km_store_close(km_store_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < sizeof s->stmts / sizeof s->stmts[0]; i++)
		sqlite3_finalize(s->stmts[i]);
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (rc != SQLITE_OK)
		km_warn("store", "checkpoint_failed", "rc=%d", rc);
	sqlite3_close_v2(s->db);
	free(s);
}

int km_store_schema_version(km_store_t *s)
{
	return km_migrate_version(s->db);
}

int km_store_schema_latest(void)
{
	return km_schema_count;
}

const char *km_store_errmsg(km_store_t *s)
{
	return s ? sqlite3_errmsg(s->db) : "no store";
}

sqlite3_stmt *km__store_stmt(km_store_t *s, int id, const char *sql)
{
	if (id < 0 || id >= KM__STMT_MAX)
		return NULL;
	if (!s->stmts[id] && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
						&s->stmts[id], NULL) != SQLITE_OK) {
		km_error("store", "prepare_failed", "stmt=%d", id);
		return NULL;
	}
	sqlite3_reset(s->stmts[id]);
	sqlite3_clear_bindings(s->stmts[id]);
	return s->stmts[id];
}

int km__store_collect(sqlite3_stmt *st, size_t size, km__row_fn row, void **out, size_t *n)
{
	char *list = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, step;
	*out = NULL;
	*n = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char *nl = realloc(list, ncap * size);
			if (!nl) {
				rc = KM_ENOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		if ((rc = row(st, list + cnt * size)))
			break;
		cnt++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = KM_ESTORE;
	sqlite3_finalize(st);
	if (rc) {
		free(list);
		return rc;
	}
	*out = list;
	*n = cnt;
	return 0;
}

static int bind_all(sqlite3_stmt *st, const char *types, va_list ap)
{
	int rc = SQLITE_OK;
	for (int i = 1; *types && rc == SQLITE_OK; types++, i++) {
		switch (*types) {
		case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
		case 'l': rc = sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, long)); break;
		case 't': {
			const char *t = va_arg(ap, const char *);
			rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
			break;
		}
		case 'b': {
			const uint8_t *p = va_arg(ap, const uint8_t *);
			size_t n = va_arg(ap, size_t);
			rc = n > (size_t)0x7fffffff ? SQLITE_TOOBIG : sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
			break;
		}
		case 'n': rc = sqlite3_bind_null(st, i); break;
		default: rc = SQLITE_MISUSE; break;
		}
	}
	return rc == SQLITE_OK ? 0 : KM_ESTORE;
}

static int vprepare(km_store_t *s, sqlite3_stmt **out, const char *sql, const char *types, va_list ap)
{
	*out = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, out, NULL) != SQLITE_OK)
		return KM_ESTORE;
	if (bind_all(*out, types, ap)) {
		sqlite3_finalize(*out);
		*out = NULL;
		return KM_ESTORE;
	}
	return 0;
}

int km__store_prepare(km_store_t *s, sqlite3_stmt **out, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc = vprepare(s, out, sql, types, ap);
	va_end(ap);
	return rc;
}

int km__store_exec(km_store_t *s, int *changes, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	va_start(ap, types);
	int rc = vprepare(s, &st, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	int step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (changes)
		*changes = sqlite3_changes(s->db);
	switch (step) {
	case SQLITE_DONE: return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY: return KM_EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY: return KM_ENOTFOUND;
	case SQLITE_CONSTRAINT_CHECK: return KM_EINVAL;
	default: return km__store_fail(s, step, KM_ESTORE);
	}
}

int km__store_fail(km_store_t *s, int sqlite_rc, int otherwise)
{
	if ((sqlite_rc & 0xff) != SQLITE_FULL)
		return otherwise;
	s->full = 1;
	return KM_EFULL;
}

int km_store_full(const km_store_t *s)
{
	return s->full;
}

int km__store_begin(km_store_t *s, km__store_tx_t *tx)
{
	tx->nested = !sqlite3_get_autocommit(s->db);
	const char *sql = tx->nested ? "SAVEPOINT km_tx" : "BEGIN IMMEDIATE";
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : KM_ESTORE;
}

int km__store_end(km_store_t *s, km__store_tx_t *tx, int rc)
{
	if (rc == 0) {
		const char *sql = tx->nested ? "RELEASE km_tx" : "COMMIT";
		int e = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (e == SQLITE_OK) {
			if (!tx->nested)
				s->full = 0;
			return 0;
		}
		rc = km__store_fail(s, e, KM_ESTORE);
	}
	if (tx->nested) {
		sqlite3_exec(s->db, "ROLLBACK TO km_tx", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE km_tx", NULL, NULL, NULL);
	} else if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}
