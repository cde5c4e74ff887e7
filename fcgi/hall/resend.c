/*
 * hall-write: a new query code for a case whose receipt was lost (SPEC 5.6), from the form
 * at /progress/resend and from POST /api/v1/cases/{case_no}/resend-code. The flow and its
 * rules are code_resend.c's; here is what a case's differs in: its field, pages and words.
 */
#include "site.h"

static const struct resend_kind case_kind = {
	.appointment = 0,
	.field = {"case_no", 1, check_text, 40, NULL, "办件编号"},
	.log_noun = "case",
	.form_page = page_resend,
	.done_page = page_resent,
	.bad_number = "办件编号有误（校验位不符），请核对后重试。",
	.not_found = "没有找到这个办件，请核对办件编号。",
	.locked = "这个办件的查询码错误次数过多，已暂停查询和补发，请稍后再试。",
	.no_mobile = "这个办件登记的联系电话不是手机号码，无法用短信补发查询码。"
		     "请携带有效身份证件到大厅窗口办理，%s。",
	.closed = "这个办件已办结超过 %d 天，不再补发查询码。"
		  "如需了解办理结果，请携带有效身份证件到大厅窗口，%s。",
	.day_limit = "这个办件 24 小时内已补发 3 次查询码，请稍后再试，%s。",
};

void
h_resend(struct req *r)
{
	code_resend(r, &case_kind);
}
