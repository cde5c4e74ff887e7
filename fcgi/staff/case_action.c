/*
 * The actions on a case. Each action is one row in case_events (status, note, actor = the
 * signed-in user): the county's triggers move the case's status and queue the event for
 * the hall's downlink, so the citizen sees it after the next sync.
 *
 * An action is checked against the case's status and against the last event the page
 * showed (its seq, in a hidden field), in one transaction that locks the case row: two
 * people answering the same case at once, or one pressing the button twice, make one
 * answer and a clear message, never two.
 *
 * Transfer (转办, 省内通办): the event names a hall or a county in case_events.transfer_to;
 * the triggers of sql/county/006 check it, write the note the citizen reads ("转办至：..."),
 * record the move in case_transfers and make the target the case's handler. Only the
 * handling county acts on a case; a county that handled it before may still open it, read
 * only. The citizen's hall (cases.hall_code) keeps receiving every event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

static const char *const from_open[] = {"received", "delivered", "accepted", "transferred",
    NULL};
static const char *const from_new[] = {"received", "delivered", "transferred", NULL};
static const char *const from_unfinished[] = {"received", "delivered", "accepted",
    "transferred", "answered", NULL};

const struct case_act case_acts[] = {
	{"accept", "accepted", "受理", "受理", 0, "受理说明（可不填）", from_new,
	    "已受理。"},
	{"answer", "answered", "答复", "提交答复", 1, "答复内容", from_unfinished,
	    "答复已保存，下次同步后送达大厅，群众可在进度查询中看到。"},
	{"transfer", "transferred", "转办（省内通办）", "转办", 0, "转办说明（可不填）",
	    from_open, "已转办，办件已移交对方办理。"},
	{"reject", "rejected", "不予受理", "不予受理", 1, "不予受理的理由", from_open,
	    "已作不予受理处理，理由将送达大厅。"},
	{"resolve", "resolved", "办结", "办结", 0, "办结说明（可不填）", from_unfinished,
	    "已办结。"},
	{NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

const struct case_act *
case_act_find(const char *name)
{
	const struct case_act *a;

	for (a = case_acts; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

int
case_act_may(const struct case_act *a, const char *status)
{
	const char *const *from;

	for (from = a->from; *from != NULL; from++)
		if (strcmp(status, *from) == 0)
			return 1;
	return 0;
}

/* A transfer target as posted: a hall's 12 digits or a county's 6. */
static int
target_code_ok(const char *t)
{
	size_t n = strlen(t);

	return (n == 6 || n == 12) && strspn(t, "0123456789") == n;
}

static const struct field_spec action_fields[] = {
	{"action", 1, check_text, 16, NULL, "操作"},
	{"note", 0, check_multiline, STAFF_NOTE_MAX, NULL, "说明"},
	{"target", 0, check_text, 100, NULL, "转往"},
	{"seq", 0, check_text, 20, NULL, "版本"},
};

/*
 * Checks a transfer's target inside the action's transaction, against the locked case's
 * handler (county hc, hall hh): NULL when it may go there, else what to tell the staff.
 * The triggers check it again; these words are for people.
 */
static const char *
transfer_refusal(const char *target, const char *hc, const char *hh, int *failed)
{
	struct dbparam p[1] = {DBS(target)};
	struct dbrows r;
	size_t n;

	*failed = 0;
	if (db_select(strlen(target) == 12 ? "SELECT 1 FROM halls WHERE hall_code = ?" :
					     "SELECT 1 FROM halls WHERE county_code = ? LIMIT 1",
		p, 1, &r, 1) == -1) {
		*failed = 1;
		return NULL;
	}
	n = r.nrows;
	dbrows_free(&r);
	if (n == 0)
		return "没有这个大厅或县（市、区），请从列表中选择转往的地方。";
	if (strcmp(target, hc) == 0 || strcmp(target, hh) == 0)
		return "办件现在就由所选的地方办理，请选择其他大厅或县（市、区）。";
	return NULL;
}

void
case_action(struct staff_req *s)
{
	/* the columns of the locked case */
	enum { L_STATUS, L_LAST_SEQ, L_MINE, L_HANDLER_COUNTY, L_HANDLER_HALL, L__N };
	static const char *const extra[] = {"csrf", NULL};
	const char *no = case_url_no(s), *field, *msg, *note, *target, *seq;
	const struct case_act *a;
	struct dbparam p[5];
	struct dbrows c;
	char redirect[96];
	int is_transfer, failed = 0;
	unsigned tries = 0;

	if (no == NULL) {
		case_not_found(s);
		return;
	}
	if ((a = case_act_find(spage_in(s, "action"))) == NULL) {
		case_render(s, 422, no, NULL, NULL, "不认识的操作。");
		return;
	}
	if (fields_check(&s->r.in, action_fields, 4, extra, &field, &msg) == -1) {
		case_render(s, 422, no, NULL, a->name, msg);
		return;
	}
	note = field_value(&s->r.in, "note");
	target = field_value(&s->r.in, "target");
	seq = field_value(&s->r.in, "seq");
	is_transfer = strcmp(a->name, "transfer") == 0;
	if (a->note && note == NULL) {
		case_render(s, 422, no, NULL, a->name,
		    strcmp(a->name, "reject") == 0 ? "请填写不予受理的理由。" : "请填写答复内容。");
		return;
	}
	if (is_transfer && target == NULL) {
		case_render(s, 422, no, NULL, a->name, "请选择转往的大厅或县（市、区）。");
		return;
	}
	if (is_transfer && !target_code_ok(target)) {
		case_render(s, 422, no, NULL, a->name,
		    "没有这个大厅或县（市、区），请从列表中选择转往的地方。");
		return;
	}
again:
	failed = 0;
	p[0] = DBS(s->u.county);
	p[1] = DBS(no);
	p[2] = DBS(s->u.county);
	p[3] = DBS(s->u.county);
	if (db_begin() == -1 ||
	    db_select("SELECT c.status, (SELECT COALESCE(MAX(e.seq), 0) FROM case_events e "
		      "WHERE e.case_no = c.case_no), c.handler_county = ?, c.handler_county, "
		      "COALESCE(c.handler_hall, '') FROM cases c "
		      "WHERE c.case_no = ? AND " SEEN_SQL " FOR UPDATE",
		p, 4, &c, 1) == -1) {
		db_rollback();
		if (db_conflict_again(&tries))
			goto again;
		spage_unavailable(s);
		return;
	}
	if (c.nrows == 0) {
		db_rollback();
		case_not_found(s);
		return;
	}
	if (db_int(&c, 0, L_MINE) != 1) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 403, no, NULL, NULL,
		    "此办件已转办至其他县（市、区）办理，本县不能再办理。");
		return;
	}
	if (seq != NULL && strcmp(seq, db_str(&c, 0, L_LAST_SEQ)) != 0) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 409, no, NULL, NULL,
		    "这个办件刚有新的办理记录（可能是他人或重复提交），请先查看下面的办理过程再操作。");
		return;
	}
	if (!case_act_may(a, db_str(&c, 0, L_STATUS))) {
		char m[256];

		snprintf(m, sizeof(m), "办件当前状态为“%s”，不能%s。",
		    status_text(db_str(&c, 0, L_STATUS)), a->title);
		db_rollback();
		dbrows_free(&c);
		case_render(s, 409, no, NULL, NULL, m);
		return;
	}
	if (is_transfer &&
	    (msg = transfer_refusal(target, db_str(&c, 0, L_HANDLER_COUNTY),
	    db_str(&c, 0, L_HANDLER_HALL), &failed)) != NULL) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 422, no, NULL, a->name, msg);
		return;
	}
	dbrows_free(&c);
	if (is_transfer && failed) {
		db_rollback();
		spage_unavailable(s);
		return;
	}
	/* a transfer's note gets its "转办至：..." from the trigger, from the halls table */
	p[0] = DBS(no);
	p[1] = DBS(a->status);
	p[2] = DBS(note);
	p[3] = DBS(s->u.username);
	p[4] = DBS(is_transfer ? target : NULL);
	if (db_exec("INSERT INTO case_events (case_no, status, note, actor, transfer_to) "
		    "VALUES (?, ?, ?, ?, ?)",
		p, 5, NULL) != 1 ||
	    audit_record(s, a->name, no, is_transfer ? target : NULL) == -1 ||
	    db_commit() == -1) {
		db_rollback();
		/* lost a conflict: nothing of it stays, and the checks above run again */
		if (db_conflict_again(&tries))
			goto again;
		spage_unavailable(s);
		return;
	}
	if (is_transfer)
		log_info("case %s transferred to %s by %s", no, target, s->u.username);
	else
		log_info("case %s %s by %s", no, a->status, s->u.username);
	snprintf(redirect, sizeof(redirect), "/cases/%s?done=%s", no, a->name);
	spage_redirect(s, redirect);
}
