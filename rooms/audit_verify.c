/* audit_verify.c — checking the audit log (chain, head file, checkpoint
 * signatures) and reading it for the admin page. Read-only: nothing here
 * writes the store or any file. See audit.h for the rules.
 *
 * Threading: follows the store's rule (one thread per km_store_t). */
#include "rooms/audit.h"

#include "core/err.h"
#include "core/fs.h"
#include "rooms/store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define ROW_COLS "seq, ts, org_id, action, outcome, actor_type, actor_id, actor_role, " \
		 "on_behalf, object_type, object_id, source, client_ip, detail, prev_hash, hash"
#define NCOLS 16

/* What verify knows about one org. */
typedef struct {
	int64_t org;
	int used, has_line, has_cp, seen;
	int64_t head_seq, cp_seq;
	char head_hash[KM_AUDIT_HASH_HEX];
} orgent_t;

typedef struct {
	sqlite3 *db;
	EVP_PKEY *pub;
	km_audit_report_t *rep;
	int failed;
	int64_t bad_rank;  /* seq of the current blame; INT64_MAX for "no row" */
	orgent_t *tab;
	size_t cap, n;
} verify_t;

/* Records a finding; the one with the smallest seq wins (seq 0: no row). */
__attribute__((format(printf, 3, 4)))
static void blame(verify_t *v, int64_t seq, const char *fmt, ...)
{
	int64_t rank = seq > 0 ? seq : INT64_MAX;
	if (v->failed && rank >= v->bad_rank)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->rep->reason, sizeof v->rep->reason, fmt, ap);
	va_end(ap);
	v->failed = 1;
	v->bad_rank = rank;
	v->rep->first_bad_seq = seq > 0 ? seq : 0;
}

/* ---- a small open-addressing table of orgs ------------------------------------ */

static size_t slot_of(int64_t org, size_t cap)
{
	uint64_t x = (uint64_t)org * 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 17) & (cap - 1);
}

static orgent_t *org_get(verify_t *v, int64_t org)
{
	if (v->n * 2 >= v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		orgent_t *t = calloc(cap, sizeof *t);
		if (t == NULL)
			return NULL;
		for (size_t i = 0; i < v->cap; i++) {
			if (!v->tab[i].used)
				continue;
			size_t j = slot_of(v->tab[i].org, cap);
			while (t[j].used)
				j = (j + 1) & (cap - 1);
			t[j] = v->tab[i];
		}
		free(v->tab);
		v->tab = t;
		v->cap = cap;
	}
	size_t j = slot_of(org, v->cap);
	while (v->tab[j].used && v->tab[j].org != org)
		j = (j + 1) & (v->cap - 1);
	if (!v->tab[j].used) {
		memset(&v->tab[j], 0, sizeof v->tab[j]);
		v->tab[j].used = 1;
		v->tab[j].org = org;
		v->n++;
	}
	return &v->tab[j];
}

/* ---- the head file -------------------------------------------------------------- */

static int is_hexc(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Parses "<org> <seq> <hash>" (n bytes, newline removed). Returns 1 for a
 * complete line, 0 for a truncated prefix of one (a crash mid-write; also
 * the empty line), -1 for anything else. */
static int parse_head_line(const char *s, size_t n, int64_t *org, int64_t *seq, char *hash)
{
	int64_t num[2] = { 0, 0 };
	size_t i = 0;
	for (int f = 0; f < 2; f++) {
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (i - start >= 18)
				return -1;
			num[f] = num[f] * 10 + (s[i++] - '0');
		}
		if (i == n)
			return 0;
		if (i == start || s[i++] != ' ')
			return -1;
	}
	size_t h = 0;
	for (; i < n && h < 64; i++, h++) {
		if (!is_hexc(s[i]))
			return -1;
		hash[h] = s[i];
	}
	if (i < n)
		return -1;
	if (h < 64)
		return 0;
	hash[64] = '\0';
	*org = num[0];
	*seq = num[1];
	return 1;
}

static int read_head(verify_t *v, const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		snprintf(v->rep->reason, sizeof v->rep->reason, "cannot open the head file %s", path);
		return KM_EIO;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t lineno = 0, org, seq;
	char hash[KM_AUDIT_HASH_HEX];
	int rc = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		size_t n = (size_t)len;
		if (line[n - 1] == '\n')
			n--;
		int k = parse_head_line(line, n, &org, &seq, hash);
		if (k < 0) {
			blame(v, 0, "head file line %" PRId64 " is malformed", lineno);
		} else if (k == 1) {
			orgent_t *e = org_get(v, org);
			if (e == NULL) {
				rc = KM_ENOMEM;
				break;
			}
			e->has_line = 1;
			e->head_seq = seq;
			memcpy(e->head_hash, hash, sizeof hash);
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(v->rep->reason, sizeof v->rep->reason, "cannot read the head file %s", path);
		rc = KM_EIO;
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- checkpoints ------------------------------------------------------------------- */

static int load_pubkey(verify_t *v, const char *path)
{
	char *pem = NULL, err[200];
	size_t len = 0;
	int rc = km_fs_read_all(path, 16384, &pem, &len, err, sizeof err);
	if (rc) {
		snprintf(v->rep->reason, sizeof v->rep->reason, "%s", err);
		return KM_EIO;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	v->pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(pem);
	if (v->pub == NULL || EVP_PKEY_get_id(v->pub) != EVP_PKEY_ED25519) {
		snprintf(v->rep->reason, sizeof v->rep->reason, "%s is not an Ed25519 public key (PEM)", path);
		return KM_EIO;
	}
	return 0;
}

static int sig_ok(EVP_PKEY *pub, const char *b64, int64_t org, int64_t seq, const char *hash, int64_t ts)
{
	unsigned char sig[66], again[89];
	char msg[256];
	if (b64 == NULL || strlen(b64) != 88 || strcmp(b64 + 86, "==") != 0 ||
	    EVP_DecodeBlock(sig, (const unsigned char *)b64, 88) != 66)
		return 0;
	EVP_EncodeBlock(again, sig, 64);
	if (memcmp(again, b64, 88) != 0)
		return 0;
	int n = km_audit_checkpoint_text(org, seq, hash, ts, msg, sizeof msg);
	if (n < 0)
		return 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) == 1 &&
		 EVP_DigestVerify(md, sig, 64, (const unsigned char *)msg, (size_t)n) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static int check_checkpoints(verify_t *v)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(v->db, "SELECT c.seq, c.hash, c.ts, c.signature, a.org_id, a.hash "
			       "FROM audit_checkpoints c LEFT JOIN audit a ON a.seq = c.seq ORDER BY c.seq",
			       -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 2);
		const char *chash = (const char *)sqlite3_column_text(st, 1);
		const char *sig = (const char *)sqlite3_column_text(st, 3);
		const char *rhash = (const char *)sqlite3_column_text(st, 5);
		int64_t org = sqlite3_column_int64(st, 4);
		if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
			blame(v, seq, "checkpoint at row %" PRId64 ": the row is missing (deleted?)", seq);
			continue;
		}
		if (chash == NULL || rhash == NULL || strcmp(chash, rhash) != 0) {
			blame(v, seq, "checkpoint at row %" PRId64 ": the row's hash differs from the "
			      "signed one (chain rewritten?)", seq);
			continue;
		}
		if (v->pub != NULL && !sig_ok(v->pub, sig, org, seq, chash, ts)) {
			blame(v, seq, "checkpoint at row %" PRId64 ": bad signature", seq);
			continue;
		}
		orgent_t *e = org_get(v, org);
		if (e == NULL) {
			sqlite3_finalize(st);
			return KM_ENOMEM;
		}
		e->has_cp = 1;
		e->cp_seq = seq; /* ascending: the last one is the newest */
		v->rep->checkpoints_ok++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

/* ---- the chain ------------------------------------------------------------------------ */

/* Whether a later audit.purge row of org records (first, prev) as the place
 * the chain now starts. */
static int purge_anchor(verify_t *v, int64_t org, int64_t first, const char *prev)
{
	sqlite3_stmt *st = NULL;
	int found = 0;
	if (sqlite3_prepare_v2(v->db, "SELECT detail FROM audit WHERE org_id = ? AND seq > ? "
			       "AND action = 'audit.purge' ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, org);
	sqlite3_bind_int64(st, 2, first);
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		char want[128];
		snprintf(want, sizeof want, "kept_from=%" PRId64 ",prev=%s,removed=", first, prev);
		found = d != NULL && strncmp(d, want, strlen(want)) == 0;
	}
	sqlite3_finalize(st);
	return found;
}

/* Checks one row against its contents and its predecessor (prev: the org's
 * previous row's hash, or NULL for the org's first remaining row). */
static void check_row(verify_t *v, sqlite3_stmt *st, const char *prev, int64_t prev_seq)
{
	const char *c[NCOLS];
	int64_t seq = sqlite3_column_int64(st, 0);
	for (int i = 3; i < NCOLS; i++) {
		c[i] = (const char *)sqlite3_column_text(st, i);
		if (c[i] == NULL || (size_t)sqlite3_column_bytes(st, i) != strlen(c[i])) {
			blame(v, seq, "row %" PRId64 ": a field holds a NUL byte or is not text (edited?)",
			      seq);
			return;
		}
	}
	km_audit_row_t r = {
		.seq = seq, .ts = sqlite3_column_int64(st, 1),
		.org_id = sqlite3_column_int64(st, 2), .action = c[3], .outcome = c[4],
		.actor_type = c[5], .actor_id = c[6], .actor_role = c[7], .on_behalf = c[8],
		.object_type = c[9], .object_id = c[10], .source = c[11], .client_ip = c[12],
		.detail = c[13], .prev_hash = c[14],
	};
	char hash[KM_AUDIT_HASH_HEX];
	if (prev != NULL && strcmp(prev, r.prev_hash) != 0) {
		blame(v, r.seq, "row %" PRId64 ": prev_hash does not match row %" PRId64 " of org %" PRId64
		      " (row deleted, inserted or reordered?)", r.seq, prev_seq, r.org_id);
	} else if (prev == NULL && strcmp(r.prev_hash, ZERO_HASH) != 0 &&
		   purge_anchor(v, r.org_id, r.seq, r.prev_hash) != 1) {
		blame(v, r.seq, "row %" PRId64 ": first remaining row of org %" PRId64 ", but no "
		      "audit.purge row records its prev_hash (oldest rows deleted?)", r.seq, r.org_id);
	} else if (km_audit_row_hash(&r, hash) != 0 || strcmp(hash, c[15]) != 0) {
		blame(v, r.seq, "row %" PRId64 ": hash does not match its contents (edited?)", r.seq);
	}
}

static int count_after(verify_t *v, int64_t org, int64_t seq, int64_t *n, int64_t *second)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(v->db, "SELECT seq FROM audit WHERE org_id = ? AND seq > ? ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, org);
	sqlite3_bind_int64(st, 2, seq);
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (++*n == 2)
			*second = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

/* The head-file rules for one org whose rows are in the store. */
static int check_head(verify_t *v, orgent_t *e, int64_t rows, int64_t newest, int have_head)
{
	int64_t n = 0, second = 0;
	if (!have_head)
		return 0;
	if (!e->has_line) {
		if (rows == 1)
			v->rep->head_behind = 1;
		else
			blame(v, newest, "head file has no line for org %" PRId64 ", which has %" PRId64
			      " rows (head file replaced?)", e->org, rows);
		return 0;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(v->db, "SELECT hash FROM audit WHERE seq = ? AND org_id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, e->head_seq);
	sqlite3_bind_int64(st, 2, e->org);
	int rc = sqlite3_step(st);
	const char *h = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (rc == SQLITE_DONE)
		blame(v, e->head_seq, "head file names row %" PRId64 " of org %" PRId64
		      ", which is missing (newest rows deleted?)", e->head_seq, e->org);
	else if (rc == SQLITE_ROW && (h == NULL || strcmp(h, e->head_hash) != 0))
		blame(v, e->head_seq, "head file names row %" PRId64 " of org %" PRId64
		      " with another hash (chain rewritten?)", e->head_seq, e->org);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return KM_ESTORE;
	if ((rc = count_after(v, e->org, e->head_seq, &n, &second)))
		return rc;
	if (n == 1)
		v->rep->head_behind = 1;
	else if (n > 1)
		blame(v, second, "org %" PRId64 " has %" PRId64 " rows after row %" PRId64 " named by the "
		      "head file (rows inserted, or head file rolled back?)", e->org, n, e->head_seq);
	return 0;
}

/* Walks one org's rows in seq order. */
static int check_org(verify_t *v, int64_t org, int have_head)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(v->db, "SELECT " ROW_COLS " FROM audit WHERE org_id = ? ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, org);
	char prev[KM_AUDIT_HASH_HEX] = "";
	int64_t prev_seq = 0, rows = 0, unsigned_rows = 0;
	orgent_t *e = org_get(v, org);
	int rc;
	if (e == NULL) {
		sqlite3_finalize(st);
		return KM_ENOMEM;
	}
	e->seen = 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *h = (const char *)sqlite3_column_text(st, 15);
		check_row(v, st, rows ? prev : NULL, prev_seq);
		snprintf(prev, sizeof prev, "%s", h ? h : "");
		prev_seq = seq;
		rows++;
		if (!e->has_cp || seq > e->cp_seq)
			unsigned_rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return KM_ESTORE;
	v->rep->rows += rows;
	v->rep->unsigned_rows += unsigned_rows;
	return check_head(v, e, rows, prev_seq, have_head);
}

static int next_org(sqlite3 *db, int first, int64_t after, int64_t *org, int *done)
{
	sqlite3_stmt *st = NULL;
	const char *sql = first ? "SELECT MIN(org_id) FROM audit"
				: "SELECT MIN(org_id) FROM audit WHERE org_id > ?";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	if (!first)
		sqlite3_bind_int64(st, 1, after);
	int rc = sqlite3_step(st);
	*done = rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL;
	if (!*done)
		*org = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

int km_audit_verify(km_store_t *s, const char *head_path, const char *pubkey_pem_path,
		    km_audit_report_t *rep)
{
	verify_t v = { .db = s->db, .rep = rep };
	int64_t org = 0;
	int done = 0;
	memset(rep, 0, sizeof *rep);
	int rc = pubkey_pem_path ? load_pubkey(&v, pubkey_pem_path) : 0;
	if (rc == 0 && head_path != NULL)
		rc = read_head(&v, head_path);
	if (rc == 0)
		rc = check_checkpoints(&v);
	for (int first = 1; rc == 0; first = 0) {
		if ((rc = next_org(v.db, first, org, &org, &done)) || done)
			break;
		rep->orgs++;
		rc = check_org(&v, org, head_path != NULL);
	}
	for (size_t i = 0; rc == 0 && i < v.cap; i++)
		if (v.tab[i].used && v.tab[i].has_line && !v.tab[i].seen)
			blame(&v, v.tab[i].head_seq, "head file names row %" PRId64 " of org %" PRId64
			      ", which is missing (newest rows deleted?)", v.tab[i].head_seq, v.tab[i].org);
	if (rc == KM_ESTORE)
		snprintf(rep->reason, sizeof rep->reason, "store error: %s", sqlite3_errmsg(v.db));
	else if (rc == KM_ENOMEM)
		snprintf(rep->reason, sizeof rep->reason, "out of memory");
	else if (rc == 0 && v.failed)
		rc = KM_EINVAL;
	EVP_PKEY_free(v.pub);
	free(v.tab);
	return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */

int km_audit_list(km_store_t *s, int64_t org_id, int64_t after_seq, int limit, json_t **rows_out)
{
	static const char *names[NCOLS] = { "seq", "ts", "org_id", "action", "outcome", "actor_type",
					    "actor_id", "actor_role", "on_behalf", "object_type",
					    "object_id", "source", "client_ip", "detail", "prev_hash",
					    "hash" };
	sqlite3_stmt *st = NULL;
	*rows_out = NULL;
	if (limit < 1)
		limit = 1;
	if (limit > KM_AUDIT_LIST_MAX)
		limit = KM_AUDIT_LIST_MAX;
	if (sqlite3_prepare_v2(s->db, "SELECT " ROW_COLS " FROM audit WHERE org_id = ? AND seq > ? "
			       "ORDER BY seq LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, limit);
	json_t *arr = json_array();
	int rc = arr ? 0 : KM_ENOMEM, step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; o != NULL && i < NCOLS; i++) {
			json_t *val = i < 3 ? json_integer(sqlite3_column_int64(st, i))
					    : json_stringn((const char *)sqlite3_column_text(st, i),
							   (size_t)sqlite3_column_bytes(st, i));
			if (val == NULL && i >= 3) /* not UTF-8: only a tampered row */
				val = json_string("\xef\xbf\xbd");
			if (val == NULL || json_object_set_new(o, names[i], val) != 0) {
				json_decref(o);
				o = NULL;
			}
		}
		if (o == NULL || json_array_append_new(arr, o) != 0)
			rc = KM_ENOMEM;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = KM_ESTORE;
	sqlite3_finalize(st);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*rows_out = arr;
	return 0;
}
