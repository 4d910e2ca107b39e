// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: arbitrary bytes from a guest's xenstore connection into
 * the sim xenstored's message parser and request handlers. The first byte
 * picks the connection's domain (0 = privileged); a second connection of
 * domain 1 stays open so watch fan-out and permissions are exercised.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../tools/simxenstored/xsd.h"
#include "vha/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd *x;
	struct xsd_conn *c, *other;

	if (size < 1)
		return 0;
	vha_log_set_threshold(VHA_LOG_ERROR);
	if (xsd_create_detached(&x) < 0)
		return 0;
	other = xsd_conn_new_detached(x, 1);
	c = xsd_conn_new_detached(x, data[0] % 3);
	if (c && other) {
		/* Feed in uneven pieces: the parser must reassemble across reads. */
		size_t off = 1;

		while (off < size) {
			size_t n = 1 + (data[off] % 97);

			if (n > size - off)
				n = size - off;
			if (xsd_conn_input(x, c, data + off, n) < 0)
				break;
			off += n;
		}
	}
	xsd_destroy(x);
	return 0;
}
