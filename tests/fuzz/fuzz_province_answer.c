/*
 * libFuzzer driver: hall-agent's reading of the province platform's answers
 * (agent/hall-agent/province_answer.c), for a batch of three records.
 *
 * The first byte chooses the answer (to POST /v1/records, or to /v1/reconcile) and the
 * rest is its body. Promises: an answer taken as success names every record of the batch,
 * each accepted, duplicate or rejected with a reason; a reconcile that says it holds the
 * whole batch has marked each record duplicate or conflict (with a reason); anything else
 * leaves an error message; a refusal's reason has no control byte. Any broken promise aborts; ASan sees leaks and overreads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
batch(struct outbox_batch *b)
{
	static const char *const ids[] = {"430121001000-C1", "430121001000-C2",
		"430121001000-R3"};
	size_t i;

	memset(b, 0, sizeof(*b));
	b->n = 3;
	if ((b->v = calloc(b->n, sizeof(*b->v))) == NULL)
		abort();
	for (i = 0; i < b->n; i++) {
		snprintf(b->v[i].id, sizeof(b->v[i].id), "%s", ids[i]);
		b->v[i].payload = strdup(ids[i]);	/* the hash reconcile compares is of this */
		b->v[i].len = strlen(ids[i]);
		b->v[i].seq = (int64_t)i + 1;
	}
	b->last_seq = 3;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox_batch b;
	char err[256];
	size_t i;
	int rc;

	if (size < 1)
		return 0;
	batch(&b);
	err[0] = '\0';
	if ((data[0] & 1) == 0) {
		rc = province_answer_results(&b, data[0] & 2 ? "text/html" : "application/json",
		    (const char *)data + 1, size - 1, err, sizeof(err));
		if (rc == 0) {
			if (data[0] & 2)
				abort();	/* a page that is not JSON is never an answer */
			for (i = 0; i < b.n; i++)
				if (b.v[i].result == REC_PENDING || b.v[i].result == REC_CONFLICT ||
				    (b.v[i].result == REC_REJECTED) != (b.v[i].reason != NULL))
					abort();
		} else if (rc != -1 || err[0] == '\0')
			abort();
	} else {
		rc = province_answer_held(&b, (const char *)data + 1, size - 1, err, sizeof(err));
		if (rc == 1) {
			for (i = 0; i < b.n; i++)
				if (b.v[i].result != REC_DUPLICATE && (b.v[i].result != REC_CONFLICT ||
				    b.v[i].reason == NULL))
					abort();
		} else if (rc == -1 && err[0] == '\0')
			abort();
		else if (rc != -1 && rc != 0 && rc != 1)
			abort();
	}
	/* a refusal's reason: one clean line, whatever the body */
	province_answer_error(data[0] & 2 ? "text/html" : "application/json",
	    (const char *)data + 1, size - 1, err, sizeof(err));
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			abort();
	outbox_batch_free(&b);
	return 0;
}
