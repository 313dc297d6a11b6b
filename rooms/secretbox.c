/* secretbox.c — AES-256-GCM sealing of small secrets and the server key file
 * (see secretbox.h for the format). Not a transport cipher. No state; safe
 * from any thread. */
#include "rooms/secretbox.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Feeds the version byte and the caller's AAD as GCM additional data. */
static int gcm_aad(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *aad, size_t aadlen)
{
	const uint8_t version = KM_SECRETBOX_VERSION;
	int n = 0;
	int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
		enc ? EVP_EncryptUpdate : EVP_DecryptUpdate;

	if (update(ctx, NULL, &n, &version, 1) != 1)
		return KM_ECRYPTO;
	if (aadlen > 0 && update(ctx, NULL, &n, aad, (int)aadlen) != 1)
		return KM_ECRYPTO;
	return 0;
}

int km_secretbox_seal(const uint8_t key[KM_SECRETBOX_KEY_LEN], const uint8_t *aad, size_t aadlen,
		      const uint8_t *pt, size_t ptlen, uint8_t *out, size_t cap, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int rc = KM_ECRYPTO, n = 0, fin = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (key == NULL || out == NULL || outlen == NULL || (aad == NULL && aadlen > 0) ||
	    (pt == NULL && ptlen > 0))
		return KM_EINVAL;
	if (ptlen > KM_SECRETBOX_MAX_PT || aadlen > KM_SECRETBOX_MAX_PT ||
	    cap < ptlen + KM_SECRETBOX_OVERHEAD)
		return KM_ETOOBIG;

	uint8_t *nonce = out + 1;
	uint8_t *ct = nonce + KM_SECRETBOX_NONCE_LEN;
	out[0] = KM_SECRETBOX_VERSION;
	if (RAND_bytes(nonce, KM_SECRETBOX_NONCE_LEN) != 1)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KM_SECRETBOX_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (gcm_aad(ctx, 1, aad, aadlen) != 0)
		goto out;
	if (ptlen > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 || (size_t)(n + fin) != ptlen)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KM_SECRETBOX_TAG_LEN, ct + ptlen) != 1)
		goto out;
	*outlen = ptlen + KM_SECRETBOX_OVERHEAD;
	rc = 0;
out:
	if (rc != 0)
		OPENSSL_cleanse(out, ptlen + KM_SECRETBOX_OVERHEAD); /* cap >= this here */
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int km_secretbox_open(const uint8_t key[KM_SECRETBOX_KEY_LEN], const uint8_t *aad, size_t aadlen,
		      const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int rc = KM_ECRYPTO, n = 0, fin = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (key == NULL || outlen == NULL || (aad == NULL && aadlen > 0) || (in == NULL && inlen > 0))
		return KM_EINVAL;
	if (inlen < KM_SECRETBOX_OVERHEAD || in[0] != KM_SECRETBOX_VERSION)
		return KM_ECRYPTO;
	size_t ctlen = inlen - KM_SECRETBOX_OVERHEAD;
	if (ctlen > KM_SECRETBOX_MAX_PT || aadlen > KM_SECRETBOX_MAX_PT)
		return KM_ECRYPTO; /* never sealed by us */
	if (cap < ctlen || (out == NULL && ctlen > 0))
		return KM_ETOOBIG;

	const uint8_t *nonce = in + 1;
	const uint8_t *ct = nonce + KM_SECRETBOX_NONCE_LEN;
	uint8_t tag[KM_SECRETBOX_TAG_LEN];
	memcpy(tag, ct + ctlen, sizeof tag);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KM_SECRETBOX_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (gcm_aad(ctx, 0, aad, aadlen) != 0)
		goto out;
	if (ctlen > 0 && EVP_DecryptUpdate(ctx, out, &n, ct, (int)ctlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KM_SECRETBOX_TAG_LEN, tag) != 1)
		goto out;
	uint8_t none[1];
	if (EVP_DecryptFinal_ex(ctx, out == NULL ? none : out + n, &fin) != 1 ||
	    (size_t)(n + fin) != ctlen)
		goto out; /* the tag did not verify */
	*outlen = ctlen;
	rc = 0;
out:
	if (rc != 0 && out != NULL && ctlen > 0)
		OPENSSL_cleanse(out, ctlen);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* Reads exactly a 32-byte key from an open file after checking its type,
 * mode and size. */
static int key_read_fd(int fd, const char *path, uint8_t key[KM_SECRETBOX_KEY_LEN],
		       char *err, size_t errlen)
{
	struct stat st;
	uint8_t extra;
	size_t got = 0;

	if (fstat(fd, &st) != 0)
		return km_errf(KM_EIO, err, errlen, "cannot stat key file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return km_errf(KM_EINVAL, err, errlen, "key file %s is not a regular file", path);
	if ((st.st_mode & 077) != 0)
		return km_errf(KM_EPERM, err, errlen,
			       "key file %s has mode %04o: group or others may access it (want 0600)",
			       path, (unsigned)(st.st_mode & 07777));
	if (st.st_size != KM_SECRETBOX_KEY_LEN)
		return km_errf(KM_EINVAL, err, errlen, "key file %s is %lld bytes, want exactly %d",
			       path, (long long)st.st_size, KM_SECRETBOX_KEY_LEN);
	while (got < KM_SECRETBOX_KEY_LEN) {
		ssize_t r = read(fd, key + got, KM_SECRETBOX_KEY_LEN - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return km_errf(KM_EIO, err, errlen, "cannot read key file %s: %s", path,
				       r < 0 ? strerror(errno) : "short file");
		got += (size_t)r;
	}
	ssize_t r;
	do
		r = read(fd, &extra, 1);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		return km_errf(KM_EINVAL, err, errlen, "key file %s grew while being read", path);
	return 0;
}

/* Opens and reads path. Returns 0, KM_ENOTFOUND if it does not exist, or
 * another error with a reason. */
static int key_load(const char *path, uint8_t key[KM_SECRETBOX_KEY_LEN], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return KM_ENOTFOUND;
		return km_errf(KM_EIO, err, errlen, "cannot open key file %s: %s", path, strerror(errno));
	}
	int rc = key_read_fd(fd, path, key, err, errlen);
	close(fd);
	return rc;
}

/* Writes a new random key to a private temporary file, then links it to
 * path, which fails if path appeared meanwhile (another process won the
 * race: the caller then loads its key). Returns 0, KM_EEXIST, or an error. */
static int key_create(const char *path, uint8_t key[KM_SECRETBOX_KEY_LEN], char *err, size_t errlen)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return km_errf(KM_EINVAL, err, errlen, "key file path too long");
	if (RAND_bytes(key, KM_SECRETBOX_KEY_LEN) != 1)
		return km_errf(KM_ECRYPTO, err, errlen, "random generator failed");
	int rc = km_fs_write_atomic(tmp, key, KM_SECRETBOX_KEY_LEN, 0600, err, errlen);
	if (rc != 0)
		return rc;
	if (link(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		if (e == EEXIST)
			return KM_EEXIST;
		return km_errf(KM_EIO, err, errlen, "cannot create key file %s: %s", path, strerror(e));
	}
	unlink(tmp);
	char q[256];
	km_info("secretbox", "key_created", "path=%s", km_log_quote(q, sizeof q, path));
	return 0;
}

int km_secretbox_key_load_or_create(const char *path, uint8_t key[KM_SECRETBOX_KEY_LEN],
				    char *err, size_t errlen)
{
	int rc = KM_EINVAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (key == NULL)
		return km_errf(KM_EINVAL, err, errlen, "no key buffer");
	if (path == NULL || path[0] == '\0') {
		rc = km_errf(KM_EINVAL, err, errlen, "no key file path");
		goto out;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		rc = key_load(path, key, err, errlen);
		if (rc != KM_ENOTFOUND)
			break;
		rc = key_create(path, key, err, errlen);
		if (rc != KM_EEXIST)
			break;
	}
	if (rc == KM_EEXIST || rc == KM_ENOTFOUND)
		rc = km_errf(KM_EIO, err, errlen, "key file %s keeps appearing and vanishing", path);
out:
	if (rc != 0)
		OPENSSL_cleanse(key, KM_SECRETBOX_KEY_LEN);
	return rc;
}
