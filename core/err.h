/* err.h — kamer's error codes. Functions return 0 on success or a negative
 * KM_E* code; a caller-provided buffer carries the human-readable reason.
 * Leaf parsers in media/ define their own codes and include nothing of this. */
#ifndef KM_ERR_H
#define KM_ERR_H

#include <stddef.h>

enum {
	KM_OK = 0,
	KM_EINVAL = -1,    /* invalid argument or input */
	KM_ENOMEM = -2,    /* allocation failed */
	KM_EIO = -3,       /* file or socket I/O failed */
	KM_ENOTFOUND = -4, /* no such object */
	KM_EEXIST = -5,    /* object already exists */
	KM_EPERM = -6,     /* not allowed */
	KM_ECRYPTO = -7,   /* a cryptographic operation failed */
	KM_ESTORE = -8,    /* the store failed */
	KM_ETOOBIG = -9,   /* input over its limit */
	KM_EBUSY = -10,    /* resource in use (port taken, locked) */
	KM_EEXPIRED = -11, /* past its lifetime */
	KM_EVERSION = -12, /* incompatible version */
	KM_EFULL = -13,    /* the disk (or the database's quota) is full */
};

/* Returns a static, short name for a KM_E* code ("EINVAL"). */
const char *km_err_name(int err);

/* Formats a reason into buf (if buf is non-NULL) and returns err, so that
 * callers can write `return km_errf(KM_EINVAL, err, errlen, "bad %s", x);`. */
int km_errf(int err, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
