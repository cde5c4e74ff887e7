/*
 * The hall's URL space, one table for both programs. nginx sends POSTs (but the lookup
 * form's) to hall-write and everything else to hall-read; each program gives a handler for
 * its own routes, and the table still lets it answer 405 with the right Allow for the rest.
 */
#include <string.h>

#include "site.h"

static const struct route routes[R__MAX] = {
	[R_HOME] = {"GET", "/"},
	[R_CONSULT] = {"GET POST", "/consult"},
	[R_COMPLAINT] = {"GET POST", "/complaint"},
	[R_PROGRESS] = {"GET POST", "/progress"},
	[R_RATE_FORM] = {"POST", "/progress/rating"},
	[R_GUIDES] = {"GET", "/guides"},
	[R_GUIDE] = {"GET", "/guides/*"},
	[R_API_HEALTH] = {"GET", "/api/v1/health"},
	[R_API_HALL] = {"GET", "/api/v1/hall"},
	[R_API_CONSULT] = {"POST", "/api/v1/consultations"},
	[R_API_COMPLAIN] = {"POST", "/api/v1/complaints"},
	[R_API_CASE] = {"GET", "/api/v1/cases/*"},
	[R_API_RATE] = {"POST", "/api/v1/cases/*/rating"},
	[R_API_GUIDES] = {"GET", "/api/v1/guides"},
	[R_API_GUIDE] = {"GET", "/api/v1/guides/*"},
	/* the window (SPEC 4.4): every method goes to hall-write, which owns its sessions */
	[R_WINDOW] = {"GET", "/window"},
	[R_WINDOW_LOGIN] = {"GET POST", "/window/login"},
	[R_WINDOW_LOGOUT] = {"POST", "/window/logout"},
	[R_WINDOW_NEW] = {"GET POST", "/window/new"},
	[R_WINDOW_RECEIPT] = {"GET", "/window/receipt/*"},
	[R_RESEND_FORM] = {"GET POST", "/progress/resend"},
	[R_API_RESEND] = {"POST", "/api/v1/cases/*/resend-code"},
	/* appointments (SPEC 4.5): the lookup form only reads (hall-read, as /progress) */
	[R_APPTS] = {"GET POST", "/appointments"},
	[R_APPT_LOOKUP] = {"GET POST", "/appointments/lookup"},
	[R_APPT_CANCEL_FORM] = {"POST", "/appointments/cancel"},
	/* before the one below: the first row that matches is the route */
	[R_API_APPT_SLOTS] = {"GET", "/api/v1/appointments/slots"},
	[R_API_APPTS] = {"POST", "/api/v1/appointments"},
	[R_API_APPT] = {"GET", "/api/v1/appointments/*"},
	[R_API_APPT_CANCEL] = {"POST", "/api/v1/appointments/*/cancel"},
	[R_APPT_RESEND_FORM] = {"GET POST", "/appointments/resend"},
	[R_API_APPT_RESEND] = {"POST", "/api/v1/appointments/*/resend-code"},
	/* appointments at the window (hall-write, as the rest of /window) */
	[R_WINDOW_APPTS] = {"GET", "/window/appointments"},
	[R_WINDOW_APPT_NEW] = {"GET POST", "/window/appointments/new"},
	[R_WINDOW_APPT_MARK] = {"POST", "/window/appointments/mark"},
	[R_WINDOW_APPT_RECEIPT] = {"GET", "/window/appointments/receipt/*"},
};

void
site_dispatch(struct req *r, const handler_fn handlers[R__MAX])
{
	int i = route_find(routes, R__MAX, sizeof(routes[0]), r);

	if (i < 0)
		route_refuse(r, i);
	else if (handlers[i] == NULL)
		/* ours by the table, but this program has no handler: nginx misrouted it */
		req_error(r, 500, "misrouted", "服务配置有误，请联系大厅。", NULL);
	else
		handlers[i](r);
}
