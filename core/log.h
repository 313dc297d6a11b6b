/* log.h — kamer's one logging interface: logfmt lines on stderr.
 *
 *   ts=2026-11-27T05:20:00.123Z level=info sub=http event=listen addr=127.0.0.1:8443
 *
 * The level is checked before any argument is evaluated. Callers pass only
 * opaque ids and technical facts: never a password, token, email address,
 * name, chat text or SDP (see docs/operations.md). Thread-safe: each line is
 * written with one write(2). */
#ifndef KM_LOG_H
#define KM_LOG_H

enum km_log_level { KM_LOG_DEBUG = 0, KM_LOG_INFO, KM_LOG_WARN, KM_LOG_ERROR, KM_LOG_OFF };

extern int km_log_threshold;

/* Parses "debug|info|warn|error|off"; returns the level or -1. */
int km_log_level_parse(const char *s);
void km_log_set_level(int level);

/* kv is a printf format of further `key=value` pairs (may be ""). Values that
 * may contain spaces or quotes must go through km_log_quote(). */
void km_log_write(int level, const char *sub, const char *event, const char *kv, ...)
	__attribute__((format(printf, 4, 5)));

/* Quotes s for logfmt into buf (returns buf): `"a b"` with \" and \\ escaped,
 * control characters replaced. Truncates to len. */
const char *km_log_quote(char *buf, unsigned len, const char *s);

#define KM_LOG(level, sub, event, ...)                                          \
	do {                                                                    \
		if ((level) >= km_log_threshold)                                \
			km_log_write((level), (sub), (event), __VA_ARGS__);     \
	} while (0)
#define km_debug(sub, event, ...) KM_LOG(KM_LOG_DEBUG, sub, event, __VA_ARGS__)
#define km_info(sub, event, ...) KM_LOG(KM_LOG_INFO, sub, event, __VA_ARGS__)
#define km_warn(sub, event, ...) KM_LOG(KM_LOG_WARN, sub, event, __VA_ARGS__)
#define km_error(sub, event, ...) KM_LOG(KM_LOG_ERROR, sub, event, __VA_ARGS__)

#endif
