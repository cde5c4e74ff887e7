/*
 * Rate limits and lockouts in a shared memory-mapped file.
 *
 * Layout: a header with a process-shared robust mutex and a random SipHash key, then one
 * open-addressed table of slots per limit. Keys (client addresses, case numbers) are hashed
 * with the secret key so nobody can aim collisions at one slot. A full probe window evicts
 * its stalest slot: the tables forget idle clients, never busy ones. The mutex is robust so
 * that a worker killed while holding it does not wedge the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core.h"

#define LIMITS_MAGIC 0x48414c4c4c494d34ULL /* "HALLLIM4" */
#define LIMITS_SLOTS 16384 /* per table, a power of two: 768 KiB each */
#define LIMITS_PROBE 32

struct limit_slot {
	uint64_t hash;		/* 0: empty */
	int64_t seen_ms;	/* last update */
	double tokens;		/* rate limits */
	int32_t fails;		/* lockout: wrong codes in the window */
	int64_t first_ms;	/* lockout: first wrong code of the window */
	int64_t locked_ms;	/* lockout: locked until */
};

struct limits_shm {
	uint64_t magic;
	uint64_t size;
	pthread_mutex_t mu;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct limit_slot slot[LIMIT__MAX][LIMITS_SLOTS];
};

struct limits {
	struct limits_shm *shm;
};

static int64_t
now_ms(void)
{
	return (int64_t)(time_now_us() / 1000);
}

static int
limits_init_shm(struct limits_shm *m)
{
	pthread_mutexattr_t a;

	memset(m, 0, sizeof(*m));
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&m->mu, &a) != 0)
		return -1;
	pthread_mutexattr_destroy(&a);
	randombytes_buf(m->key, sizeof(m->key));
	m->size = sizeof(*m);
	__atomic_store_n(&m->magic, LIMITS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

struct limits *
limits_open(const char *path)
{
	struct limits *l = NULL;
	struct stat sb;
	void *p = MAP_FAILED;
	int fd;

	/* hall-read's and hall-write's: 0660 under the units' UMask=0007, 0600 in the demo */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) == -1) {
		log_warn("%s: %s", __func__, path);
		return NULL;
	}
	/* the first program to start lays the file out; the others wait for it */
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &sb) == -1) {
		log_warn("%s: %s", __func__, path);
		goto done;
	}
	if ((size_t)sb.st_size != sizeof(struct limits_shm) &&
	    (ftruncate(fd, 0) == -1 || ftruncate(fd, sizeof(struct limits_shm)) == -1)) {
		log_warn("%s: %s", __func__, path);
		goto done;
	}
	p = mmap(NULL, sizeof(struct limits_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("%s: mmap %s", __func__, path);
		goto done;
	}
	if ((((struct limits_shm *)p)->magic != LIMITS_MAGIC ||
		((struct limits_shm *)p)->size != sizeof(struct limits_shm)) &&
	    limits_init_shm(p) == -1) {
		log_warnx("%s: cannot initialize %s", __func__, path);
		goto done;
	}
	if ((l = calloc(1, sizeof(*l))) != NULL) {
		l->shm = p;
		p = MAP_FAILED;
	}
done:
	if (p != MAP_FAILED)
		munmap(p, sizeof(struct limits_shm));
	flock(fd, LOCK_UN);
	close(fd);
	return l;
}

void
limits_close(struct limits *l)
{
	if (l == NULL)
		return;
	munmap(l->shm, sizeof(*l->shm));
	free(l);
}

static void
limits_lock(struct limits *l)
{
	int rc = pthread_mutex_lock(&l->shm->mu);

	/* the owner died holding it; the slots are plain numbers, still usable */
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(&l->shm->mu);
}

static void
limits_unlock(struct limits *l)
{
	pthread_mutex_unlock(&l->shm->mu);
}

/* Finds key's slot, or claims an empty or the stalest one. Called locked. */
static struct limit_slot *
limits_slot(struct limits *l, enum limit_table t, const char *key, int64_t now)
{
	struct limit_slot *tab = l->shm->slot[t], *victim = NULL;
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t hash;
	size_t i;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), l->shm->key);
	memcpy(&hash, h, sizeof(hash));
	hash |= 1; /* 0 marks an empty slot */
	for (i = 0; i < LIMITS_PROBE; i++) {
		struct limit_slot *s = &tab[(hash + i) & (LIMITS_SLOTS - 1)];

		if (s->hash == hash)
			return s;
		/* slots are never emptied, only reused, so a key is never past an empty one */
		if (s->hash == 0) {
			victim = s;
			break;
		}
		/* a case under lockout is the last thing to forget: evicting it would unlock it */
		if (victim == NULL || (victim->locked_ms > now) > (s->locked_ms > now) ||
		    ((victim->locked_ms > now) == (s->locked_ms > now) &&
			s->seen_ms < victim->seen_ms))
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	victim->hash = hash;
	victim->seen_ms = now;
	victim->tokens = -1; /* new: filled on first use */
	return victim;
}

void
limits_address_key(char out[LIMITS_ADDR_KEY], const char *remote)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, remote, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			snprintf(out, LIMITS_ADDR_KEY, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
			return;
		}
		memset(a + 8, 0, 8);
		if (inet_ntop(AF_INET6, a, text, sizeof(text)) != NULL) {
			snprintf(out, LIMITS_ADDR_KEY, "%s/64", text);
			return;
		}
	}
	snprintf(out, LIMITS_ADDR_KEY, "%s", remote);
}

int
limits_take(struct limits *l, enum limit_table t, const char *key, int per_min, int *retry_after)
{
	char addr[LIMITS_ADDR_KEY];
	struct limit_slot *s;
	double rate = per_min / 60000.0; /* tokens per ms */
	int64_t now = now_ms();
	int ok;

	*retry_after = 0;
	if (per_min <= 0 || l == NULL)
		return 1;
	if (t == LIMIT_SUBMIT || t == LIMIT_LOOKUP) {
		limits_address_key(addr, key);
		key = addr;
	}
	limits_lock(l);
	s = limits_slot(l, t, key, now);
	if (s->tokens < 0)
		s->tokens = per_min;
	else if (now > s->seen_ms)
		s->tokens = fmin(per_min, s->tokens + (double)(now - s->seen_ms) * rate);
	s->seen_ms = now;
	if ((ok = s->tokens >= 1.0))
		s->tokens -= 1.0;
	else
		*retry_after = (int)ceil((1.0 - s->tokens) / rate / 1000.0);
	limits_unlock(l);
	if (!ok && *retry_after < 1)
		*retry_after = 1;
	return ok;
}

int
limits_locked(struct limits *l, const char *case_no, int *retry_after)
{
	struct limit_slot *s;
	int64_t now = now_ms();
	int locked;

	*retry_after = 0;
	if (l == NULL)
		return 0;
	limits_lock(l);
	s = limits_slot(l, LIMIT_LOCKOUT, case_no, now);
	if ((locked = s->locked_ms > now))
		*retry_after = (int)((s->locked_ms - now + 999) / 1000);
	limits_unlock(l);
	return locked;
}

void
limits_wrong_code(struct limits *l, const char *case_no, int max, int lockout_min)
{
	struct limit_slot *s;
	int64_t now = now_ms(), window = (int64_t)lockout_min * 60000;

	if (l == NULL || max <= 0)
		return;
	limits_lock(l);
	s = limits_slot(l, LIMIT_LOCKOUT, case_no, now);
	s->seen_ms = now;
	if (s->fails == 0 || now - s->first_ms > window) {
		s->fails = 0;
		s->first_ms = now;
	}
	if (++s->fails >= max) {
		s->locked_ms = now + window;
		s->fails = 0;
	}
	limits_unlock(l);
}
