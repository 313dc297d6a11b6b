/* audit.c — writing the audit log: the signing key, appends, the head file,
 * checkpoints and the retention purge (see audit.h for the chain, the
 * canonical form and what each part protects against). Verification and
 * reading live in audit_verify.c.
 *
 * Threading: a km_audit_t belongs to the thread that owns its store. */
#include "rooms/audit.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "rooms/store_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#define KEY_FILE_MAX 16384
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
	int64_t org, seq;
	char hash[KM_AUDIT_HASH_HEX];
} pending_t;

struct km_audit {
	km_store_t *s;
	EVP_PKEY *key;
	int head_fd;
	char source[KM_AUDIT_FIELD_MAX + 1];
	time_t now;       /* test clock; 0 = real */
	int dirty;        /* appended since the last checkpoint */
	pending_t *pend;  /* head lines waiting for their commit */
	size_t npend, cappend;
};

/* ---- canonical form and hashing ---------------------------------------- */

static int is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static int hex_nibble(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void put_field(EVP_MD_CTX *md, const char *p, size_t n)
{
	char len[32];
	int k = snprintf(len, sizeof len, "%zu:", n);
	EVP_DigestUpdate(md, len, (size_t)k);
	EVP_DigestUpdate(md, p, n);
	EVP_DigestUpdate(md, ";", 1);
}

static void put_int(EVP_MD_CTX *md, int64_t v)
{
	char num[32];
	int k = snprintf(num, sizeof num, "%" PRId64, v);
	put_field(md, num, (size_t)k);
}

int km_audit_row_hash(const km_audit_row_t *r, char hex_out[KM_AUDIT_HASH_HEX])
{
	const char *text[] = { r->action, r->outcome, r->actor_type, r->actor_id, r->actor_role,
			       r->on_behalf, r->object_type, r->object_id, r->source,
			       r->client_ip, r->detail, r->prev_hash };
	uint8_t prev[32], out[32];
	unsigned outlen = 0;

	hex_out[0] = '\0';
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		if (text[i] == NULL)
			return KM_EINVAL;
	if (!is_hex64(r->prev_hash))
		return KM_EINVAL;
	for (int i = 0; i < 32; i++)
		prev[i] = (uint8_t)(hex_nibble(r->prev_hash[2 * i]) << 4 |
				    hex_nibble(r->prev_hash[2 * i + 1]));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return KM_ECRYPTO;
	}
	EVP_DigestUpdate(md, prev, sizeof prev);
	put_int(md, r->seq);
	put_int(md, r->ts);
	put_int(md, r->org_id);
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		put_field(md, text[i], strlen(text[i]));
	int ok = EVP_DigestFinal_ex(md, out, &outlen) == 1 && outlen == 32;
	EVP_MD_CTX_free(md);
	if (!ok)
		return KM_ECRYPTO;
	for (int i = 0; i < 32; i++)
		snprintf(hex_out + 2 * i, 3, "%02x", out[i]);
	return 0;
}

int km_audit_checkpoint_text(int64_t org_id, int64_t seq, const char *hash, int64_t ts,
			     char *buf, size_t len)
{
	int n = snprintf(buf, len, "kamer-audit-checkpoint v1\n%" PRId64 "\n%" PRId64 "\n%s\n%" PRId64 "\n",
			 org_id, seq, hash ? hash : "", ts);
	if (n < 0 || (size_t)n >= len)
		return KM_ETOOBIG;
	return n;
}

/* ---- the signing key --------------------------------------------------- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Loads an Ed25519 private key from path, refusing loose permissions. */
static int load_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	char *buf = NULL;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return km_errf(KM_ENOTFOUND, err, errlen, "no signing key at %s", path);
		if (errno == ELOOP)
			return km_errf(KM_EPERM, err, errlen, "signing key %s is a symbolic link", path);
		return km_errf(KM_EIO, err, errlen, "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = km_errf(KM_EPERM, err, errlen, "signing key %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = km_errf(KM_EPERM, err, errlen,
			     "signing key %s has mode %04o; it must be readable by its owner only (chmod 600)",
			     path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		rc = km_errf(KM_ECRYPTO, err, errlen, "signing key %s has a bad size", path);
		goto out;
	}
	size_t n = (size_t)st.st_size, got = 0;
	buf = malloc(n);
	if (buf == NULL) {
		rc = KM_ENOMEM;
		goto out;
	}
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = km_errf(KM_EIO, err, errlen, "cannot read %s", path);
			goto out;
		}
		got += (size_t)r;
	}
	BIO *bio = BIO_new_mem_buf(buf, (int)n);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		rc = km_errf(KM_ECRYPTO, err, errlen, "%s is not an Ed25519 private key (PEM)", path);
		goto out;
	}
	*out = k;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Creates a new key at path unless one appears there first (link(2) does not
 * replace an existing name), so that racing processes agree on one key. */
static int create_key(const char *keydir, const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	int rc = km_fs_mkdirs(keydir, 0700, err, errlen);
	if (rc)
		return rc;
	if (snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return km_errf(KM_ETOOBIG, err, errlen, "key path too long");
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pemlen = 0;
	if (k == NULL || bio == NULL || PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = km_errf(KM_ECRYPTO, err, errlen, "cannot generate an Ed25519 key");
		goto out;
	}
	rc = km_fs_write_atomic(tmp, pem, (size_t)pemlen, 0600, err, errlen);
	if (rc)
		goto out;
	if (link(tmp, path) != 0 && errno != EEXIST)
		rc = km_errf(KM_EIO, err, errlen, "cannot create %s: %s", path, strerror(errno));
	unlink(tmp);
	if (rc == 0 && fsync_dir(keydir) != 0)
		rc = km_errf(KM_EIO, err, errlen, "cannot sync %s: %s", keydir, strerror(errno));
	if (rc == 0)
		km_info("audit", "signing_key_created", "");
out:
	if (pem != NULL && pemlen > 0)
		OPENSSL_cleanse(pem, (size_t)pemlen);
	BIO_free(bio);
	EVP_PKEY_free(k);
	return rc;
}

static int key_paths(const char *data_dir, char *dir, char *path, size_t len)
{
	if (data_dir == NULL || km_fs_join(dir, len, data_dir, "keys") != 0 ||
	    km_fs_join(path, len, data_dir, KM_AUDIT_KEY_FILE) != 0)
		return KM_ETOOBIG;
	return 0;
}

int km_audit_pubkey_pem(const char *data_dir, char **pem_out, char *err, size_t errlen)
{
	char dir[4096], path[4096];
	EVP_PKEY *k = NULL;
	*pem_out = NULL;
	if (key_paths(data_dir, dir, path, sizeof path) != 0)
		return km_errf(KM_EINVAL, err, errlen, "data folder path missing or too long");
	int rc = load_key(path, &k, err, errlen);
	if (rc)
		return rc;
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1 || (n = BIO_get_mem_data(bio, &p)) <= 0) {
		rc = km_errf(KM_ECRYPTO, err, errlen, "cannot write the public key");
	} else if ((*pem_out = malloc((size_t)n + 1)) == NULL) {
		rc = KM_ENOMEM;
	} else {
		memcpy(*pem_out, p, (size_t)n);
		(*pem_out)[n] = '\0';
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	return rc;
}

/* ---- open / free --------------------------------------------------------- */

static int text_ok(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
			return 0;
	return 1;
}

/* Opens the head file for appending and ends an unfinished last line. */
static int open_head(const char *path, int *fd_out, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return km_errf(KM_EIO, err, errlen, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	char c = '\n';
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return km_errf(KM_EIO, err, errlen, "%s is not a regular file", path);
	}
	if (st.st_size > 0 && pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n') {
		km_warn("audit", "head_partial_line", "action=terminated");
		if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
			close(fd);
			return km_errf(KM_EIO, err, errlen, "cannot write %s: %s", path, strerror(errno));
		}
	}
	*fd_out = fd;
	return 0;
}

int km_audit_open(km_store_t *s, const char *data_dir, const char *source, km_audit_t **out,
		  char *err, size_t errlen)
{
	char dir[4096], path[4096];
	*out = NULL;
	if (s == NULL || source == NULL || !text_ok(source, KM_AUDIT_FIELD_MAX))
		return km_errf(KM_EINVAL, err, errlen, "audit source missing or invalid");
	if (key_paths(data_dir, dir, path, sizeof path) != 0)
		return km_errf(KM_EINVAL, err, errlen, "data folder path missing or too long");
	km_audit_t *a = calloc(1, sizeof *a);
	if (a == NULL)
		return KM_ENOMEM;
	a->s = s;
	a->head_fd = -1;
	snprintf(a->source, sizeof a->source, "%s", source);
	int rc = load_key(path, &a->key, err, errlen);
	if (rc == KM_ENOTFOUND) {
		rc = create_key(dir, path, err, errlen);
		if (rc == 0)
			rc = load_key(path, &a->key, err, errlen);
	}
	if (rc == 0 && km_fs_join(path, sizeof path, data_dir, KM_AUDIT_HEAD_FILE) != 0)
		rc = km_errf(KM_ETOOBIG, err, errlen, "data folder path too long");
	if (rc == 0)
		rc = open_head(path, &a->head_fd, err, errlen);
	if (rc) {
		km_audit_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void km_audit_free(km_audit_t *a)
{
	if (a == NULL)
		return;
	if (a->dirty && a->key != NULL) {
		int rc = km_audit_checkpoint(a, time(NULL));
		if (rc)
			km_error("audit", "checkpoint_failed", "err=%s", km_err_name(rc));
	}
	if (a->head_fd >= 0)
		close(a->head_fd);
	EVP_PKEY_free(a->key);
	free(a->pend);
	free(a);
}

void km_audit_set_now(km_audit_t *a, time_t now)
{
	a->now = now;
}

/* ---- SQL helpers ----------------------------------------------------------- */

static int exec(km_audit_t *a, const char *sql)
{
	if (sqlite3_exec(a->s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		char q[64];
		km_error("audit", "sql_failed", "sql=%s rc=%d", km_log_quote(q, sizeof q, sql),
			 sqlite3_extended_errcode(a->s->db));
		return KM_ESTORE;
	}
	return 0;
}

static sqlite3_stmt *prep(km_audit_t *a, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(a->s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		km_error("audit", "prepare_failed", "rc=%d", sqlite3_extended_errcode(a->s->db));
		return NULL;
	}
	return st;
}

/* Runs a one-row query with up to two integer arguments; *v gets column 0
 * (or stays unset and *isnull = 1 when NULL or no row). */
static int query_int(km_audit_t *a, const char *sql, int64_t x, int64_t y, int64_t *v, int *isnull)
{
	sqlite3_stmt *st = prep(a, sql);
	if (st == NULL)
		return KM_ESTORE;
	int n = sqlite3_bind_parameter_count(st);
	if (n >= 1)
		sqlite3_bind_int64(st, 1, x);
	if (n >= 2)
		sqlite3_bind_int64(st, 2, y);
	int rc = sqlite3_step(st);
	*isnull = 1;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(st, 0);
		*isnull = 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

/* Runs a statement with two integer arguments and no result rows. */
static int run2(km_audit_t *a, const char *sql, int64_t x, int64_t y)
{
	sqlite3_stmt *st = prep(a, sql);
	if (st == NULL)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, x);
	sqlite3_bind_int64(st, 2, y);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

/* Copies column 0 of a one-row query into buf (KM_AUDIT_HASH_HEX bytes);
 * "" if no row. */
static int query_hash(km_audit_t *a, const char *sql, int64_t x, char *buf)
{
	sqlite3_stmt *st = prep(a, sql);
	if (st == NULL)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, x);
	int rc = sqlite3_step(st);
	buf[0] = '\0';
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		snprintf(buf, KM_AUDIT_HASH_HEX, "%s", h ? h : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

/* ---- appending -------------------------------------------------------------- */

static int event_ok(const km_audit_event_t *ev)
{
	const char *f[] = { ev->action, ev->outcome, ev->actor_type, ev->actor_id, ev->actor_role,
			    ev->on_behalf, ev->object_type, ev->object_id, ev->client_ip };
	if (ev->org_id < 0 || ev->action == NULL || ev->action[0] == '\0' || ev->outcome == NULL ||
	    ev->actor_type == NULL)
		return 0;
	if (strcmp(ev->outcome, "success") != 0 && strcmp(ev->outcome, "failure") != 0)
		return 0;
	if (strcmp(ev->actor_type, "user") != 0 && strcmp(ev->actor_type, "participant") != 0 &&
	    strcmp(ev->actor_type, "operator") != 0 && strcmp(ev->actor_type, "system") != 0)
		return 0;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i] != NULL && !text_ok(f[i], KM_AUDIT_FIELD_MAX))
			return 0;
	return ev->detail == NULL || text_ok(ev->detail, KM_AUDIT_DETAIL_MAX);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int push_pending(km_audit_t *a, int64_t org, int64_t seq, const char *hash)
{
	if (a->npend == a->cappend) {
		size_t cap = a->cappend ? a->cappend * 2 : 4;
		pending_t *p = realloc(a->pend, cap * sizeof *p);
		if (p == NULL)
			return KM_ENOMEM;
		a->pend = p;
		a->cappend = cap;
	}
	pending_t *p = &a->pend[a->npend++];
	p->org = org;
	p->seq = seq;
	snprintf(p->hash, sizeof p->hash, "%s", hash);
	return 0;
}

/* Inserts ev as the next row of its org; the caller holds the transaction. */
static int insert_row(km_audit_t *a, const km_audit_event_t *ev, int64_t *seq_out)
{
	char prev[KM_AUDIT_HASH_HEX], hash[KM_AUDIT_HASH_HEX];
	int64_t seq = 0;
	int isnull;
	int rc = query_hash(a, "SELECT hash FROM audit WHERE org_id = ? ORDER BY seq DESC LIMIT 1",
			    ev->org_id, prev);
	if (rc == 0)
		rc = query_int(a, "SELECT MAX(seq) FROM audit", 0, 0, &seq, &isnull);
	if (rc)
		return rc;
	if (prev[0] == '\0')
		snprintf(prev, sizeof prev, "%s", ZERO_HASH);
	if (!is_hex64(prev)) { /* the stored chain is already broken: do not hide it */
		km_error("audit", "chain_broken", "org=%" PRId64 " reason=last_hash_malformed", ev->org_id);
		return KM_ESTORE;
	}
	km_audit_row_t r = {
		.seq = (isnull ? 0 : seq) + 1, .ts = a->now ? a->now : time(NULL), .org_id = ev->org_id,
		.action = ev->action, .outcome = ev->outcome, .actor_type = ev->actor_type,
		.actor_id = nz(ev->actor_id), .actor_role = nz(ev->actor_role),
		.on_behalf = nz(ev->on_behalf), .object_type = nz(ev->object_type),
		.object_id = nz(ev->object_id), .source = a->source, .client_ip = nz(ev->client_ip),
		.detail = nz(ev->detail), .prev_hash = prev,
	};
	if ((rc = km_audit_row_hash(&r, hash)) != 0)
		return rc;
	sqlite3_stmt *st = prep(a, "INSERT INTO audit (seq, ts, org_id, action, outcome, actor_type, "
				"actor_id, actor_role, on_behalf, object_type, object_id, source, "
				"client_ip, detail, prev_hash, hash) "
				"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
		return KM_ESTORE;
	const char *text[] = { r.action, r.outcome, r.actor_type, r.actor_id, r.actor_role,
			       r.on_behalf, r.object_type, r.object_id, r.source, r.client_ip,
			       r.detail, r.prev_hash, hash };
	sqlite3_bind_int64(st, 1, r.seq);
	sqlite3_bind_int64(st, 2, r.ts);
	sqlite3_bind_int64(st, 3, r.org_id);
	for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++)
		sqlite3_bind_text(st, 4 + i, text[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : KM_ESTORE;
	sqlite3_finalize(st);
	if (rc == 0)
		rc = push_pending(a, r.org_id, r.seq, hash);
	if (rc == 0) {
		a->dirty = 1;
		if (seq_out != NULL)
			*seq_out = r.seq;
	}
	return rc;
}

int km_audit_append_in_tx(km_audit_t *a, const km_audit_event_t *ev, int64_t *seq_out)
{
	if (a == NULL || ev == NULL || !event_ok(ev))
		return KM_EINVAL;
	if (sqlite3_get_autocommit(a->s->db))
		return KM_EINVAL;
	return insert_row(a, ev, seq_out);
}

static int head_write(km_audit_t *a, const pending_t *p)
{
	char line[128];
	int n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %s\n", p->org, p->seq, p->hash);
	ssize_t w;
	do
		w = write(a->head_fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w != n || fsync(a->head_fd) != 0) {
		km_error("audit", "head_write_failed", "seq=%" PRId64 " errno=%d", p->seq, errno);
		return KM_EIO;
	}
	return 0;
}

int km_audit_after_commit(km_audit_t *a)
{
	int rc = 0;
	for (size_t i = 0; i < a->npend; i++) {
		/* write only rows that really committed (a caller may have rolled
		 * back without telling us) */
		char h[KM_AUDIT_HASH_HEX];
		if (query_hash(a, "SELECT hash FROM audit WHERE seq = ?", a->pend[i].seq, h) != 0) {
			rc = KM_EIO;
			continue;
		}
		if (strcmp(h, a->pend[i].hash) == 0 && head_write(a, &a->pend[i]) != 0)
			rc = KM_EIO;
	}
	a->npend = 0;
	return rc;
}

void km_audit_after_rollback(km_audit_t *a)
{
	a->npend = 0;
}

int km_audit_append(km_audit_t *a, const km_audit_event_t *ev, int64_t *seq_out)
{
	if (a == NULL || ev == NULL || !event_ok(ev))
		return KM_EINVAL;
	if (!sqlite3_get_autocommit(a->s->db))
		return KM_EINVAL;
	if (a->npend > 0)
		km_audit_after_commit(a);
	int rc = exec(a, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = insert_row(a, ev, seq_out);
	if (rc == 0)
		rc = exec(a, "COMMIT");
	if (rc) {
		exec(a, "ROLLBACK");
		km_audit_after_rollback(a);
		return rc;
	}
	return km_audit_after_commit(a);
}

/* ---- checkpoints ------------------------------------------------------------ */

static int sign_b64(EVP_PKEY *k, const char *msg, size_t len, char out[89])
{
	unsigned char sig[64];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(md);
	if (!ok)
		return KM_ECRYPTO;
	EVP_EncodeBlock((unsigned char *)out, sig, 64);
	return 0;
}

/* Signs and stores the head of one org unless it is already checkpointed. */
static int checkpoint_org(km_audit_t *a, int64_t org, time_t now)
{
	char hash[KM_AUDIT_HASH_HEX], msg[256], sig[89];
	int64_t seq = 0, have = 0;
	int isnull, nohave;
	int rc = query_int(a, "SELECT MAX(seq) FROM audit WHERE org_id = ?", org, 0, &seq, &isnull);
	if (rc || isnull)
		return rc;
	if ((rc = query_int(a, "SELECT 1 FROM audit_checkpoints WHERE seq = ?", seq, 0, &have, &nohave)))
		return rc;
	if (!nohave)
		return 0;
	if ((rc = query_hash(a, "SELECT hash FROM audit WHERE seq = ?", seq, hash)))
		return rc;
	int n = km_audit_checkpoint_text(org, seq, hash, (int64_t)now, msg, sizeof msg);
	if (n < 0)
		return n;
	if ((rc = sign_b64(a->key, msg, (size_t)n, sig)))
		return rc;
	sqlite3_stmt *st = prep(a, "INSERT INTO audit_checkpoints (seq, hash, ts, signature) VALUES (?,?,?,?)");
	if (st == NULL)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)now);
	sqlite3_bind_text(st, 4, sig, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km_audit_checkpoint(km_audit_t *a, time_t now)
{
	int64_t org = 0;
	int isnull = 0;
	if (a == NULL || !sqlite3_get_autocommit(a->s->db))
		return KM_EINVAL;
	int rc = exec(a, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = query_int(a, "SELECT MIN(org_id) FROM audit", 0, 0, &org, &isnull);
	while (rc == 0 && !isnull) {
		rc = checkpoint_org(a, org, now);
		if (rc == 0)
			rc = query_int(a, "SELECT MIN(org_id) FROM audit WHERE org_id > ?", org, 0, &org,
				       &isnull);
	}
	if (rc == 0)
		rc = exec(a, "COMMIT");
	if (rc) {
		exec(a, "ROLLBACK");
		return rc;
	}
	a->dirty = 0;
	return 0;
}

/* ---- retention purge -------------------------------------------------------- */

/* Inside the purge transaction: deletes and appends; *removed gets n. */
static int purge_tx(km_audit_t *a, int64_t org, time_t before, int64_t *removed)
{
	int64_t newest = 0, keep = 0, n = 0;
	int isnull, nokeep;
	char prev[KM_AUDIT_HASH_HEX], detail[160], oid[32];
	int rc = query_int(a, "SELECT MAX(seq) FROM audit WHERE org_id = ?", org, 0, &newest, &isnull);
	if (rc || isnull)
		return rc;
	rc = query_int(a, "SELECT MIN(seq) FROM audit WHERE org_id = ? AND ts >= ?", org,
		       (int64_t)before, &keep, &nokeep);
	if (rc)
		return rc;
	if (nokeep || keep > newest)
		keep = newest;
	if ((rc = query_int(a, "SELECT COUNT(*) FROM audit WHERE org_id = ? AND seq < ?", org, keep,
			    &n, &isnull)) || n == 0)
		return rc;
	if ((rc = query_hash(a, "SELECT prev_hash FROM audit WHERE seq = ?", keep, prev)))
		return rc;
	if ((rc = run2(a, "DELETE FROM audit_checkpoints WHERE seq IN "
		       "(SELECT seq FROM audit WHERE org_id = ?1 AND seq < ?2)", org, keep)) ||
	    (rc = run2(a, "DELETE FROM audit WHERE org_id = ?1 AND seq < ?2", org, keep)))
		return rc;
	snprintf(detail, sizeof detail, "kept_from=%" PRId64 ",prev=%s,removed=%" PRId64, keep, prev, n);
	snprintf(oid, sizeof oid, "%" PRId64, org);
	km_audit_event_t ev = {
		.org_id = org, .action = "audit.purge", .outcome = "success", .actor_type = "system",
		.actor_id = "retention", .object_type = "audit", .object_id = oid, .detail = detail,
	};
	rc = insert_row(a, &ev, NULL);
	if (rc == 0)
		*removed = n;
	return rc;
}

int km_audit_purge(km_audit_t *a, int64_t org_id, time_t before, int64_t *removed)
{
	int64_t n = 0;
	if (removed != NULL)
		*removed = 0;
	if (a == NULL || !sqlite3_get_autocommit(a->s->db))
		return KM_EINVAL;
	if (a->npend > 0)
		km_audit_after_commit(a);
	int rc = exec(a, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = purge_tx(a, org_id, before, &n);
	if (rc == 0)
		rc = exec(a, n > 0 ? "COMMIT" : "ROLLBACK");
	if (rc) {
		exec(a, "ROLLBACK");
		km_audit_after_rollback(a);
		return rc;
	}
	if (removed != NULL)
		*removed = n;
	if (n > 0)
		km_info("audit", "purged", "org=%" PRId64 " removed=%" PRId64, org_id, n);
	return km_audit_after_commit(a);
}

/* ---- client addresses ------------------------------------------------------- */

const char *km_audit_ip_truncate(const char *ip, int full, char *out, size_t outlen)
{
	unsigned char b[16];
	char txt[INET6_ADDRSTRLEN];
	int n = -1;

	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (ip == NULL)
		return out;
	if (inet_pton(AF_INET, ip, b) == 1) {
		n = full ? snprintf(out, outlen, "%u.%u.%u.%u", b[0], b[1], b[2], b[3])
			 : snprintf(out, outlen, "%u.%u.%u.0/24", b[0], b[1], b[2]);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(b, mapped, sizeof mapped) == 0) {
			n = full ? snprintf(out, outlen, "%u.%u.%u.%u", b[12], b[13], b[14], b[15])
				 : snprintf(out, outlen, "%u.%u.%u.0/24", b[12], b[13], b[14]);
		} else {
			if (!full)
				memset(b + 6, 0, 10);
			if (inet_ntop(AF_INET6, b, txt, sizeof txt) != NULL)
				n = snprintf(out, outlen, "%s%s", txt, full ? "" : "/48");
		}
	}
	if (n < 0 || (size_t)n >= outlen)
		out[0] = '\0';
	return out;
}
