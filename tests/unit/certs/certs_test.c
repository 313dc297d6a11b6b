/* certs_test.c — the development CA and server certificate (made, reused,
 * renewed, repaired) and the production pair check, in a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "certs/certs.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400L

typedef struct fixture {
	char tmp[256];
	char dir[512];
	time_t t0;
	km_certs_paths_t p;
} fixture_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->tmp, sizeof f->tmp, "/tmp/kamer-certs-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof f->dir, "%s/var/certs", f->tmp); /* missing parents too */
	f->t0 = time(NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Makes the pair at t0 and checks that it was made. */
static void make_first(fixture_t *f)
{
	char err[512] = "";
	int renewed = -1;
	assert_int_equal(km_certs_ensure_dev(f->dir, f->t0, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 1);
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL, err[256];
	assert_int_equal(km_fs_read_all(path, 1 << 20, &buf, len, err, sizeof err), 0);
	return buf;
}

static int same_file(const char *path, const char *data, size_t len)
{
	size_t n;
	char *now = slurp(path, &n);
	int same = n == len && memcmp(now, data, n) == 0;
	free(now);
	return same;
}

static X509 *read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return x;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	return k;
}

static void write_file(const char *path, const char *data, size_t len)
{
	char err[256];
	assert_int_equal(km_fs_write_atomic(path, data, len, 0600, err, sizeof err), 0);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *d = slurp(from, &n);
	write_file(to, d, n);
	free(d);
}

static int mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

static int verifies(X509 *leaf, X509 *ca, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	X509_STORE_CTX_set_time(ctx, 0, at);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	int ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* Seconds from t to the certificate's notAfter. */
static long long secs_left(X509 *x, time_t t)
{
	int days = 0, secs = 0;
	ASN1_TIME *from = ASN1_TIME_set(NULL, t);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, from, X509_get0_notAfter(x)), 1);
	ASN1_TIME_free(from);
	return (long long)days * DAY + secs;
}

static void assert_p256(const char *path)
{
	EVP_PKEY *k = read_key(path);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	char group[64];
	size_t glen = 0;
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof group, &glen), 1);
	assert_string_equal(group, "prime256v1");
	EVP_PKEY_free(k);
}

static void assert_sans(X509 *x)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(names);
	static const unsigned char v4[4] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };
	int dns = 0, ip4 = 0, ip6 = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS && ASN1_STRING_length(g->d.dNSName) == 9 &&
		    memcmp(ASN1_STRING_get0_data(g->d.dNSName), "localhost", 9) == 0)
			dns++;
		if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4 &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), v4, 4) == 0)
			ip4++;
		if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 16 &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), v6, 16) == 0)
			ip6++;
	}
	assert_int_equal(sk_GENERAL_NAME_num(names), 3);
	assert_int_equal(dns, 1);
	assert_int_equal(ip4, 1);
	assert_int_equal(ip6, 1);
	GENERAL_NAMES_free(names);
}

static void test_first_call_makes_four_files(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	assert_int_equal(mode_of(f->dir), 0700);
	assert_int_equal(mode_of(f->p.ca_key), 0600);
	assert_int_equal(mode_of(f->p.server_key), 0600);
	assert_int_equal(mode_of(f->p.ca_cert), 0600);
	assert_int_equal(mode_of(f->p.server_cert), 0600);
	assert_non_null(strstr(f->p.ca_cert, "/var/certs/dev-ca.pem"));
	assert_non_null(strstr(f->p.server_key, "/var/certs/server.key"));
	assert_p256(f->p.ca_key);
	assert_p256(f->p.server_key);

	X509 *ca = read_cert(f->p.ca_cert), *srv = read_cert(f->p.server_cert);
	assert_non_null(ca);
	assert_non_null(srv);
	/* CA: CA:TRUE, keyCertSign, named, ten years. */
	assert_int_equal(X509_check_ca(ca), 1);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	char cn[128];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof cn) > 0);
	assert_int_equal(strlen(cn), strlen("kamer development CA ") + 8);
	assert_memory_equal(cn, "kamer development CA ", 21);
	assert_int_equal(strspn(cn + 21, "0123456789abcdef"), 8);
	assert_true(secs_left(ca, f->t0) >= 3650 * DAY);
	/* Server: CA:FALSE, serverAuth, SANs, 90 days, verifies against the CA. */
	assert_int_equal(X509_check_ca(srv), 0);
	assert_true(X509_get_extension_flags(srv) & EXFLAG_BCONS);
	assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
	assert_sans(srv);
	assert_int_equal(secs_left(srv, f->t0), 90 * DAY);
	assert_true(verifies(srv, ca, f->t0));
	assert_false(verifies(srv, ca, f->t0 + 91 * DAY));
	BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(srv), NULL);
	assert_true(BN_num_bits(serial) > 100 && BN_num_bits(serial) <= 128);
	assert_false(BN_is_negative(serial));
	BN_free(serial);
	X509_free(ca);
	X509_free(srv);
}

static void test_second_call_reuses(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	size_t n[4];
	const char *paths[4] = { f->p.ca_cert, f->p.ca_key, f->p.server_cert, f->p.server_key };
	char *before[4];
	for (int i = 0; i < 4; i++)
		before[i] = slurp(paths[i], &n[i]);
	char err[256];
	km_certs_paths_t p2;
	int renewed = -1;
	/* Same moment, then 59 days on (31 left: still kept). */
	assert_int_equal(km_certs_ensure_dev(f->dir, f->t0, &p2, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 0);
	assert_int_equal(km_certs_ensure_dev(f->dir, f->t0 + 59 * DAY, &p2, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 0);
	assert_int_equal(km_certs_ensure_dev(f->dir, f->t0, &p2, NULL, err, sizeof err), 0);
	assert_memory_equal(&p2, &f->p, sizeof p2);
	for (int i = 0; i < 4; i++) {
		assert_true(same_file(paths[i], before[i], n[i]));
		free(before[i]);
	}
}

static void test_renews_server_70_days_on(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	size_t ca_n, ca_key_n, key_n;
	char *ca_pem = slurp(f->p.ca_cert, &ca_n), *ca_key = slurp(f->p.ca_key, &ca_key_n);
	char *old_key = slurp(f->p.server_key, &key_n);
	X509 *old = read_cert(f->p.server_cert);

	char err[256];
	int renewed = -1;
	time_t later = f->t0 + 70 * DAY;
	assert_int_equal(km_certs_ensure_dev(f->dir, later, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 1);
	assert_true(same_file(f->p.ca_cert, ca_pem, ca_n));
	assert_true(same_file(f->p.ca_key, ca_key, ca_key_n));
	assert_false(same_file(f->p.server_key, old_key, key_n));
	X509 *srv = read_cert(f->p.server_cert), *ca = read_cert(f->p.ca_cert);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(old), X509_get0_serialNumber(srv)), 0);
	assert_true(verifies(srv, ca, later));
	assert_int_equal(secs_left(srv, later), 90 * DAY);
	assert_int_equal(mode_of(f->p.server_key), 0600);
	/* And then it is kept again. */
	assert_int_equal(km_certs_ensure_dev(f->dir, later, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 0);
	X509_free(srv);
	X509_free(ca);
	X509_free(old);
	free(ca_pem);
	free(ca_key);
	free(old_key);
}

/* After the server pair was broken: checks that only it is remade. */
static void assert_server_repaired(fixture_t *f)
{
	size_t ca_n;
	char *ca_pem = slurp(f->p.ca_cert, &ca_n);
	char err[256];
	int renewed = -1;
	assert_int_equal(km_certs_ensure_dev(f->dir, f->t0, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 1);
	assert_true(same_file(f->p.ca_cert, ca_pem, ca_n));
	X509 *srv = read_cert(f->p.server_cert), *ca = read_cert(f->p.ca_cert);
	assert_non_null(srv);
	assert_true(verifies(srv, ca, f->t0));
	int days = -1;
	assert_int_equal(km_certs_check_pair(f->p.server_cert, f->p.server_key, f->t0, &days, err, sizeof err), 0);
	X509_free(srv);
	X509_free(ca);
	free(ca_pem);
}

static void test_corrupt_server_pem_replaced(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	write_file(f->p.server_cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n", 46);
	assert_server_repaired(f);
	unlink(f->p.server_cert);
	assert_server_repaired(f);
}

static void test_mismatched_server_key_replaced(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	copy_file(f->p.ca_key, f->p.server_key);
	assert_server_repaired(f);
}

static void test_foreign_server_cert_replaced(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	/* A server pair from another CA: matches its key, but does not verify. */
	char other[600], err[256];
	km_certs_paths_t op;
	snprintf(other, sizeof other, "%s/other", f->tmp);
	assert_int_equal(km_certs_ensure_dev(other, f->t0, &op, NULL, err, sizeof err), 0);
	copy_file(op.server_cert, f->p.server_cert);
	copy_file(op.server_key, f->p.server_key);
	assert_server_repaired(f);
}

static void test_ca_expiring_or_missing_remakes_both(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	size_t n;
	char *ca_pem = slurp(f->p.ca_cert, &n);
	char err[256];
	int renewed = -1;
	time_t late = f->t0 + 3652 * DAY - 20 * DAY; /* CA has 20 days left */
	assert_int_equal(km_certs_ensure_dev(f->dir, late, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 1);
	assert_false(same_file(f->p.ca_cert, ca_pem, n));
	X509 *srv = read_cert(f->p.server_cert), *ca = read_cert(f->p.ca_cert);
	assert_true(verifies(srv, ca, late));
	X509_free(srv);
	X509_free(ca);
	free(ca_pem);

	/* The CA key gone: cannot sign any more, so both are remade. */
	ca_pem = slurp(f->p.ca_cert, &n);
	unlink(f->p.ca_key);
	assert_int_equal(km_certs_ensure_dev(f->dir, late, &f->p, &renewed, err, sizeof err), 0);
	assert_int_equal(renewed, 1);
	assert_false(same_file(f->p.ca_cert, ca_pem, n));
	assert_int_equal(mode_of(f->p.ca_key), 0600);
	srv = read_cert(f->p.server_cert);
	ca = read_cert(f->p.ca_cert);
	assert_true(verifies(srv, ca, late));
	X509_free(srv);
	X509_free(ca);
	free(ca_pem);
}

static void test_check_pair_ok(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	char err[256] = "";
	int days = -1;
	assert_int_equal(km_certs_check_pair(f->p.server_cert, f->p.server_key, f->t0, &days, err, sizeof err), 0);
	assert_int_equal(days, 90);
	assert_int_equal(km_certs_check_pair(f->p.server_cert, f->p.server_key, f->t0 + 70 * DAY + 1, &days,
					     err, sizeof err), 0);
	assert_int_equal(days, 19);
	/* A chain file (leaf first, then the CA) is fine too. */
	size_t a, b;
	char *leaf = slurp(f->p.server_cert, &a), *ca = slurp(f->p.ca_cert, &b);
	char chain[600];
	snprintf(chain, sizeof chain, "%s/chain.pem", f->tmp);
	char *both = malloc(a + b);
	memcpy(both, leaf, a);
	memcpy(both + a, ca, b);
	write_file(chain, both, a + b);
	assert_int_equal(km_certs_check_pair(chain, f->p.server_key, f->t0, NULL, err, sizeof err), 0);
	free(both);
	free(leaf);
	free(ca);
}

static void test_check_pair_failures(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	char err[512] = "";
	int days = 0;
	int rc = km_certs_check_pair(f->p.server_cert, f->p.ca_key, f->t0, &days, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
	assert_non_null(strstr(err, "key does not match certificate"));
	assert_non_null(strstr(err, f->p.ca_key));

	rc = km_certs_check_pair(f->p.server_cert, f->p.server_key, f->t0 + 200 * DAY, &days, err, sizeof err);
	assert_int_equal(rc, KM_EEXPIRED);
	assert_non_null(strstr(err, "certificate expired on "));
	assert_non_null(strstr(err, f->p.server_cert));
	assert_int_equal(days, -110);
	char date[32];
	time_t na = f->t0 + 90 * DAY;
	struct tm tm;
	strftime(date, sizeof date, "%Y-%m-%d", gmtime_r(&na, &tm));
	assert_non_null(strstr(err, date));

	rc = km_certs_check_pair(f->p.server_cert, f->p.server_key, f->t0 - 2 * DAY, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
	assert_non_null(strstr(err, "not valid before"));

	char missing[600];
	snprintf(missing, sizeof missing, "%s/nope.pem", f->tmp);
	rc = km_certs_check_pair(missing, f->p.server_key, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_ENOTFOUND);
	assert_non_null(strstr(err, "cannot read"));
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file or directory"));
	rc = km_certs_check_pair(f->p.server_cert, missing, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_ENOTFOUND);
	assert_non_null(strstr(err, "No such file or directory"));

	/* Not PEM; a folder; a certificate given as the key. */
	rc = km_certs_check_pair(f->p.server_key, f->p.server_key, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
	assert_non_null(strstr(err, "no PEM certificate"));
	rc = km_certs_check_pair(f->dir, f->p.server_key, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	rc = km_certs_check_pair(f->p.server_cert, f->p.server_cert, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
	assert_non_null(strstr(err, "private key"));
	rc = km_certs_check_pair("", f->p.server_key, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
}

static void test_encrypted_key_refused_without_prompt(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	EVP_PKEY *k = read_key(f->p.server_key);
	char path[600], err[512];
	snprintf(path, sizeof path, "%s/enc.key", f->tmp);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PKCS8PrivateKey(fp, k, EVP_aes_256_cbc(), NULL, 0, NULL, "secret"), 1);
	fclose(fp);
	int rc = km_certs_check_pair(f->p.server_cert, path, f->t0, NULL, err, sizeof err);
	assert_int_equal(rc, KM_EINVAL);
	assert_non_null(strstr(err, "unencrypted"));
	EVP_PKEY_free(k);
}

static void test_ssl_ctx_accepts_pair(void **state)
{
	fixture_t *f = *state;
	make_first(f);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, f->p.server_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, f->p.server_key, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	SSL_CTX_free(ctx);
}

static void test_bad_arguments(void **state)
{
	fixture_t *f = *state;
	char err[256], longdir[5000];
	km_certs_paths_t p;
	int renewed = -1;
	assert_int_equal(km_certs_ensure_dev("", f->t0, &p, &renewed, err, sizeof err), KM_EINVAL);
	assert_int_equal(renewed, 0);
	memset(longdir, 'a', sizeof longdir - 1);
	longdir[sizeof longdir - 1] = 0;
	assert_int_equal(km_certs_ensure_dev(longdir, f->t0, &p, NULL, err, sizeof err), KM_ETOOBIG);
	/* A file where the folder should be. */
	char file[600];
	snprintf(file, sizeof file, "%s/file", f->tmp);
	write_file(file, "x", 1);
	assert_int_equal(km_certs_ensure_dev(file, f->t0, &p, NULL, err, sizeof err), KM_EIO);
}

int main(void)
{
	km_log_set_level(KM_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_call_makes_four_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_call_reuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renews_server_70_days_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_server_pem_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatched_server_key_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_server_cert_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_expiring_or_missing_remakes_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pair_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pair_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted_key_refused_without_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_ctx_accepts_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
