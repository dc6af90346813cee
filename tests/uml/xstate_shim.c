/*
 * LD_PRELOAD shim for User-Mode Linux 6.1 on hosts whose XSAVE area is larger than UML's buffer.
 *
 * UML saves and restores a traced process's extended FPU state with PTRACE_GETREGSET /
 * PTRACE_SETREGSET (NT_X86_XSTATE) and a buffer of a size fixed when it was built: Debian's
 * linux.uml 6.1um4 passes 2696 bytes (0xa88, the Intel AVX-512 + PKRU layout). The host kernel
 * reads its own size from a SETREGSET buffer at least that large but refuses a smaller one with
 * EFAULT, so where the host's area is larger (AMX: 11008 bytes) UML panics at boot ("ptrace set
 * fp regs failed, errno = 14"). Plain UML needs no shim on smaller areas (AMD AVX-512 without
 * PKU: 2432), but the shim must still work there (the runner smoke tier boots it everywhere).
 *
 * This shim wraps ptrace() and keeps, per traced thread, the full XSAVE area the host last handed
 * out:
 *   - GETREGSET fetches the whole area, remembers it and gives the caller as much of it as fits;
 *   - SETREGSET overlays as much of the caller's buffer as the host's area holds on the
 *     remembered area (fetching it first when there is none) and sets the host's full size.
 * Every other request goes straight through. State beyond UML's size (AMX tiles) is therefore
 * the host thread's own, not carried through guest signal frames or guest context switches; the
 * guest's code (Python, iproute2, the agent) does not rely on it.
 *
 * Built by tests/uml/assets.py (gcc -shared -fPIC -O2 xstate_shim.c -o xstate_shim.so -ldl).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PTRACE_GETREGSET_REQ 0x4204
#define PTRACE_SETREGSET_REQ 0x4205
#define NT_X86_XSTATE_NOTE 0x202
#define MAX_XSTATE (64 * 1024)
#define SLOTS 4096

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

struct slot {
	pid_t pid;
	size_t size;
	unsigned char *area;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ptrace_fn real_ptrace;

static ptrace_fn next_ptrace(void)
{
	if (!real_ptrace)
		real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return real_ptrace;
}

/* The slot of pid (open addressing; a pid's slot is reused when the pid comes back). */
static struct slot *slot_of(pid_t pid)
{
	unsigned int start = (unsigned int)pid % SLOTS;
	struct slot *free_slot = NULL;
	for (unsigned int i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[(start + i) % SLOTS];
		if (s->pid == pid)
			return s;
		if (s->pid == 0) {
			free_slot = s;
			break;
		}
	}
	if (!free_slot) /* table full: recycle the home slot */
		free_slot = &slots[start];
	free_slot->pid = pid;
	free_slot->size = 0;
	if (!free_slot->area)
		free_slot->area = malloc(MAX_XSTATE);
	return free_slot;
}

/* Fetch pid's whole XSAVE area into its slot. Called with the lock held. */
static long fetch_full(pid_t pid, struct slot *s)
{
	struct iovec full = { .iov_base = s->area, .iov_len = MAX_XSTATE };
	long rc = next_ptrace()(PTRACE_GETREGSET_REQ, pid, (void *)(long)NT_X86_XSTATE_NOTE, &full);
	s->size = rc == 0 ? full.iov_len : 0;
	return rc;
}

static long get_xstate(pid_t pid, struct iovec *iov)
{
	pthread_mutex_lock(&lock);
	struct slot *s = slot_of(pid);
	long rc = s->area ? fetch_full(pid, s) : -1;
	if (rc == 0) {
		size_t n = iov->iov_len < s->size ? iov->iov_len : s->size;
		memcpy(iov->iov_base, s->area, n);
		iov->iov_len = n;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static long set_xstate(pid_t pid, struct iovec *iov)
{
	long rc = 0;
	pthread_mutex_lock(&lock);
	struct slot *s = slot_of(pid);
	if (!s->area) {
		rc = -1;
		errno = ENOMEM;
	} else if (s->size == 0) {
		rc = fetch_full(pid, s);
	}
	if (rc == 0) {
		size_t n = iov->iov_len < s->size ? iov->iov_len : s->size;
		memcpy(s->area, iov->iov_base, n);
		struct iovec full = { .iov_base = s->area, .iov_len = s->size };
		rc = next_ptrace()(PTRACE_SETREGSET_REQ, pid, (void *)(long)NT_X86_XSTATE_NOTE, &full);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

/* glibc declares ptrace variadic; on x86-64 a four-argument definition is call-compatible. */
long ptrace(int request, pid_t pid, void *addr, void *data)
{
	if ((long)addr == NT_X86_XSTATE_NOTE && data) {
		if (request == PTRACE_GETREGSET_REQ)
			return get_xstate(pid, (struct iovec *)data);
		if (request == PTRACE_SETREGSET_REQ)
			return set_xstate(pid, (struct iovec *)data);
	}
	return next_ptrace()(request, pid, addr, data);
}
