/* log.c — logfmt lines on stderr, one write(2) each. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int km_log_threshold = KM_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

int km_log_level_parse(const char *s)
{
	for (int i = 0; i <= KM_LOG_OFF; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void km_log_set_level(int level)
{
	if (level >= KM_LOG_DEBUG && level <= KM_LOG_OFF)
		km_log_threshold = level;
}

void km_log_write(int level, const char *sub, const char *event, const char *kv, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s sub=%s event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[level < 0 ? 0 : level > KM_LOG_ERROR ? KM_LOG_ERROR : level],
			 sub, event);
	if (n < 0)
		return;
	if ((size_t)n < sizeof line - 2 && kv && kv[0]) {
		line[n++] = ' ';
		va_list ap;
		va_start(ap, kv);
		int m = vsnprintf(line + n, sizeof line - (size_t)n, kv, ap);
		va_end(ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

const char *km_log_quote(char *buf, unsigned len, const char *s)
{
	unsigned o = 0;
	if (len < 3) {
		if (len)
			buf[0] = 0;
		return buf;
	}
	buf[o++] = '"';
	for (; s && *s && o + 3 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '?';
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}
