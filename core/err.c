/* err.c — names and formatting for KM_E* codes. Thread-safe, no state. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *km_err_name(int err)
{
	switch (err) {
	case KM_OK: return "OK";
	case KM_EINVAL: return "EINVAL";
	case KM_ENOMEM: return "ENOMEM";
	case KM_EIO: return "EIO";
	case KM_ENOTFOUND: return "ENOTFOUND";
	case KM_EEXIST: return "EEXIST";
	case KM_EPERM: return "EPERM";
	case KM_ECRYPTO: return "ECRYPTO";
	case KM_ESTORE: return "ESTORE";
	case KM_ETOOBIG: return "ETOOBIG";
	case KM_EBUSY: return "EBUSY";
	case KM_EEXPIRED: return "EEXPIRED";
	case KM_EVERSION: return "EVERSION";
	case KM_EFULL: return "EFULL";
	}
	return "EUNKNOWN";
}

int km_errf(int err, char *buf, size_t len, const char *fmt, ...)
{
	if (buf && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return err;
}
