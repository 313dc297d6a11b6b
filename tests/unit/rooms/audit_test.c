/* audit_test.c — the tamper-evident audit log: appends across orgs verify;
 * every kind of tampering (edit, delete, insert, reorder, NUL injection,
 * newest rows deleted, chain rebuilt) is detected at the right row; purge
 * keeps the chain verifiable; the head file may lag by one row; key file
 * modes; the canonical form; IP truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/fs.h"
#include "rooms/audit.h"
#include "rooms/store.h"
#include "rooms/store_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#define T0 1700000000
#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
	char dir[256], db[300], head[300], pub[300], key[300];
	km_store_t *s;
	km_audit_t *a;
	int next; /* events appended by append_n so far */
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	char err[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/kamer-audit-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/kamer.db", f->dir);
	snprintf(f->head, sizeof f->head, "%s/audit.head", f->dir);
	snprintf(f->pub, sizeof f->pub, "%s/pub.pem", f->dir);
	snprintf(f->key, sizeof f->key, "%s/keys/audit-signing.key", f->dir);
	if (km_store_open(f->db, &f->s, err, sizeof err) != 0)
		return -1;
	if (km_audit_open(f->s, f->dir, "test-host", &f->a, err, sizeof err) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_t *f = *state;
	char cmd[400];
	km_audit_free(f->a);
	km_store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* Appends n more events; event i (counted across calls; seq i+1 when only
 * append_n wrote) goes to org i%3+1 at T0 + 60*i, so seq s belongs to org
 * (s-1)%3+1 and has ts T0 + 60*(s-1). */
static void append_n(fx_t *f, int n)
{
	for (int end = f->next + n; f->next < end; f->next++) {
		int i = f->next;
		char id[16], det[32];
		snprintf(id, sizeof id, "%d", 100 + i);
		snprintf(det, sizeof det, "attempt=%d", i);
		km_audit_event_t ev = {
			.org_id = i % 3 + 1, .action = i % 2 ? "signin" : "user.create",
			.outcome = i % 5 ? "success" : "failure", .actor_type = "user",
			.actor_id = id, .actor_role = "admin", .object_type = "user", .object_id = "7",
			.client_ip = "192.0.2.0/24", .detail = det,
		};
		int64_t seq = 0;
		km_audit_set_now(f->a, T0 + 60 * i);
		assert_int_equal(km_audit_append(f->a, &ev, &seq), 0);
		assert_true(seq > 0);
	}
}

static void sql(fx_t *f, const char *q)
{
	char *emsg = NULL;
	int rc = sqlite3_exec(f->s->db, q, NULL, NULL, &emsg);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", q, emsg ? emsg : "?");
}

static int64_t sql_int(fx_t *f, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(f->s->db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void write_pubkey(fx_t *f)
{
	char *pem = NULL, err[256];
	assert_int_equal(km_audit_pubkey_pem(f->dir, &pem, err, sizeof err), 0);
	assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
	assert_int_equal(km_fs_write_atomic(f->pub, pem, strlen(pem), 0644, err, sizeof err), 0);
	free(pem);
}

static int verify(fx_t *f, int with_key, km_audit_report_t *rep)
{
	return km_audit_verify(f->s, f->head, with_key ? f->pub : NULL, rep);
}

static void expect_bad(fx_t *f, int with_key, int64_t seq, const char *reason_part)
{
	km_audit_report_t rep;
	int rc = verify(f, with_key, &rep);
	if (rc != KM_EINVAL || rep.first_bad_seq != seq || !strstr(rep.reason, reason_part))
		fail_msg("rc=%d first_bad=%" PRId64 " reason=\"%s\" (wanted %" PRId64 ", \"%s\")", rc,
			 rep.first_bad_seq, rep.reason, seq, reason_part);
}

static void expect_ok(fx_t *f, int with_key, km_audit_report_t *rep)
{
	int rc = verify(f, with_key, rep);
	if (rc != 0)
		fail_msg("rc=%d first_bad=%" PRId64 " reason=\"%s\"", rc, rep->first_bad_seq, rep->reason);
	assert_int_equal(rep->first_bad_seq, 0);
	assert_string_equal(rep->reason, "");
}

/* Recomputes row seq's hash from its stored contents (as an attacker who
 * knows the canonical form would) with the given prev_hash, and stores
 * both. The update trigger must already be dropped. */
static void rehash_row(fx_t *f, int64_t seq, const char *prev, char out[KM_AUDIT_HASH_HEX])
{
	sqlite3_stmt *st;
	char q[512];
	assert_int_equal(sqlite3_prepare_v2(f->s->db,
					    "SELECT seq, ts, org_id, action, outcome, actor_type, actor_id, "
					    "actor_role, on_behalf, object_type, object_id, source, "
					    "client_ip, detail FROM audit WHERE seq = ?", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
#define C(i) ((const char *)sqlite3_column_text(st, i))
	km_audit_row_t r = {
		.seq = sqlite3_column_int64(st, 0), .ts = sqlite3_column_int64(st, 1),
		.org_id = sqlite3_column_int64(st, 2), .action = C(3), .outcome = C(4),
		.actor_type = C(5), .actor_id = C(6), .actor_role = C(7), .on_behalf = C(8),
		.object_type = C(9), .object_id = C(10), .source = C(11), .client_ip = C(12),
		.detail = C(13), .prev_hash = prev,
	};
#undef C
	assert_int_equal(km_audit_row_hash(&r, out), 0);
	sqlite3_finalize(st);
	snprintf(q, sizeof q, "UPDATE audit SET prev_hash = '%s', hash = '%s' WHERE seq = %" PRId64,
		 prev, out, seq);
	sql(f, q);
}

static void row_hash(fx_t *f, int64_t seq, char out[KM_AUDIT_HASH_HEX])
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->s->db, "SELECT hash FROM audit WHERE seq = ?", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, KM_AUDIT_HASH_HEX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* ---- intact logs ---------------------------------------------------------- */

static void test_clean_log_verifies(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	append_n(f, 50);
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 9999), 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints"), 3);
	/* nothing new: a second checkpoint adds nothing */
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 10000), 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints"), 3);
	write_pubkey(f);
	expect_ok(f, 1, &rep);
	assert_int_equal(rep.rows, 50);
	assert_int_equal(rep.orgs, 3);
	assert_int_equal(rep.checkpoints_ok, 3);
	assert_int_equal(rep.head_behind, 0);
	assert_int_equal(rep.unsigned_rows, 0);
	/* first row of each org starts from zeros; rows chain within an org */
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit WHERE prev_hash = '" ZERO64 "'"), 3);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit a JOIN audit b ON b.seq = a.seq + 3 "
				    "WHERE b.prev_hash = a.hash"), 47);
	append_n(f, 1);
	expect_ok(f, 1, &rep);
	assert_int_equal(rep.unsigned_rows, 1);
	/* the trigger refuses a plain UPDATE */
	assert_int_not_equal(sqlite3_exec(f->s->db, "UPDATE audit SET detail = 'x' WHERE seq = 3",
					  NULL, NULL, NULL), SQLITE_OK);
}

static void test_list(void **state)
{
	fx_t *f = *state;
	json_t *rows = NULL;
	append_n(f, 50);
	assert_int_equal(km_audit_list(f->s, 2, 0, 5, &rows), 0);
	assert_int_equal(json_array_size(rows), 5);
	for (size_t i = 0; i < 5; i++) {
		json_t *o = json_array_get(rows, i);
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), 2 + 3 * (int)i);
		assert_int_equal(json_integer_value(json_object_get(o, "org_id")), 2);
		assert_int_equal(json_integer_value(json_object_get(o, "ts")), T0 + 60 * (1 + 3 * (int)i));
		assert_string_equal(json_string_value(json_object_get(o, "source")), "test-host");
		assert_string_equal(json_string_value(json_object_get(o, "actor_role")), "admin");
		assert_string_equal(json_string_value(json_object_get(o, "on_behalf")), "");
		assert_int_equal(strlen(json_string_value(json_object_get(o, "hash"))), 64);
		assert_int_equal(json_object_size(o), 16);
	}
	json_decref(rows);
	assert_int_equal(km_audit_list(f->s, 2, 47, 100, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "seq")), 50);
	json_decref(rows);
	assert_int_equal(km_audit_list(f->s, 9, 0, 100, &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
}

static void test_canonical_form(void **state)
{
	/* Built by hand from the description in audit.h. */
	static const char canon[] =
		"2:42;10:1700000000;1:2;6:signin;7:success;4:user;2:17;5:admin;0:;4:user;2:17;"
		"4:host;12:192.0.2.0/24;3:a=b;64:" ZERO64 ";";
	uint8_t buf[32 + sizeof canon], md[32];
	char want[65], got[KM_AUDIT_HASH_HEX], text[256];
	memset(buf, 0, 32);
	memcpy(buf + 32, canon, sizeof canon - 1);
	SHA256(buf, 32 + sizeof canon - 1, md);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	km_audit_row_t r = {
		.seq = 42, .ts = 1700000000, .org_id = 2, .action = "signin", .outcome = "success",
		.actor_type = "user", .actor_id = "17", .actor_role = "admin", .on_behalf = "",
		.object_type = "user", .object_id = "17", .source = "host", .client_ip = "192.0.2.0/24",
		.detail = "a=b", .prev_hash = ZERO64,
	};
	assert_int_equal(km_audit_row_hash(&r, got), 0);
	assert_string_equal(got, want);
	r.prev_hash = "00";
	assert_int_equal(km_audit_row_hash(&r, got), KM_EINVAL);
	int n = km_audit_checkpoint_text(2, 42, want, 1700000600, text, sizeof text);
	char exp[256];
	snprintf(exp, sizeof exp, "kamer-audit-checkpoint v1\n2\n42\n%s\n1700000600\n", want);
	assert_int_equal(n, (int)strlen(exp));
	assert_string_equal(text, exp);
	assert_int_equal(km_audit_checkpoint_text(2, 42, want, 1, text, 40), KM_ETOOBIG);
}

/* ---- tampering ------------------------------------------------------------ */

static void test_edit_detected(void **state)
{
	fx_t *f = *state;
	append_n(f, 50);
	sql(f, "DROP TRIGGER audit_no_update");
	sql(f, "UPDATE audit SET outcome = 'success' WHERE seq = 16"); /* was failure */
	expect_bad(f, 0, 16, "row 16: hash does not match its contents (edited?)");
}

static void test_nul_injection_detected(void **state)
{
	fx_t *f = *state;
	append_n(f, 20);
	sql(f, "DROP TRIGGER audit_no_update");
	/* "attempt=5" followed by a NUL and more: a C string sees no change */
	sql(f, "UPDATE audit SET detail = detail || char(0) || 'evil' WHERE seq = 6");
	expect_bad(f, 0, 6, "row 6: a field holds a NUL byte");
}

static void test_delete_middle_detected(void **state)
{
	fx_t *f = *state;
	append_n(f, 50);
	sql(f, "DELETE FROM audit WHERE seq = 20"); /* org 2: 17, 20, 23 */
	expect_bad(f, 0, 23, "row 23: prev_hash does not match row 17 of org 2 (row deleted, inserted or reordered?)");
}

static void test_delete_oldest_detected(void **state)
{
	fx_t *f = *state;
	append_n(f, 50);
	sql(f, "DELETE FROM audit WHERE seq IN (3, 6)"); /* org 3's first two rows */
	expect_bad(f, 0, 9, "row 9: first remaining row of org 3");
}

static void test_delete_newest_detected(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	append_n(f, 50);
	sql(f, "DELETE FROM audit WHERE seq = 50"); /* org 2 */
	expect_bad(f, 0, 50, "head file names row 50 of org 2, which is missing (newest rows deleted?)");
	/* without the head file a bare chain cannot tell */
	assert_int_equal(km_audit_verify(f->s, NULL, NULL, &rep), 0);
	sql(f, "DELETE FROM audit WHERE org_id = 1");
	expect_bad(f, 0, 49, "head file names row 49 of org 1, which is missing");
}

static void test_insert_detected(void **state)
{
	fx_t *f = *state;
	char prev[KM_AUDIT_HASH_HEX], h[KM_AUDIT_HASH_HEX], q[1024];
	append_n(f, 50);
	/* The only free seq in the middle is one an attacker frees: drop org
	 * 2's row 20 and put a well-formed org 1 row there, chained to 19. */
	row_hash(f, 19, prev);
	sql(f, "DELETE FROM audit WHERE seq = 20");
	km_audit_row_t r = {
		.seq = 20, .ts = T0 + 1, .org_id = 1, .action = "signin", .outcome = "success",
		.actor_type = "user", .actor_id = "666", .actor_role = "admin", .on_behalf = "",
		.object_type = "", .object_id = "", .source = "test-host", .client_ip = "",
		.detail = "", .prev_hash = prev,
	};
	assert_int_equal(km_audit_row_hash(&r, h), 0);
	snprintf(q, sizeof q, "INSERT INTO audit VALUES (20, %d, 1, 'signin', 'success', 'user', '666', "
		 "'admin', '', '', '', 'test-host', '', '', '%s', '%s')", T0 + 1, prev, h);
	sql(f, q);
	expect_bad(f, 0, 22, "row 22: prev_hash does not match row 20 of org 1");
}

static void test_rows_appended_behind_head_detected(void **state)
{
	fx_t *f = *state;
	char prev[KM_AUDIT_HASH_HEX], h[KM_AUDIT_HASH_HEX], q[1024];
	append_n(f, 30);
	/* two forged rows at the end of org 1, correctly chained */
	for (int seq = 31; seq <= 32; seq++) {
		row_hash(f, seq == 31 ? 28 : 31, prev);
		km_audit_row_t r = {
			.seq = seq, .ts = T0 + 5000, .org_id = 1, .action = "signin", .outcome = "success",
			.actor_type = "user", .actor_id = "666", .actor_role = "", .on_behalf = "",
			.object_type = "", .object_id = "", .source = "x", .client_ip = "",
			.detail = "", .prev_hash = prev,
		};
		assert_int_equal(km_audit_row_hash(&r, h), 0);
		snprintf(q, sizeof q, "INSERT INTO audit VALUES (%d, %d, 1, 'signin', 'success', 'user', "
			 "'666', '', '', '', '', 'x', '', '', '%s', '%s')", seq, T0 + 5000, prev, h);
		sql(f, q);
	}
	expect_bad(f, 0, 32, "org 1 has 2 rows after row 28 named by the head file");
}

static void test_reorder_detected(void **state)
{
	fx_t *f = *state;
	append_n(f, 50);
	sql(f, "DROP TRIGGER audit_no_update");
	/* swap the contents of org 1's rows 10 and 13, keeping their seqs */
	sql(f, "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (10, 13)");
	sql(f, "UPDATE audit SET (ts, org_id, action, outcome, actor_type, actor_id, actor_role, "
	       "on_behalf, object_type, object_id, source, client_ip, detail, prev_hash, hash) = "
	       "(SELECT ts, org_id, action, outcome, actor_type, actor_id, actor_role, on_behalf, "
	       "object_type, object_id, source, client_ip, detail, prev_hash, hash FROM t "
	       "WHERE t.seq = 23 - audit.seq) WHERE seq IN (10, 13)");
	expect_bad(f, 0, 10, "row 10: prev_hash does not match row 7 of org 1");
}

static void test_rebuilt_chain_needs_the_key(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	char prev[KM_AUDIT_HASH_HEX], h[KM_AUDIT_HASH_HEX], line[128];
	append_n(f, 50);
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 9999), 0);
	write_pubkey(f);
	/* edit row 17 (org 2) and rebuild org 2's chain from there */
	sql(f, "DROP TRIGGER audit_no_update");
	sql(f, "UPDATE audit SET actor_id = '999' WHERE seq = 17");
	row_hash(f, 14, prev);
	for (int64_t seq = 17; seq <= 50; seq += 3) {
		rehash_row(f, seq, prev, h);
		memcpy(prev, h, sizeof h);
	}
	/* the checkpoint of row 50 still holds the old hash */
	expect_bad(f, 0, 50, "checkpoint at row 50: the row's hash differs from the signed one");
	/* the attacker also fixes the checkpoint's hash and the head file */
	char q[256];
	snprintf(q, sizeof q, "UPDATE audit_checkpoints SET hash = '%s' WHERE seq = 50", h);
	sql(f, q);
	snprintf(line, sizeof line, "2 50 %s\n", h);
	int fd = open(f->head, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	/* a bare chain and the head file now agree ... */
	expect_ok(f, 0, &rep);
	/* ... only the signature reveals it */
	expect_bad(f, 1, 50, "checkpoint at row 50: bad signature");
}

static void test_wrong_pubkey_or_deleted_checkpoint_row(void **state)
{
	fx_t *f = *state;
	char err[256], *pem = NULL, other[300];
	km_audit_t *b;
	append_n(f, 10);
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 999), 0);
	/* another data folder's key */
	snprintf(other, sizeof other, "%s/other", f->dir);
	assert_int_equal(km_fs_mkdirs(other, 0700, err, sizeof err), 0);
	assert_int_equal(km_audit_open(f->s, other, "other", &b, err, sizeof err), 0);
	km_audit_free(b);
	assert_int_equal(km_audit_pubkey_pem(other, &pem, err, sizeof err), 0);
	assert_int_equal(km_fs_write_atomic(f->pub, pem, strlen(pem), 0644, err, sizeof err), 0);
	free(pem);
	expect_bad(f, 1, 8, "checkpoint at row 8: bad signature"); /* org 2's head */
	write_pubkey(f);
	km_audit_report_t rep;
	expect_ok(f, 1, &rep);
	assert_int_equal(rep.checkpoints_ok, 3);
	/* a checkpoint whose row vanished */
	sql(f, "DELETE FROM audit WHERE seq = 9");
	expect_bad(f, 1, 9, "checkpoint at row 9: the row is missing");
}

/* ---- purge ------------------------------------------------------------------- */

static void test_purge(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	int64_t removed = -1;
	char prev25[KM_AUDIT_HASH_HEX], want[200];
	append_n(f, 10);
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 600), 0); /* org 1's head: row 10 */
	append_n(f, 40);                                             /* seqs 11..50 */
	assert_int_equal(km_audit_checkpoint(f->a, T0 + 9999), 0);
	write_pubkey(f);
	row_hash(f, 22, prev25);
	/* nothing old enough: no change, no row */
	km_audit_set_now(f->a, T0 + 100000);
	assert_int_equal(km_audit_purge(f->a, 1, T0 - 1, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit"), 50);
	/* org 1 is rows 1, 4, ..., 49; row 25 has ts T0 + 60*24 */
	assert_int_equal(km_audit_purge(f->a, 1, T0 + 60 * 24, &removed), 0);
	/* removed: 1, 4, ..., 22 */
	assert_int_equal(removed, 8);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit WHERE org_id = 1 AND seq < 25"), 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit WHERE org_id = 2"), 17);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints WHERE seq = 10"), 0);
	assert_int_equal(sql_int(f, "SELECT MAX(seq) FROM audit"), 51);
	snprintf(want, sizeof want, "kept_from=25,prev=%s,removed=8", prev25);
	char q[400];
	snprintf(q, sizeof q, "SELECT COUNT(*) FROM audit WHERE seq = 51 AND org_id = 1 AND "
		 "action = 'audit.purge' AND detail = '%s'", want);
	assert_int_equal(sql_int(f, q), 1);
	expect_ok(f, 1, &rep);
	assert_int_equal(rep.rows, 43);
	/* purge again with everything old: keeps the newest row (the first
	 * purge row, 51) and adds the second purge row */
	km_audit_set_now(f->a, T0 + 200000);
	assert_int_equal(km_audit_purge(f->a, 1, T0 + 150000, &removed), 0);
	assert_int_equal(removed, 9); /* 25, 28, ..., 49 */
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit WHERE org_id = 1"), 2);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints WHERE seq = 49"), 0);
	expect_ok(f, 1, &rep);
	/* an attacker deleting org 2's oldest rows has no purge row to hide behind */
	sql(f, "DELETE FROM audit WHERE seq = 2");
	expect_bad(f, 1, 5, "row 5: first remaining row of org 2");
}

static void test_purge_then_delete_first_kept(void **state)
{
	fx_t *f = *state;
	int64_t removed;
	append_n(f, 50);
	km_audit_set_now(f->a, T0 + 100000);
	assert_int_equal(km_audit_purge(f->a, 1, T0 + 60 * 24, &removed), 0); /* keeps 25.. */
	assert_int_equal(removed, 8);
	sql(f, "DELETE FROM audit WHERE seq = 25");
	expect_bad(f, 0, 28, "row 28: first remaining row of org 1");
}

/* ---- head file ---------------------------------------------------------------- */

/* Drops the last n lines of the head file (a crash before they were written). */
static void head_drop_lines(fx_t *f, int n)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	assert_int_equal(km_fs_read_all(f->head, 1 << 20, &buf, &len, err, sizeof err), 0);
	for (int i = 0; i < n; i++) {
		assert_true(len > 0);
		len--; /* the newline */
		while (len > 0 && buf[len - 1] != '\n')
			len--;
	}
	assert_int_equal(km_fs_write_atomic(f->head, buf, len, 0600, err, sizeof err), 0);
	free(buf);
}

static void test_head_behind(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	append_n(f, 50);
	km_audit_free(f->a); /* closes the head file */
	f->a = NULL;
	head_drop_lines(f, 1);
	expect_ok(f, 0, &rep);
	assert_int_equal(rep.head_behind, 1);
	head_drop_lines(f, 2); /* rows 48, 49, 50: one per org */
	expect_ok(f, 0, &rep);
	assert_int_equal(rep.head_behind, 1);
	head_drop_lines(f, 1); /* row 47 of org 2 too: org 2 is two rows ahead */
	expect_bad(f, 0, 50, "org 2 has 2 rows after row 44 named by the head file");
}

static void test_head_partial_line(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	char err[256];
	append_n(f, 10);
	int fd = open(f->head, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "2 11 ab", 7), 7); /* power loss mid-line */
	close(fd);
	expect_ok(f, 0, &rep);
	km_audit_free(f->a);
	assert_int_equal(km_audit_open(f->s, f->dir, "test-host", &f->a, err, sizeof err), 0);
	append_n(f, 3);
	expect_ok(f, 0, &rep);
	assert_int_equal(rep.head_behind, 0);
	fd = open(f->head, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "2 x1 ab\n", 8), 8);
	close(fd);
	expect_bad(f, 0, 0, "head file line 15 is malformed");
	/* no head file at all */
	unlink(f->head);
	assert_int_equal(km_audit_verify(f->s, f->head, NULL, &rep), KM_EIO);
}

/* ---- transactions ------------------------------------------------------------- */

static void test_in_tx(void **state)
{
	fx_t *f = *state;
	km_audit_report_t rep;
	int64_t s1 = 0, s2 = 0;
	km_audit_event_t ev = { .org_id = 4, .action = "user.disable", .outcome = "success",
				.actor_type = "operator" };
	assert_int_equal(km_audit_append_in_tx(f->a, &ev, &s1), KM_EINVAL); /* no tx */
	sql(f, "BEGIN IMMEDIATE");
	assert_int_equal(km_audit_append(f->a, &ev, &s1), KM_EINVAL); /* tx open */
	assert_int_equal(km_audit_append_in_tx(f->a, &ev, &s1), 0);
	assert_int_equal(km_audit_append_in_tx(f->a, &ev, &s2), 0);
	assert_int_equal(s2, s1 + 1);
	sql(f, "COMMIT");
	assert_int_equal(km_audit_after_commit(f->a), 0);
	expect_ok(f, 0, &rep);
	assert_int_equal(rep.head_behind, 0);
	/* rolled back: no row, no head line */
	sql(f, "BEGIN IMMEDIATE");
	assert_int_equal(km_audit_append_in_tx(f->a, &ev, NULL), 0);
	sql(f, "ROLLBACK");
	km_audit_after_rollback(f->a);
	/* rolled back without telling: the head line is not written either */
	sql(f, "BEGIN IMMEDIATE");
	assert_int_equal(km_audit_append_in_tx(f->a, &ev, NULL), 0);
	sql(f, "ROLLBACK");
	assert_int_equal(km_audit_after_commit(f->a), 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit"), 2);
	append_n(f, 1);
	expect_ok(f, 0, &rep);
	assert_int_equal(rep.head_behind, 0);
}

static void test_bad_events(void **state)
{
	fx_t *f = *state;
	char big[KM_AUDIT_FIELD_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	km_audit_event_t ok = { .org_id = 0, .action = "config.reload", .outcome = "success",
				.actor_type = "system" };
	km_audit_event_t ev = ok;
	assert_int_equal(km_audit_append(f->a, &ev, NULL), 0);
	ev.outcome = "maybe";
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.actor_type = "admin";
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.action = "";
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.org_id = -1;
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.detail = "line\nbreak";
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.actor_id = big;
	assert_int_equal(km_audit_append(f->a, &ev, NULL), KM_EINVAL);
	ev = ok, ev.detail = big; /* detail may be longer */
	assert_int_equal(km_audit_append(f->a, &ev, NULL), 0);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit"), 2);
}

static void test_free_writes_checkpoint(void **state)
{
	fx_t *f = *state;
	append_n(f, 5);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints"), 0);
	km_audit_free(f->a);
	f->a = NULL;
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM audit_checkpoints"), 3);
	assert_int_equal(sql_int(f, "SELECT MAX(seq) FROM audit_checkpoints"), 5);
}

/* ---- the key and file modes ------------------------------------------------------ */

static void test_key_modes(void **state)
{
	fx_t *f = *state;
	struct stat st;
	char err[256], *pem1 = NULL, *pem2 = NULL, keysdir[300], head[300];
	km_audit_t *b = NULL;
	snprintf(keysdir, sizeof keysdir, "%s/keys", f->dir);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(keysdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(f->head, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(km_audit_pubkey_pem(f->dir, &pem1, err, sizeof err), 0);
	/* reopening keeps the key */
	assert_int_equal(km_audit_open(f->s, f->dir, "h", &b, err, sizeof err), 0);
	km_audit_free(b);
	assert_int_equal(km_audit_pubkey_pem(f->dir, &pem2, err, sizeof err), 0);
	assert_string_equal(pem1, pem2);
	free(pem2);
	static const mode_t bad[] = { 0640, 0604, 0660, 0620 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(chmod(f->key, bad[i]), 0);
		assert_int_equal(km_audit_open(f->s, f->dir, "h", &b, err, sizeof err), KM_EPERM);
		assert_null(b);
		assert_non_null(strstr(err, "chmod 600"));
		assert_int_equal(km_audit_pubkey_pem(f->dir, &pem2, err, sizeof err), KM_EPERM);
	}
	assert_int_equal(chmod(f->key, 0600), 0);
	/* a symbolic link is refused */
	char moved[320];
	snprintf(moved, sizeof moved, "%s/moved.key", f->dir);
	assert_int_equal(rename(f->key, moved), 0);
	assert_int_equal(symlink(moved, f->key), 0);
	assert_int_equal(km_audit_open(f->s, f->dir, "h", &b, err, sizeof err), KM_EPERM);
	unlink(f->key);
	/* not a key */
	assert_int_equal(km_fs_write_atomic(f->key, "hello\n", 6, 0600, err, sizeof err), 0);
	assert_int_equal(km_audit_open(f->s, f->dir, "h", &b, err, sizeof err), KM_ECRYPTO);
	assert_int_equal(rename(moved, f->key), 0);
	assert_int_equal(km_audit_pubkey_pem(f->dir, &pem2, err, sizeof err), 0);
	assert_string_equal(pem1, pem2);
	free(pem1);
	free(pem2);
	/* no key yet */
	snprintf(head, sizeof head, "%s/nowhere", f->dir);
	assert_int_equal(km_audit_pubkey_pem(head, &pem1, err, sizeof err), KM_ENOTFOUND);
	assert_null(pem1);
	/* bad source */
	assert_int_equal(km_audit_open(f->s, f->dir, "a\nb", &b, err, sizeof err), KM_EINVAL);
}

/* ---- IP truncation ------------------------------------------------------------------ */

static void test_ip_truncate(void **state)
{
	char out[64], small[8];
	assert_string_equal(km_audit_ip_truncate("192.168.1.77", 0, out, sizeof out), "192.168.1.0/24");
	assert_string_equal(km_audit_ip_truncate("192.168.1.77", 1, out, sizeof out), "192.168.1.77");
	assert_string_equal(km_audit_ip_truncate("2001:db8:abcd:12::1", 0, out, sizeof out),
			    "2001:db8:abcd::/48");
	assert_string_equal(km_audit_ip_truncate("2001:0db8:abcd:0012:0:0:0:1", 1, out, sizeof out),
			    "2001:db8:abcd:12::1");
	assert_string_equal(km_audit_ip_truncate("::ffff:10.1.2.3", 0, out, sizeof out), "10.1.2.0/24");
	assert_string_equal(km_audit_ip_truncate("::1", 0, out, sizeof out), "::/48");
	assert_string_equal(km_audit_ip_truncate("not-an-ip", 0, out, sizeof out), "");
	assert_string_equal(km_audit_ip_truncate("1.2.3.4.5", 1, out, sizeof out), "");
	assert_string_equal(km_audit_ip_truncate(NULL, 0, out, sizeof out), "");
	assert_string_equal(km_audit_ip_truncate("192.168.100.200", 0, small, sizeof small), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_clean_log_verifies),
		T(test_list),
		cmocka_unit_test(test_canonical_form),
		T(test_edit_detected),
		T(test_nul_injection_detected),
		T(test_delete_middle_detected),
		T(test_delete_oldest_detected),
		T(test_delete_newest_detected),
		T(test_insert_detected),
		T(test_rows_appended_behind_head_detected),
		T(test_reorder_detected),
		T(test_rebuilt_chain_needs_the_key),
		T(test_wrong_pubkey_or_deleted_checkpoint_row),
		T(test_purge),
		T(test_purge_then_delete_first_kept),
		T(test_head_behind),
		T(test_head_partial_line),
		T(test_in_tx),
		T(test_bad_events),
		T(test_free_writes_checkpoint),
		T(test_key_modes),
		cmocka_unit_test(test_ip_truncate),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
