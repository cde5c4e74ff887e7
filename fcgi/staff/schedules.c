/*
 * A hall's appointment schedule (SPEC 4.5; sql/county/016): the items that can be booked
 * (with their guide, for what to bring, and their place), the weekly slots with a capacity
 * each, and the days the hall takes no appointments. Supervisors and admins edit them as
 * three texts, one line each, and saving publishes: the rows of appointment_items, _slots
 * and _closed are replaced and schedule_publish makes the document the downlink carries,
 * with a greater version, in one transaction with its audit row. A line that is not right
 * is refused with its number; nothing is stored then.
 *
 *   items    id | name | guide id (or -) | place     sfz-sl | 居民身份证申领 | sfz | 一楼 2 号窗口
 *   slots    id | weekday 1-7 | HH:MM-HH:MM | capacity  sfz-sl | 1 | 09:00-09:30 | 5
 *   closed   YYYY-MM-DD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

#define SCHED_TEXT_MAX (48 * 1024)	/* bytes of each text */
#define SCHED_ITEMS_MAX 100
#define SCHED_SLOTS_MAX 3000
#define SCHED_CLOSED_MAX 400
#define SCHED_FIELDS 4

/* A line cut at '|' into at most SCHED_FIELDS trimmed fields (in place); the count. */
static int
split_line(char *line, char *f[SCHED_FIELDS])
{
	int n = 0;
	char *p = line, *bar;

	for (;;) {
		char *end;

		if (n == SCHED_FIELDS)
			return SCHED_FIELDS + 1;	/* too many */
		bar = strchr(p, '|');
		if (bar != NULL)
			*bar = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		f[n++] = p;
		if (bar == NULL)
			return n;
		p = bar + 1;
	}
}

/* The next line of *text (cut in place), NULL at the end. */
static char *
next_line(char **text)
{
	char *line = *text, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*text = nl + 1;
	} else
		*text = line + strlen(line);
	return line;
}

static int
blank(const char *s)
{
	return s[strspn(s, " \t\r")] == '\0';
}

/* "HH:MM" */
static int
hhmm_ok(const char *s)
{
	return strlen(s) == 5 && s[2] == ':' && strspn(s, "0123456789:") == 5 &&
	    ((s[0] == '2' && s[1] <= '3') || s[0] <= '1') && s[3] <= '5';
}

/* An item id: 1 to 32 of a-z 0-9 - _ (it travels in URLs and the hall's forms). */
static int
item_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static const char *
text_ok(const char *s, size_t max_chars)
{
	struct field_spec spec = {"", 1, check_text, max_chars, NULL, ""};

	return *s == '\0' ? "不能为空" : check_text(s, &spec);
}

static int sched_has_item(const char *items, const char *id);

struct sched_err {
	char msg[256];
};

static int
refuse(struct sched_err *e, const char *what, int line, const char *why)
{
	snprintf(e->msg, sizeof(e->msg), "%s第 %d 行：%s", what, line, why);
	return -1;
}

/* Each item line: checked, then inserted when store is set. 0 or -1 (e, or db failed). */
static int
items_do(const char *hall, const char *text, int store, struct sched_err *e)
{
	char *copy = strdup(text), *rest = copy, *line, *f[SCHED_FIELDS + 1];
	int ln = 0, n = 0, rc = 0;
	const char *bad;

	if (copy == NULL)
		return refuse(e, "事项", 0, "内存不足");
	while (rc == 0 && (line = next_line(&rest)) != NULL) {
		ln++;
		if (blank(line))
			continue;
		if (split_line(line, f) != 4)
			rc = refuse(e, "事项", ln, "须为“编号 | 名称 | 办事指南编号或 - | 地点”");
		else if (!item_id_ok(f[0]))
			rc = refuse(e, "事项", ln, "编号为 1 至 32 个小写字母、数字、- 或 _");
		else if ((bad = text_ok(f[1], 200)) != NULL || (bad = text_ok(f[3], 200)) != NULL)
			rc = refuse(e, "事项", ln, bad);
		else if (strcmp(f[2], "-") != 0 && (strlen(f[2]) > 64 || text_ok(f[2], 64) != NULL))
			rc = refuse(e, "事项", ln, "办事指南编号不对（没有指南写 -）");
		else if (++n > SCHED_ITEMS_MAX)
			rc = refuse(e, "事项", ln, "事项过多");
		else if (store) {
			struct dbparam p[6] = {DBS(hall), DBS(f[0]), DBS(f[1]),
			    DBS(strcmp(f[2], "-") == 0 ? NULL : f[2]), DBS(f[3]), DBI(n)};
			long long w = db_exec("INSERT INTO appointment_items (hall_code, item_id, name, "
					      "guide_id, place, position) VALUES (?, ?, ?, ?, ?, ?)",
			    p, 6, NULL);

			if (w == -1)
				rc = refuse(e, "事项", ln, "编号重复，或数据库出错");
		}
	}
	free(copy);
	return rc;
}

static int
slots_do(const char *hall, const char *text, const char *items, int store, struct sched_err *e)
{
	char *copy = strdup(text), *rest = copy, *line, *f[SCHED_FIELDS + 1], *dash, *end;
	int ln = 0, n = 0, rc = 0;
	long weekday, cap;

	if (copy == NULL)
		return refuse(e, "时段", 0, "内存不足");
	while (rc == 0 && (line = next_line(&rest)) != NULL) {
		char needle[40];

		ln++;
		if (blank(line))
			continue;
		if (split_line(line, f) != 4 || (dash = strchr(f[2], '-')) == NULL) {
			rc = refuse(e, "时段", ln, "须为“事项编号 | 星期 1-7 | 09:00-09:30 | 名额”");
			continue;
		}
		*dash = '\0';
		weekday = strtol(f[1], &end, 10);
		if (*f[1] == '\0' || *end != '\0' || weekday < 1 || weekday > 7) {
			rc = refuse(e, "时段", ln, "星期为 1（周一）至 7（周日）");
			continue;
		}
		cap = strtol(f[3], &end, 10);
		if (*f[3] == '\0' || *end != '\0' || cap < 1 || cap > 10000) {
			rc = refuse(e, "时段", ln, "名额为 1 至 10000");
			continue;
		}
		if (!hhmm_ok(f[2]) || !hhmm_ok(dash + 1) || strcmp(f[2], dash + 1) >= 0) {
			rc = refuse(e, "时段", ln, "时间须为 HH:MM-HH:MM，开始早于结束");
			continue;
		}
		/* the item must be one of the items' text: "\n<id> |" or at its start */
		snprintf(needle, sizeof(needle), "%s", f[0]);
		if (!item_id_ok(needle) || !sched_has_item(items, needle)) {
			rc = refuse(e, "时段", ln, "事项编号不在上面的事项中");
			continue;
		}
		if (++n > SCHED_SLOTS_MAX) {
			rc = refuse(e, "时段", ln, "时段过多");
			continue;
		}
		if (store) {
			struct dbparam p[6] = {DBS(hall), DBS(f[0]), DBI(weekday), DBS(f[2]),
			    DBS(dash + 1), DBI(cap)};

			if (db_exec("INSERT INTO appointment_slots (hall_code, item_id, weekday, start, "
				    "`end`, capacity) VALUES (?, ?, ?, ?, ?, ?)", p, 6, NULL) == -1)
				rc = refuse(e, "时段", ln, "同一事项同一星期的开始时间重复，或数据库出错");
		}
	}
	free(copy);
	return rc;
}

static int
closed_do(const char *hall, const char *text, int store, struct sched_err *e)
{
	char *copy = strdup(text), *rest = copy, *line;
	int ln = 0, n = 0, rc = 0;

	if (copy == NULL)
		return refuse(e, "不接受预约的日期", 0, "内存不足");
	while (rc == 0 && (line = next_line(&rest)) != NULL) {
		char *f[SCHED_FIELDS + 1];

		ln++;
		if (blank(line))
			continue;
		if (split_line(line, f) != 1 || !appt_date_ok(f[0]))
			rc = refuse(e, "不接受预约的日期", ln, "须为 YYYY-MM-DD，一行一个");
		else if (++n > SCHED_CLOSED_MAX)
			rc = refuse(e, "不接受预约的日期", ln, "日期过多");
		else if (store) {
			struct dbparam p[2] = {DBS(hall), DBS(f[0])};

			/* IGNORE: the same day twice is one day */
			if (db_exec("INSERT IGNORE INTO appointment_closed (hall_code, day) "
				    "VALUES (?, ?)", p, 2, NULL) == -1)
				rc = refuse(e, "不接受预约的日期", ln, "不是一个日期，或数据库出错");
		}
	}
	free(copy);
	return rc;
}

static int
sched_has_item(const char *items, const char *id)
{
	char *copy = strdup(items), *rest = copy, *line, *f[SCHED_FIELDS + 1];
	int found = 0;

	while (copy != NULL && !found && (line = next_line(&rest)) != NULL)
		if (!blank(line) && split_line(line, f) >= 1 && strcmp(f[0], id) == 0)
			found = 1;
	free(copy);
	return found;
}

/* The hall of the URL when it is one of the account's county; its name in name. */
static int
sched_hall(struct staff_req *s, char name[128])
{
	struct dbparam p[2];
	struct dbrows r;
	int found;

	if (s->r.arg == NULL || !appt_hall_ok(s->r.arg))
		return 0;
	p[0] = DBS(s->r.arg);
	p[1] = DBS(s->u.county);
	if (db_select("SELECT name FROM halls WHERE hall_code = ? AND county_code = ?", p, 2, &r,
		1) == -1)
		return -1;
	found = r.nrows == 1;
	if (found)
		snprintf(name, 128, "%s", db_str(&r, 0, 0));
	dbrows_free(&r);
	return found;
}

/* The three texts as stored, for the form. */
static int
sched_texts(const char *hall, struct buf *items, struct buf *slots, struct buf *closed)
{
	struct dbparam p[1] = {DBS(hall)};
	struct dbrows r;
	size_t i;

	if (db_select("SELECT item_id, name, COALESCE(guide_id, '-'), place FROM appointment_items "
		      "WHERE hall_code = ? ORDER BY position, item_id", p, 1, &r, 1000) == -1)
		return -1;
	for (i = 0; i < r.nrows; i++)
		buf_printf(items, "%s | %s | %s | %s\n", db_str(&r, i, 0), db_str(&r, i, 1),
		    db_str(&r, i, 2), db_str(&r, i, 3));
	dbrows_free(&r);
	if (db_select("SELECT item_id, weekday, start, `end`, capacity FROM appointment_slots "
		      "WHERE hall_code = ? ORDER BY item_id, weekday, start", p, 1, &r,
		SCHED_SLOTS_MAX) == -1)
		return -1;
	for (i = 0; i < r.nrows; i++)
		buf_printf(slots, "%s | %s | %s-%s | %s\n", db_str(&r, i, 0), db_str(&r, i, 1),
		    db_str(&r, i, 2), db_str(&r, i, 3), db_str(&r, i, 4));
	dbrows_free(&r);
	if (db_select("SELECT DATE_FORMAT(day, '%Y-%m-%d') FROM appointment_closed "
		      "WHERE hall_code = ? ORDER BY day", p, 1, &r, SCHED_CLOSED_MAX) == -1)
		return -1;
	for (i = 0; i < r.nrows; i++)
		buf_printf(closed, "%s\n", db_str(&r, i, 0));
	dbrows_free(&r);
	return 0;
}

static void
textarea(struct buf *b, const char *label, const char *name, const char *value, int rows,
    int ro)
{
	buf_printf(b, "<label>%s<textarea name=\"%s\" rows=\"%d\" maxlength=\"%d\"%s>", label,
	    name, rows, SCHED_TEXT_MAX, ro ? " readonly" : "");
	SH(b, value);
	buf_adds(b, "</textarea></label>");
}

static void
sched_render(struct staff_req *s, int status, const char *hall, const char *name,
    const char *items, const char *slots, const char *closed, const char *done, const char *err)
{
	struct dbparam p[1] = {DBS(hall)};
	struct dbrows v;
	struct buf b;
	int may = auth_role_at_least(&s->u, "supervisor");

	if (db_select("SELECT version, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i'), updated_by "
		      "FROM appointment_schedules WHERE hall_code = ?", p, 1, &v, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "预约事项与时段");
	buf_adds(&b, "<h1>预约事项与时段：");
	SH(&b, name);
	buf_adds(&b, "</h1>");
	if (v.nrows == 1) {
		buf_adds(&b, "<p class=\"muted\">已发布版本 <b id=\"schedule-version\">");
		SH(&b, db_str(&v, 0, 0));
		buf_adds(&b, "</b>（");
		SH(&b, db_str(&v, 0, 1));
		buf_adds(&b, "，");
		SH(&b, db_str(&v, 0, 2));
		buf_adds(&b, "），经同步送达大厅。</p>");
	} else
		buf_adds(&b, "<p class=\"muted\">尚未发布：大厅暂不接受预约。</p>");
	dbrows_free(&v);
	spage_notices(&b, done, err);
	buf_adds(&b, "<p class=\"muted\">预约只在工作日（按节假日安排，调休上班日取当天星期的时段，"
		     "没有则取星期一的）。保存即发布；改动后与已有预约冲突的，列在"
		     "<a href=\"/appointment-conflicts\">冲突列表</a>，不会自动取消。</p>");
	buf_adds(&b, "<form method=\"post\" action=\"/schedules/");
	SH(&b, hall);
	buf_adds(&b, "\">");
	spage_csrf_field(&b, s);
	textarea(&b, "事项（每行：编号 | 名称 | 办事指南编号或 - | 办理地点）", "items", items, 6,
	    !may);
	textarea(&b, "时段（每行：事项编号 | 星期 1-7 | 开始-结束 | 名额）", "slots", slots, 12,
	    !may);
	textarea(&b, "不接受预约的日期（每行一个 YYYY-MM-DD，节假日不必写）", "closed", closed, 4,
	    !may);
	if (may)
		buf_adds(&b, "<button type=\"submit\">保存并发布</button>");
	else
		buf_adds(&b, "<p class=\"muted\">预约时段由督查员或管理员发布。</p>");
	buf_adds(&b, "</form>");
	spage_finish(s, status, &b, NULL);
}

/* GET /schedules/{hall} */
void
schedule_page(struct staff_req *s)
{
	struct buf items, slots, closed;
	char name[128], q[8];
	int found;

	if ((found = sched_hall(s, name)) == -1) {
		spage_unavailable(s);
		return;
	}
	if (!found) {
		spage_message(s, 404, "未找到", "没有这个大厅（或不属于本县）。");
		return;
	}
	snprintf(q, sizeof(q), "%s", strstr(s->r.query, "done=1") != NULL ? "1" : "");
	buf_init(&items, SCHED_TEXT_MAX * 2);
	buf_init(&slots, SCHED_TEXT_MAX * 4);
	buf_init(&closed, SCHED_TEXT_MAX);
	if (sched_texts(s->r.arg, &items, &slots, &closed) == -1)
		spage_unavailable(s);
	else
		sched_render(s, 200, s->r.arg, name, items.len ? items.data : "",
		    slots.len ? slots.data : "", closed.len ? closed.data : "",
		    q[0] != '\0' ? "已保存并发布，大厅在下次同步时收到。" : NULL, NULL);
	buf_free(&items);
	buf_free(&slots);
	buf_free(&closed);
}

/* POST /schedules/{hall}: replaces the hall's schedule and publishes it. */
void
schedule_save(struct staff_req *s)
{
	const char *items = spage_in(s, "items"), *slots = spage_in(s, "slots");
	const char *closed = spage_in(s, "closed");
	struct sched_err e = {""};
	struct dbparam p[1];
	char name[128], back[64];
	int found;
	unsigned tries = 0;

	if ((found = sched_hall(s, name)) == -1) {
		spage_unavailable(s);
		return;
	}
	if (!found) {
		spage_message(s, 404, "未找到", "没有这个大厅（或不属于本县）。");
		return;
	}
	if (strlen(items) > SCHED_TEXT_MAX || strlen(slots) > SCHED_TEXT_MAX ||
	    strlen(closed) > SCHED_TEXT_MAX) {
		sched_render(s, 422, s->r.arg, name, items, slots, closed, NULL, "内容过长。");
		return;
	}
	/* checked whole first: a refusal names its line and stores nothing */
	if (items_do(s->r.arg, items, 0, &e) == -1 || slots_do(s->r.arg, slots, items, 0, &e) == -1 ||
	    closed_do(s->r.arg, closed, 0, &e) == -1) {
		sched_render(s, 422, s->r.arg, name, items, slots, closed, NULL, e.msg);
		return;
	}
again:
	memset(&e, 0, sizeof(e));	/* the form was checked above: a run again starts clean */
	p[0] = DBS(s->r.arg);
	if (db_begin() == -1 ||
	    db_exec("DELETE FROM appointment_slots WHERE hall_code = ?", p, 1, NULL) == -1 ||
	    db_exec("DELETE FROM appointment_items WHERE hall_code = ?", p, 1, NULL) == -1 ||
	    db_exec("DELETE FROM appointment_closed WHERE hall_code = ?", p, 1, NULL) == -1) {
		db_rollback();
		if (db_conflict_again(&tries))
			goto again;
		spage_unavailable(s);
		return;
	}
	if (items_do(s->r.arg, items, 1, &e) == -1 || slots_do(s->r.arg, slots, items, 1, &e) == -1 ||
	    closed_do(s->r.arg, closed, 1, &e) == -1) {
		db_rollback();
		if (db_conflict_again(&tries))
			goto again;
		sched_render(s, 422, s->r.arg, name, items, slots, closed, NULL, e.msg);
		return;
	}
	if (db_exec("CALL schedule_publish(?)", p, 1, NULL) == -1 ||
	    audit_record(s, "schedule", NULL, s->r.arg) == -1 || db_commit() == -1) {
		db_rollback();
		if (db_conflict_again(&tries))
			goto again;
		spage_unavailable(s);
		return;
	}
	log_info("appointment schedule of %s published by %s", s->r.arg, s->u.username);
	snprintf(back, sizeof(back), "/schedules/%s?done=1", s->r.arg);
	spage_redirect(s, back);
}
