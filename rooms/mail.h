/* mail.h — kamer's invitation email: composing the RFC 5322 message (pure),
 * writing it to the outbox folder (default transport), and sending it over
 * SMTP with libcurl (configured transport; TLS required, plain refused).
 *
 * The message carries only what is needed to join: the organisation's name,
 * the date and time of the consult (Europe/Amsterdam), the personal link and
 * one fixed sentence, in Dutch then English. Never an invitee name, a reason
 * for the visit or clinician-entered text: the struct has no field for them.
 *
 * Threading: no shared state. km_mail_compose and km_mail_outbox_write are
 * safe from any thread. km_mail_smtp_send BLOCKS (network, retries with
 * backoff, up to minutes): never call it on the signaling (lws) thread; run
 * it on a worker thread and hand the result back through the loop's queue. */
#ifndef KM_MAIL_H
#define KM_MAIL_H

#include <stddef.h>
#include <stdint.h>

#define KM_MAIL_ADDR_MAX 254    /* RFC 5321 path limit */
#define KM_MAIL_LINK_MAX 1024   /* bytes of a join link */
#define KM_MAIL_ORG_MAX 200     /* bytes (UTF-8) of an organisation's name */
#define KM_MAIL_MSG_MAX 16384   /* a composed message never exceeds this */
#define KM_MAIL_RANDOM_LEN 16   /* bytes of randomness for the Message-ID */

typedef struct km_invite_mail {
	const char *to;                /* invitee address, bare addr-spec a@b.example */
	const char *link;              /* https://HOST/j/TOKEN */
	int64_t starts_at;             /* consult start, Unix seconds (UTC) */
	const char *org_name;          /* UTF-8, no control characters */
	const char *from;              /* sender address, bare addr-spec */
	const char *message_id_domain; /* right side of the Message-ID; NULL: from's domain */
	uint8_t random[KM_MAIL_RANDOM_LEN]; /* caller's random bytes for the Message-ID */
} km_invite_mail_t;

/* Composes the invitation. Pure: no I/O, no clock, no randomness, no global
 * state; the same input gives the same bytes. `now` (Unix seconds) becomes
 * the Date header. Borrows m; on success *out is a new NUL-terminated
 * message (caller frees), *len its length without the NUL.
 *
 * Format: CRLF line endings; headers From (org name as an RFC 2047 display
 * name), To, Subject, Date, Message-ID, MIME-Version, Content-Type
 * text/plain; charset=utf-8, Content-Transfer-Encoding: quoted-printable,
 * Content-Language, Auto-Submitted: auto-generated. Header lines fold at 78
 * where they can (an address or the Message-ID cannot fold: at most ~300
 * bytes, well under 998), body
 * lines are at most 76 bytes, and the whole message is 7-bit ASCII.
 * Quoted-printable rather than 8bit: it needs no 8BITMIME from any relay
 * (libcurl does not declare BODY=8BITMIME), keeps lines short so that no
 * hop re-wraps them, and survives DKIM signing unchanged.
 *
 * Returns 0; KM_EINVAL (reason in err) for a NULL field, a CR, LF or other
 * control character in to/from/org_name/link, an invalid address, a link
 * that is not https:// or holds characters outside RFC 3986, invalid UTF-8
 * in org_name, an invalid Message-ID domain, or a time outside years
 * 1970..9999; KM_ETOOBIG for a field over its limit; KM_ENOMEM. */
int km_mail_compose(const km_invite_mail_t *m, int64_t now, char **out, size_t *len,
		    char *err, size_t errlen);

/* Checks a bare address (local@domain): dot-atom local part of at most 64
 * bytes, ASCII host name of labels [A-Za-z0-9-] (at most 63 each, no
 * leading or trailing '-', at least two labels), total at most 254 bytes.
 * No display names, comments, quoted local parts or address literals.
 * Returns 0 or KM_EINVAL/KM_ETOOBIG with a reason that never repeats the
 * address (it is personal data). */
int km_mail_address_check(const char *addr, char *err, size_t errlen);

/* Wall-clock time in Europe/Amsterdam by the EU rule (CEST from the last
 * Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC, CET
 * otherwise; valid for 1996 onwards, extended to all years here). */
typedef struct km_mail_localtime {
	int year, month, day;   /* month 1..12, day 1..31 */
	int hour, minute, second;
	int wday;               /* 0 = Sunday .. 6 = Saturday */
	int utc_offset;         /* seconds: 3600 (CET) or 7200 (CEST) */
} km_mail_localtime_t;

/* Fills *out for `utc` (Unix seconds). Returns 0 or KM_EINVAL if utc is
 * before 1970 or after 9999-12-31. Pure. */
int km_mail_amsterdam_time(int64_t utc, km_mail_localtime_t *out);

/* Writes msg (len bytes, borrowed) to outbox_dir as `<UTC time>-<random>.eml`
 * (e.g. 20260303T133000Z-8f3a0c1d2e4b5a69.eml) with mode 0600, atomically:
 * the data goes to a temporary name not ending in .eml, is fsynced and then
 * renamed, so a reader listing *.eml never sees a half-written file. The
 * file name (not the path) is copied to name_out (name_len >= 64 is always
 * enough; may be NULL). Returns 0, KM_EINVAL, KM_ETOOBIG, KM_ECRYPTO (no
 * randomness) or KM_EIO, with a reason in err. */
int km_mail_outbox_write(const char *outbox_dir, const char *msg, size_t len, char *name_out,
			 size_t name_len, char *err, size_t errlen);

typedef struct km_smtp_config {
	const char *url;      /* smtp://host:587 (STARTTLS required) or smtps://host:465 */
	const char *username; /* NULL or "": no AUTH */
	const char *password;
	const char *ca_file;  /* PEM bundle to trust; NULL: the system's store */
	int attempts;         /* 1..5 (clamped); 0 means 3 */
	int timeout_s;        /* per attempt, 1..120 (clamped); 0 means 30 */
} km_smtp_config_t;

/* Sends msg (len bytes, as composed above; borrowed) from `from` to `to`
 * (bare addresses) through the server in c. TLS is mandatory: smtps://
 * (implicit TLS) or smtp:// with STARTTLS; a server that offers no STARTTLS
 * is refused before any credentials or message bytes are sent. The server's
 * certificate and host name are verified (against c->ca_file if set).
 *
 * Transient failures (connection refused or lost, time-outs, SMTP 4xx) are
 * retried up to c->attempts times with backoff 1 s, 2 s, 4 s, 8 s; permanent
 * ones (no STARTTLS, authentication, certificate, SMTP 5xx) are not. Total
 * time is bounded by attempts * timeout_s + 15 s.
 *
 * BLOCKS: call from a worker thread, never the signaling thread. Thread-safe
 * (libcurl's global init is done once, internally).
 *
 * Returns 0, KM_EINVAL (bad url, address or config), KM_EPERM (TLS refused,
 * authentication failed, certificate not trusted, message refused) or KM_EIO
 * (network), with a short English reason fit for the clinician's view in
 * err, e.g. "SMTP server does not offer STARTTLS", "authentication failed",
 * "connection refused". The reason never contains an address or password. */
int km_mail_smtp_send(const km_smtp_config_t *c, const char *from, const char *to,
		      const char *msg, size_t len, char *err, size_t errlen);

#endif
