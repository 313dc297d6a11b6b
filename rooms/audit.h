/* audit.h — kamer's tamper-evident audit log (NEN 7513): append-only rows in
 * the `audit` table, one SHA-256 hash chain per organisation, the chain heads
 * also appended to a separate file (DATA/audit.head), and Ed25519-signed
 * checkpoints of the heads with a key kept outside the database
 * (DATA/keys/audit-signing.key). Not the decision of what to audit (callers
 * do that) and not the CSV/JSON export format (signaling/ builds it from
 * km_audit_list).
 *
 * The chain. Each organisation (org_id 0 = kamer itself, operator events)
 * has its own chain, so that one organisation's retention purge leaves the
 * others' chains whole. seq is global (the table's INTEGER PRIMARY KEY);
 * a row's prev_hash is the hash of the previous row of the same org (64
 * zeros for the first), and
 *
 *   hash = lowercase hex SHA-256( prev_hash as 32 raw bytes || canonical(row) )
 *
 * canonical(row) is every column except hash, in this fixed order:
 *
 *   seq, ts, org_id, action, outcome, actor_type, actor_id, actor_role,
 *   on_behalf, object_type, object_id, source, client_ip, detail, prev_hash
 *
 * each written as <decimal byte length> ':' <bytes> ';' with integers in
 * plain decimal ("-" for a negative, no leading zeros), e.g. the org_id 2
 * is "1:2;" and an empty on_behalf is "0:;". Text fields never hold a NUL
 * byte (verify refuses a row where one does). Because seq is in the hash,
 * moving a row to another seq breaks it.
 *
 * The head file. After each commit the line "<org> <seq> <hash>\n" is
 * appended to DATA/audit.head and fsync'ed, so that deleting the newest
 * rows of the database (which a bare chain cannot reveal) is detected.
 * A crash between COMMIT and that write leaves the database one row ahead
 * for that org; verify tolerates exactly that (head_behind). An unfinished
 * last line (power loss mid-write) is ignored by verify and terminated with
 * a newline by the next km_audit_open.
 *
 * Checkpoints. Anyone who can write both the database and the head file
 * can rebuild a bare chain. km_audit_checkpoint therefore signs each org's
 * current head with Ed25519; the auditor keeps the public key elsewhere
 * (`kamer audit pubkey`) and `kamer audit verify --pubkey FILE` checks every
 * signature. Limits: rows newer than the newest checkpoint are covered only
 * by the chain and the head file; whoever can delete the newest checkpoints
 * and rewrite the head file can rewrite those rows; whoever can read the
 * signing key can forge everything (keep the data folder's keys/ private).
 *
 * Purge. km_audit_purge deletes an org's oldest rows and, in the same
 * transaction, appends an "audit.purge" row whose detail
 * "kept_from=<seq>,prev=<hash>,removed=<n>" names the first kept row and
 * its prev_hash, so that the chain still verifies from there.
 *
 * Threading: a km_audit_t belongs to the thread that owns its km_store_t
 * (the signaling thread in `kamer serve`). Functions that take only a store
 * follow the store's rule. */
#ifndef KM_AUDIT_H
#define KM_AUDIT_H

#include "rooms/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KM_AUDIT_HASH_HEX 65       /* 64 hex digits and the NUL */
#define KM_AUDIT_FIELD_MAX 256     /* bytes of any text field but detail */
#define KM_AUDIT_DETAIL_MAX 1024   /* bytes of detail */
#define KM_AUDIT_LIST_MAX 1000     /* most rows km_audit_list returns */
#define KM_AUDIT_KEY_FILE "keys/audit-signing.key" /* under the data folder */
#define KM_AUDIT_HEAD_FILE "audit.head"            /* under the data folder */

typedef struct km_audit km_audit_t;

/* One event to append. NULL strings mean "". org_id >= 0 (0: kamer
 * itself). action non-empty (e.g. "signin", "signin.lockout",
 * "user.create", "policy.change", "audit.read", "audit.purge"); outcome
 * "success" or "failure"; actor_type "user", "participant", "operator" or
 * "system"; actor_id a user id in decimal or a participant pseudonym, never
 * a name or email; client_ip already truncated (km_audit_ip_truncate);
 * detail short technical text without personal data. Text fields: at most
 * KM_AUDIT_FIELD_MAX bytes (detail KM_AUDIT_DETAIL_MAX), no control
 * characters (bytes < 0x20 and 0x7f). */
typedef struct km_audit_event {
	int64_t org_id;
	const char *action, *outcome, *actor_type, *actor_id, *actor_role, *on_behalf;
	const char *object_type, *object_id, *client_ip, *detail;
} km_audit_event_t;

/* A stored row as canonical() sees it (all strings borrowed, non-NULL). */
typedef struct km_audit_row {
	int64_t seq, ts, org_id;
	const char *action, *outcome, *actor_type, *actor_id, *actor_role, *on_behalf;
	const char *object_type, *object_id, *source, *client_ip, *detail, *prev_hash;
} km_audit_row_t;

/* Opens the audit log of store s (borrowed; must outlive the km_audit_t).
 * Loads DATA/keys/audit-signing.key (Ed25519, PKCS#8 PEM), or creates it
 * (folder 0700, file 0600, written atomically; when two processes race,
 * both end up with the one that reached the disk first). Refuses (KM_EPERM)
 * a key file that is not a regular file or has any group/other permission
 * bit, and (KM_ECRYPTO) one that is not an Ed25519 private key. Opens
 * DATA/audit.head for appending (created 0600). source (borrowed, copied)
 * names this instance, e.g. the host name; at most KM_AUDIT_FIELD_MAX
 * bytes. *out is new; free with km_audit_free. */
int km_audit_open(km_store_t *s, const char *data_dir, const char *source, km_audit_t **out,
		  char *err, size_t errlen);

/* Writes a checkpoint first if anything was appended since the last one
 * (a failure is logged), then frees. NULL is ok. */
void km_audit_free(km_audit_t *a);

/* Appends ev in its own IMMEDIATE transaction (reads the org's last hash,
 * inserts the row), then appends "<org> <seq> <hash>\n" to the head file
 * and fsyncs it. *seq_out (may be NULL) gets the new seq. Returns 0;
 * KM_EINVAL for an invalid event or when a transaction is already open;
 * KM_ESTORE if the store fails (nothing written); KM_EIO if the row was
 * committed but the head file could not be written (logged; verify will
 * report the head file behind). */
int km_audit_append(km_audit_t *a, const km_audit_event_t *ev, int64_t *seq_out);

/* As km_audit_append inside a transaction the caller already holds (BEGIN
 * IMMEDIATE on the same store), so that a domain write and its audit row
 * commit together. KM_EINVAL if no transaction is open. The head line is
 * kept in a and written by km_audit_after_commit once the caller has
 * committed; call km_audit_after_rollback instead if the caller rolls
 * back. Several appends in one transaction are fine. */
int km_audit_append_in_tx(km_audit_t *a, const km_audit_event_t *ev, int64_t *seq_out);
int km_audit_after_commit(km_audit_t *a);   /* 0 or KM_EIO (logged) */
void km_audit_after_rollback(km_audit_t *a);

/* For each org, signs its current head (newest row) and stores
 * (seq, hash, ts = now, signature) in audit_checkpoints, unless that row
 * already has a checkpoint. signature is base64 (with padding) of the
 * Ed25519 signature over km_audit_checkpoint_text(). One IMMEDIATE
 * transaction. Returns 0, KM_ESTORE or KM_ECRYPTO. The server calls it
 * every 10 minutes and on shutdown. */
int km_audit_checkpoint(km_audit_t *a, time_t now);

/* The exact text a checkpoint signs:
 *   "kamer-audit-checkpoint v1\n<org>\n<seq>\n<hash>\n<ts>\n"
 * into buf (len bytes with the NUL; 192 is plenty). Returns its length, or
 * KM_ETOOBIG. */
int km_audit_checkpoint_text(int64_t org_id, int64_t seq, const char *hash, int64_t ts,
			     char *buf, size_t len);

/* Deletes org_id's oldest rows: every row before the first one with
 * ts >= before, but never the org's newest row; deletes the checkpoints of
 * the deleted rows; and appends an "audit.purge" row (actor system,
 * object audit/<org>) with detail "kept_from=<seq>,prev=<hash>,removed=<n>"
 * — all in one IMMEDIATE transaction, then the head line. *removed (may be
 * NULL) gets n. When nothing is old enough it changes nothing, appends no
 * row and returns 0 with n = 0. Errors as km_audit_append. */
int km_audit_purge(km_audit_t *a, int64_t org_id, time_t before, int64_t *removed);

/* Test hook: use `now` as the clock for appended rows (0: the real clock). */
void km_audit_set_now(km_audit_t *a, time_t now);

/* The public key (SubjectPublicKeyInfo PEM) of DATA's signing key, for
 * `kamer audit pubkey`. *pem_out is new, NUL-terminated, caller frees
 * (free()). KM_ENOTFOUND if there is no key yet; other errors as
 * km_audit_open. */
int km_audit_pubkey_pem(const char *data_dir, char **pem_out, char *err, size_t errlen);

/* hex_out = the row's hash (see the top of this file). Returns 0, or
 * KM_EINVAL if a field is NULL or prev_hash is not 64 lowercase hex digits. */
int km_audit_row_hash(const km_audit_row_t *r, char hex_out[KM_AUDIT_HASH_HEX]);

typedef struct km_audit_report {
	int64_t rows, orgs, checkpoints_ok; /* checked rows, orgs; checkpoints that
					      matched their row (and, with a key,
					      whose signature verified) */
	int64_t first_bad_seq;   /* 0 when intact or when no row is to blame */
	char reason[256];        /* "" when intact */
	int head_behind;         /* some org has one row newer than the head file */
	int64_t unsigned_rows;   /* rows newer than their org's newest checkpoint */
} km_audit_report_t;

/* Verifies the whole log of store s: every org's rows in seq order chain
 * (the first remaining row has prev_hash 64 zeros, or the kept_from/prev
 * recorded by an audit.purge row of the same org); every row's hash matches
 * its contents; the last line of head_path (NULL: skip the head file) for
 * each org names an existing row of that org with that hash, and the org
 * has at most one row after it (then head_behind = 1); an org with rows
 * must have a line unless it has exactly one row; every checkpoint names an
 * existing row with the same hash, and, with pubkey_pem_path (NULL: skip),
 * its signature verifies. Returns 0 when intact; KM_EINVAL when not, with
 * the smallest offending seq in first_bad_seq and a reason such as
 *   "row 17: hash does not match its contents (edited?)"
 *   "row 18: prev_hash does not match row 16 of org 2 (row deleted, inserted or reordered?)"
 *   "head file names row 40 of org 1, which is missing (newest rows deleted?)"
 *   "checkpoint at row 12: bad signature"
 * KM_EIO (head or key file unreadable) or KM_ESTORE, with a reason. */
int km_audit_verify(km_store_t *s, const char *head_path, const char *pubkey_pem_path,
		    km_audit_report_t *rep);

/* Returns org_id's rows with seq > after_seq in seq order, at most limit
 * (clamped to 1..KM_AUDIT_LIST_MAX), as a new JSON array (caller
 * json_decref's) of objects with every column: seq, ts, org_id, action,
 * outcome, actor_type, actor_id, actor_role, on_behalf, object_type,
 * object_id, source, client_ip, detail, prev_hash, hash. The caller audits
 * the read. Returns 0, KM_ESTORE or KM_ENOMEM. */
int km_audit_list(km_store_t *s, int64_t org_id, int64_t after_seq, int limit, json_t **rows_out);

/* The client address as the audit log keeps it, into out (outlen bytes):
 * IPv4 "a.b.c.d" -> "a.b.c.0/24"; IPv6 -> the first 48 bits, "2001:db8:1::/48"
 * (an IPv4-mapped IPv6 address counts as IPv4); with full != 0 the address
 * itself in canonical form. "" for NULL, an unparseable address or a too
 * small out. Returns out. */
const char *km_audit_ip_truncate(const char *ip, int full, char *out, size_t outlen);

#endif
