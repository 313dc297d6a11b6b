/* config_test.c — the config parser, validation and environment overrides. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"

#include <string.h>

static int parse(km_config_t *c, const char *text, char *err, size_t errlen)
{
	return km_config_parse(c, text, strlen(text), "kamer.conf", err, errlen);
}

static void test_defaults_are_valid(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	assert_string_equal(c.data_dir, "./var");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8443);
	assert_int_equal(c.http_max_body, 65536);
	assert_int_equal(c.log_level, KM_LOG_INFO);
	assert_int_equal(c.test_hooks, 0);
	assert_int_equal(km_config_validate(&c, err, sizeof err), 0);
	/* Every key's default round-trips through km_config_key. */
	char val[KM_PATH_MAX], def[KM_PATH_MAX];
	const char *h;
	int n = 0;
	for (const char *k; (k = km_config_key(&c, n, val, sizeof val, def, sizeof def, &h)); n++) {
		assert_string_equal(val, def);
		assert_true(strlen(h) > 10);
	}
	assert_true(n >= 10);
}

static void test_parse_file(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	const char *text = "# comment\n\n  listen = 0.0.0.0:9443  # trailing\r\n"
			   "data_dir = \"/srv/kamer data\"\nlog_level=warn\ntest_hooks = yes\n"
			   "public_url = https://video.example.nl\nhttp_max_body = 2048\n";
	assert_int_equal(parse(&c, text, err, sizeof err), 0);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 9443);
	assert_string_equal(c.data_dir, "/srv/kamer data");
	assert_int_equal(c.log_level, KM_LOG_WARN);
	assert_int_equal(c.test_hooks, 1);
	assert_string_equal(c.public_url, "https://video.example.nl");
	assert_int_equal(c.http_max_body, 2048);
}

static void test_ipv6_listen(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	assert_int_equal(km_config_set(&c, "listen", "[::1]:8443", "test", err, sizeof err), 0);
	assert_string_equal(c.listen_host, "::1");
	char val[128], def[128];
	assert_string_equal(km_config_key(&c, 1, val, sizeof val, def, sizeof def, NULL), "listen");
	assert_string_equal(val, "[::1]:8443");
}

static void expect_error(const char *text, const char *needle)
{
	km_config_t c;
	char err[512] = "";
	km_config_defaults(&c);
	int rc = km_config_parse(&c, text, strlen(text), "kamer.conf", err, sizeof err);
	if (rc != KM_EINVAL || !strstr(err, needle))
		fail_msg("input %s: rc %d, message \"%s\", expected \"%s\"", text, rc, err, needle);
}

static void test_invalid_values_named(void **state)
{
	expect_error("listen = 127.0.0.1\n", "kamer.conf:1: listen = \"127.0.0.1\": expected ADDR:PORT");
	expect_error("listen = localhost:80\n", "not a numeric IPv4 or IPv6 address");
	expect_error("listen = 127.0.0.1:0\n", "port must be a number from 1 to 65535");
	expect_error("listen = 127.0.0.1:65536\n", "port must be");
	expect_error("listen = [::1:80\n", "expected [IPv6]:PORT");
	expect_error("\n\nhttp_max_body = 10\n", "kamer.conf:3: http_max_body = \"10\": must be from 1024");
	expect_error("http_max_body = -5000\n", "not a whole number");
	expect_error("http_max_body = 99999999999999999999999\n", "not a whole number");
	expect_error("log_level = verbose\n", "must be debug, info, warn, error or off");
	expect_error("test_hooks = maybe\n", "must be true or false");
	expect_error("public_url = http://x.nl\n", "must start with https://");
	expect_error("public_url = https://x.nl/\n", "no trailing slash");
	expect_error("nonsense = 1\n", "unknown key \"nonsense\"");
	expect_error("just words\n", "expected key = value");
	expect_error("= 5\n", "missing key");
	expect_error("data_dir = \"unterminated\n", "unterminated quoted value");
	expect_error("data_dir = \n", "must not be empty");
}

static void test_nul_and_long_lines(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	const char nul[] = "log_level = info\0x\n";
	assert_int_equal(km_config_parse(&c, nul, sizeof nul - 1, "f", err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "NUL"));
	static char longline[10000];
	memset(longline, 'a', sizeof longline - 1);
	assert_int_equal(km_config_parse(&c, longline, strlen(longline), "f", err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "longer than"));
}

static void test_env_overrides(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	char *env[] = { "PATH=/bin", "KAMER_LISTEN=127.0.0.1:9000", "KAMER_CONFIG=/x", "KAMER_LOG_LEVEL=debug",
			"KAMER_UNKNOWN_THING=1", NULL };
	assert_int_equal(km_config_apply_env(&c, env, err, sizeof err), 0);
	assert_int_equal(c.listen_port, 9000);
	assert_int_equal(c.log_level, KM_LOG_DEBUG);
	char *bad[] = { "KAMER_HTTP_RATE_BURST=lots", NULL };
	assert_int_equal(km_config_apply_env(&c, bad, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "KAMER_HTTP_RATE_BURST: http_rate_burst = \"lots\""));
}

static void test_validate_relations(void **state)
{
	km_config_t c;
	char err[256];
	km_config_defaults(&c);
	assert_int_equal(km_config_set(&c, "tls_cert", "/etc/cert.pem", "t", err, sizeof err), 0);
	assert_int_equal(km_config_validate(&c, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "tls_cert and tls_key must be set together"));
	assert_int_equal(km_config_set(&c, "tls_key", "/etc/key.pem", "t", err, sizeof err), 0);
	assert_int_equal(km_config_validate(&c, err, sizeof err), 0);
	assert_int_equal(km_config_set(&c, "max_connections", "100", "t", err, sizeof err), 0);
	assert_int_equal(km_config_validate(&c, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "max_connections_per_ip"));
}

int main(void)
{
	km_log_set_level(KM_LOG_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_valid),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_ipv6_listen),
		cmocka_unit_test(test_invalid_values_named),
		cmocka_unit_test(test_nul_and_long_lines),
		cmocka_unit_test(test_env_overrides),
		cmocka_unit_test(test_validate_relations),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
