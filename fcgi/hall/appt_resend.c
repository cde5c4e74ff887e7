/*
 * hall-write: a new query code for an appointment whose receipt was lost (SPEC 5.6: "and
 * the same for appointments"), from the form at /appointments/resend and from POST
 * /api/v1/appointments/{appointment_no}/resend-code.
 *
 * The rules are the case's (code_resend.c runs both): the store (lib/store/code.c, with its
 * appointment flag) replaces the code and its MAC at once and writes a `code` record for
 * the county alone, which sends the code by SMS to the appointment's phone; one code in 10
 * minutes and 3 in 24 hours per number; the same 404 for an unknown number as a lookup
 * gives; 409 for a landline; 503 when the hall has no county to send it. The answer never
 * holds the code, only the last four digits of the phone on file.
 */
#include "site.h"

static const struct resend_kind appt_kind = {
	.appointment = 1,
	.field = {"appointment_no", 1, check_text, 40, NULL, "预约号"},
	.log_noun = "appointment",
	.form_page = apage_resend,
	.done_page = apage_resent,
	.bad_number = "预约号有误（校验位不符），请对照回执核对。",
	.not_found = "没有找到这个预约，请核对预约号。",
	.locked = "这个预约的查询码错误次数过多，已暂停查询和补发，请稍后再试。",
	.no_mobile = "这个预约登记的联系电话不是手机号码，无法用短信补发查询码。"
		     "请携带有效身份证件到大厅窗口，%s。",
	.closed = "这个预约已结束超过 %d 天，不再补发查询码。%s。",
	.day_limit = "这个预约 24 小时内已补发 3 次查询码，请稍后再试，%s。",
};

void
appt_resend(struct req *r)
{
	code_resend(r, &appt_kind);
}
