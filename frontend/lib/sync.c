// SPDX-License-Identifier: MIT
/* libvhafront: synchronous helpers over submit and poll; large I/O is split and pipelined. */
#include <errno.h>

#include "front_internal.h"

struct sync_state {
	int status;
	unsigned int pending;
};

static void sync_cb(void *opaque, int status)
{
	struct sync_state *st = opaque;

	if (status && !st->status)
		st->status = status;
	st->pending--;
}

static int sync_io(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len)
{
	struct sync_state st = { 0 };
	size_t max = vha_front_max_io(f), done = 0;
	int rc;

	while (done < len || st.pending) {
		if (done < len && !st.status) {
			size_t n = len - done < max ? len - done : max;

			rc = vha_front_submit(f, op, offset + done, (char *)buf + done, n, sync_cb, &st);
			if (rc == 0) {
				st.pending++;
				done += n;
				continue;
			}
			if (rc != -EAGAIN)
				return st.pending ? (st.status ? st.status : rc) : rc;
		} else if (st.status && !st.pending) {
			break;
		}
		rc = vha_front_poll(f, 1000);
		if (rc < 0)
			return rc;
		if (st.status && done < len)
			done = len;     /* stop issuing after an error; drain what is out */
	}
	return st.status;
}

int vha_front_read(struct vha_front *f, uint64_t offset, void *buf, size_t len)
{
	return sync_io(f, VHA_FRONT_READ, offset, buf, len);
}

int vha_front_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len)
{
	return sync_io(f, VHA_FRONT_WRITE, offset, (void *)buf, len);
}

static int sync_one(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, uint64_t len)
{
	struct sync_state st = { .pending = 1 };
	int rc;

	while ((rc = vha_front_submit(f, op, offset, buf, (size_t)len, sync_cb, &st)) == -EAGAIN)
		if ((rc = vha_front_poll(f, 1000)) < 0)
			return rc;
	if (rc < 0)
		return rc;
	while (st.pending)
		if ((rc = vha_front_poll(f, 1000)) < 0)
			return rc;
	return st.status;
}

int vha_front_flush(struct vha_front *f)
{
	return f->info.flush ? sync_one(f, VHA_FRONT_FLUSH, 0, NULL, 0) : 0;
}

int vha_front_discard(struct vha_front *f, uint64_t offset, uint64_t len)
{
	if (!f->info.discard)
		return -EOPNOTSUPP;
	return sync_one(f, VHA_FRONT_DISCARD, offset, NULL, len);
}

int vha_front_barrier_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len)
{
	return sync_one(f, VHA_FRONT_BARRIER, offset, (void *)buf, len);
}
