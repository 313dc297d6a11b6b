/* accounts_rehash.c — raising a stored password hash's parameters. */
#include "core/err.h"
#include "rooms/accounts.h"
#include "rooms/store_int.h"

int km_accounts_rehash(km_store_t *s, int64_t user_id, const char *pw_hash)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "UPDATE users SET pw_hash = ? WHERE id = ? AND pw_hash IS NOT NULL", -1, &st,
			       NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_text(st, 1, pw_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, user_id);
	int rc = sqlite3_step(st);
	int changed = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return KM_ESTORE;
	return changed ? 0 : KM_ENOTFOUND;
}
