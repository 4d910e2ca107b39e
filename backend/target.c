// SPDX-License-Identifier: MIT
/* The storage a device serves: a block device or a regular file. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

int target_open(struct target *t, const char *path, bool writable, bool want_direct, bool want_buffered_too)
{
	int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	struct stat st;
	int fd = -1, rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->bfd = -1;
	if (want_direct) {
		fd = open(path, flags | O_DIRECT);
		if (fd >= 0)
			t->direct = true;
		/* EINVAL: the filesystem refuses O_DIRECT; buffered (the caller's connect line says so). */
	}
	if (fd < 0)
		fd = open(path, flags);
	if (fd < 0) {
		rc = -errno;
		vha_debug("cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	t->logical_block = 512;
	t->physical_block = 512;
	if (S_ISBLK(st.st_mode)) {
		int lbs = 512;
		unsigned int pbs = 512;

		t->is_blockdev = true;
		if (ioctl(fd, BLKGETSIZE64, &t->size) != 0) {
			rc = -errno;
			goto fail;
		}
		if (ioctl(fd, BLKSSZGET, &lbs) == 0 && (lbs == 512 || lbs == 4096))
			t->logical_block = (uint32_t)lbs;
		if (ioctl(fd, BLKPBSZGET, &pbs) == 0 && pbs >= t->logical_block && pbs <= 65536)
			t->physical_block = pbs;
		t->discard = true;  /* BLKDISCARD answers EOPNOTSUPP where it cannot */
	} else if (S_ISREG(st.st_mode)) {
		t->size = (uint64_t)st.st_size;
		t->physical_block = 4096;
		t->discard = writable;
	} else {
		vha_debug("%s is neither a block device nor a regular file", path);
		rc = -EINVAL;
		goto fail;
	}
	if (t->direct && want_buffered_too) {
		t->bfd = open(path, flags);
		if (t->bfd < 0) {
			rc = -errno;
			goto fail;
		}
	}
	t->fd = fd;
	return 0;
fail:
	if (rc != -EINVAL)
		vha_debug("%s: %s", path, strerror(-rc));
	close(fd);
	return rc;
}

void target_close(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->bfd >= 0)
		close(t->bfd);
	t->fd = -1;
	t->bfd = -1;
}

static int discard_chunk(struct target *t, uint64_t offset, uint64_t len, bool secure)
{
	if (t->is_blockdev) {
		uint64_t range[2] = { offset, len };

		return ioctl(t->fd, secure ? BLKSECDISCARD : BLKDISCARD, range) == 0 ? 0 : -errno;
	}
	if (secure)
		return -EOPNOTSUPP;
	/* Punching keeps the size; reads of the range return zeroes, as blkback's discard on files. */
	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) != 0)
		return -errno;
	return 0;
}

int target_discard(struct target *t, uint64_t offset, uint64_t len, bool secure, bool (*stop)(void *), void *arg)
{
	while (len > 0) {
		uint64_t n = len < TARGET_DISCARD_CHUNK ? len : TARGET_DISCARD_CHUNK;
		int rc;

		if (stop && stop(arg))
			return -ECANCELED;
		rc = discard_chunk(t, offset, n, secure);
		if (rc < 0)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

int64_t target_size(struct target *t)
{
	struct stat st;
	uint64_t size;

	if (t->fd < 0)
		return -EBADF;
	if (t->is_blockdev)
		return ioctl(t->fd, BLKGETSIZE64, &size) == 0 ? (int64_t)size : -errno;
	return fstat(t->fd, &st) == 0 ? (int64_t)st.st_size : -errno;
}
