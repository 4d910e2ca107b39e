// SPDX-License-Identifier: MIT
/*
 * One vha-backend per state directory. Two daemons of the same type on the
 * same journals would both serve (and take over) the same live rings. The
 * lock is flock(2) on <state-dir>/lock, a file that is never removed (a pid
 * file can be deleted while its process still runs; a lock on a deleted
 * file protects nothing). The kernel drops the lock only when the holder's
 * files are closed, after its memory (grant mappings included) is torn
 * down, so a restarted daemon that waits for the lock waits for the old
 * process to be really gone, not just signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

int backend_lock(const char *state_dir, unsigned int wait_ms, int *fd_out)
{
	char path[4200];
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	unsigned int waited = 0;
	int fd;

	*fd_out = -1;
	snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = -errno;

		if (rc != -EWOULDBLOCK || waited >= wait_ms) {
			close(fd);
			return rc;
		}
		nanosleep(&nap, NULL);
		waited += 50;
	}
	*fd_out = fd;
	return 0;
}
