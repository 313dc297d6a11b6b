/* config_fuzz.c — libFuzzer harness for the kamer.conf parser: any bytes
 * must give 0 or KM_EINVAL with a message, never a crash; a file that
 * parses must leave a config whose keys all print back. */
#include "core/config.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	km_config_t c;
	char err[512];
	km_config_defaults(&c);
	int rc = km_config_parse(&c, (const char *)data, size, "fuzz.conf", err, sizeof err);
	if (rc != 0 && rc != KM_EINVAL)
		abort();
	if (rc == KM_EINVAL && err[0] == 0)
		abort();
	if (rc == 0) {
		char val[KM_PATH_MAX], def[KM_PATH_MAX];
		for (int i = 0; km_config_key(&c, i, val, sizeof val, def, sizeof def, NULL); i++)
			if (strlen(val) >= sizeof val)
				abort();
		km_config_validate(&c, err, sizeof err);
	}
	return 0;
}
