/* secretbox_test.c — AES-256-GCM sealing and the server key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "rooms/secretbox.h"

static const uint8_t key1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t secret20[20] = "12345678901234567890";
static const uint8_t aad1[] = "totp:account:42";

static void seal1(uint8_t *box, size_t *boxlen)
{
	assert_int_equal(km_secretbox_seal(key1, aad1, sizeof aad1 - 1, secret20, sizeof secret20,
					   box, 64, boxlen), 0);
	assert_int_equal(*boxlen, sizeof secret20 + KM_SECRETBOX_OVERHEAD);
}

static void test_round_trip(void **state)
{
	uint8_t box[64], pt[64];
	size_t boxlen, ptlen;
	seal1(box, &boxlen);
	assert_int_equal(box[0], 1);
	assert_int_equal(boxlen, 49);
	/* the plaintext does not appear in the box */
	assert_null(memmem(box, boxlen, "1234567890", 10));
	assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, boxlen, pt, sizeof pt,
					   &ptlen), 0);
	assert_int_equal(ptlen, 20);
	assert_memory_equal(pt, secret20, 20);
}

static void test_nonce_is_random(void **state)
{
	uint8_t a[64], b[64];
	size_t alen, blen;
	seal1(a, &alen);
	seal1(b, &blen);
	assert_memory_not_equal(a + 1, b + 1, KM_SECRETBOX_NONCE_LEN);
	assert_memory_not_equal(a, b, alen);
}

static void test_empty_plaintext_and_no_aad(void **state)
{
	uint8_t box[64], pt[4];
	size_t boxlen, ptlen = 99;
	assert_int_equal(km_secretbox_seal(key1, NULL, 0, NULL, 0, box, sizeof box, &boxlen), 0);
	assert_int_equal(boxlen, KM_SECRETBOX_OVERHEAD);
	assert_int_equal(km_secretbox_open(key1, NULL, 0, box, boxlen, pt, sizeof pt, &ptlen), 0);
	assert_int_equal(ptlen, 0);
	box[5] ^= 1;
	assert_int_equal(km_secretbox_open(key1, NULL, 0, box, boxlen, pt, sizeof pt, &ptlen),
			 KM_ECRYPTO);
}

static void test_every_bit_flip_refused(void **state)
{
	uint8_t box[64], pt[64];
	size_t boxlen, ptlen;
	seal1(box, &boxlen);
	for (size_t i = 0; i < boxlen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			box[i] ^= (uint8_t)(1u << bit);
			memset(pt, 0xAA, sizeof pt);
			int rc = km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, boxlen, pt,
						   sizeof pt, &ptlen);
			assert_int_equal(rc, KM_ECRYPTO);
			assert_int_equal(ptlen, 0);
			/* no plaintext is left behind in out */
			assert_null(memmem(pt, sizeof pt, "1234567890", 10));
			box[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, boxlen, pt, sizeof pt,
					   &ptlen), 0);
}

static void test_wrong_aad_key_truncated(void **state)
{
	uint8_t box[64], pt[64], key2[32];
	size_t boxlen, ptlen;
	seal1(box, &boxlen);
	static const uint8_t aad2[] = "totp:account:43";
	assert_int_equal(km_secretbox_open(key1, aad2, sizeof aad2 - 1, box, boxlen, pt, sizeof pt,
					   &ptlen), KM_ECRYPTO);
	assert_int_equal(km_secretbox_open(key1, NULL, 0, box, boxlen, pt, sizeof pt, &ptlen),
			 KM_ECRYPTO);
	assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 2, box, boxlen, pt, sizeof pt,
					   &ptlen), KM_ECRYPTO);
	memcpy(key2, key1, 32);
	key2[31] ^= 0x80;
	assert_int_equal(km_secretbox_open(key2, aad1, sizeof aad1 - 1, box, boxlen, pt, sizeof pt,
					   &ptlen), KM_ECRYPTO);
	for (size_t n = 0; n < boxlen; n++)
		assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, n, pt, sizeof pt,
						   &ptlen), KM_ECRYPTO);
	/* an extra byte appended is tampering too */
	box[boxlen] = 0;
	assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, boxlen + 1, pt,
					   sizeof pt, &ptlen), KM_ECRYPTO);
}

static void test_buffers_too_small(void **state)
{
	uint8_t box[64], pt[64];
	size_t boxlen, ptlen;
	assert_int_equal(km_secretbox_seal(key1, NULL, 0, secret20, 20, box, 48, &boxlen),
			 KM_ETOOBIG);
	seal1(box, &boxlen);
	assert_int_equal(km_secretbox_open(key1, aad1, sizeof aad1 - 1, box, boxlen, pt, 19, &ptlen),
			 KM_ETOOBIG);
	assert_int_equal(km_secretbox_seal(NULL, NULL, 0, secret20, 20, box, 64, &boxlen), KM_EINVAL);
}

/* ---- key file -------------------------------------------------------- */

static char dir[64];

static int make_dir(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/km_secretbox_XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int is_zero(const uint8_t *k)
{
	uint8_t acc = 0;
	for (int i = 0; i < 32; i++)
		acc |= k[i];
	return acc == 0;
}

static void test_key_created_0600_and_reloaded(void **state)
{
	char path[128], err[256];
	uint8_t k1[32], k2[32];
	struct stat st;
	snprintf(path, sizeof path, "%s/server.key", dir);
	mode_t old = umask(0); /* a careless umask must not widen the mode */
	int rc = km_secretbox_key_load_or_create(path, k1, err, sizeof err);
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_false(is_zero(k1));
	assert_int_equal(km_secretbox_key_load_or_create(path, k2, err, sizeof err), 0);
	assert_memory_equal(k1, k2, 32);
	/* no temporary file is left in the folder */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s/server.key.new.%ld", dir, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);

	/* the key works with seal/open */
	uint8_t box[64], pt[64];
	size_t boxlen, ptlen;
	assert_int_equal(km_secretbox_seal(k1, NULL, 0, secret20, 20, box, 64, &boxlen), 0);
	assert_int_equal(km_secretbox_open(k2, NULL, 0, box, boxlen, pt, 64, &ptlen), 0);
	unlink(path);
}

static void test_key_refused_when_readable(void **state)
{
	char path[128], err[256];
	uint8_t k[32];
	snprintf(path, sizeof path, "%s/open.key", dir);
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), 0);
	static const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0610};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		memset(k, 0x55, sizeof k);
		err[0] = '\0';
		assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), KM_EPERM);
		assert_non_null(strstr(err, "0600"));
		assert_true(is_zero(k));
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), 0);
	unlink(path);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_key_wrong_size_or_type(void **state)
{
	char path[128], err[256];
	uint8_t k[64];
	memset(k, 7, sizeof k);
	snprintf(path, sizeof path, "%s/short.key", dir);
	write_file(path, k, 31, 0600);
	err[0] = '\0';
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "31 bytes"));
	write_file(path, k, 33, 0600);
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), KM_EINVAL);
	write_file(path, k, 0, 0600);
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), KM_EINVAL);
	unlink(path);

	/* a folder is not a key file */
	assert_int_equal(km_secretbox_key_load_or_create(dir, k, err, sizeof err), KM_EINVAL);
	/* a missing folder is an I/O error, not silently created */
	snprintf(path, sizeof path, "%s/nope/server.key", dir);
	assert_int_equal(km_secretbox_key_load_or_create(path, k, err, sizeof err), KM_EIO);
	assert_int_equal(km_secretbox_key_load_or_create("", k, err, sizeof err), KM_EINVAL);
}

static void test_key_symlink_target_checked(void **state)
{
	char path[128], link_path[128], err[256];
	uint8_t k1[32], k2[32];
	snprintf(path, sizeof path, "%s/real.key", dir);
	snprintf(link_path, sizeof link_path, "%s/link.key", dir);
	assert_int_equal(km_secretbox_key_load_or_create(path, k1, err, sizeof err), 0);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(km_secretbox_key_load_or_create(link_path, k2, err, sizeof err), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(km_secretbox_key_load_or_create(link_path, k2, err, sizeof err), KM_EPERM);
	unlink(link_path);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_nonce_is_random),
		cmocka_unit_test(test_empty_plaintext_and_no_aad),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_wrong_aad_key_truncated),
		cmocka_unit_test(test_buffers_too_small),
		cmocka_unit_test(test_key_created_0600_and_reloaded),
		cmocka_unit_test(test_key_refused_when_readable),
		cmocka_unit_test(test_key_wrong_size_or_type),
		cmocka_unit_test(test_key_symlink_target_checked),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
