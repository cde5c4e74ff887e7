/*
 * The forms of the hall's pages (the citizens' and the window's): each field with its label,
 * its hint and, beside it, the error that names it; the input the person typed kept.
 */
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

const char *
form_value(const struct form_state *st, const char *name)
{
	const struct kv *kv;

	if (st->in == NULL || (kv = kv_get(st->in, name)) == NULL)
		return "";
	return kv->value;
}

/* Whether the form's error has been shown beside its field (pages are built one at a time). */
static _Thread_local int error_shown;

void
form_open(struct buf *b, const struct form_state *st, const char *action)
{
	const char *key;

	buf_adds(b, "<form method=\"post\" action=\"");
	H(b, action);
	buf_adds(b, "\" accept-charset=\"utf-8\"><input type=\"hidden\" name=\"csrf\" value=\"");
	H(b, st->csrf_token);
	buf_adds(b, "\">");
	key = st->form_key != NULL ? st->form_key : form_value(st, "key");
	if (*key != '\0') {
		buf_adds(b, "<input type=\"hidden\" name=\"key\" value=\"");
		H(b, key);
		buf_adds(b, "\">");
	}
	error_shown = 0;
}

void
form_label(struct buf *b, const struct form_state *st, const char *name, const char *label,
    int required, const char *hint)
{
	buf_adds(b, "<label for=\"f-");
	H(b, name);
	buf_adds(b, "\">");
	H(b, label);
	if (required)
		buf_adds(b, "<span class=\"req\">*</span>");
	buf_adds(b, "</label>");
	if (hint != NULL) {
		buf_adds(b, "<small>");
		H(b, hint);
		buf_adds(b, "</small>");
	}
	if (st->err_field != NULL && strcmp(st->err_field, name) == 0) {
		error_shown = 1;
		buf_adds(b, "<p class=\"error\" id=\"e-");
		H(b, name);
		buf_adds(b, "\">");
		H(b, st->err_message);
		buf_adds(b, "</p>");
	}
}

/* The submit button; an error no field of the page has shown stands right above it. */
void
form_close(struct buf *b, const struct form_state *st, const char *button)
{
	if (st->err_message != NULL && !error_shown) {
		buf_adds(b, "<p class=\"error\" role=\"alert\">");
		H(b, st->err_message);
		buf_adds(b, "</p>");
	}
	buf_adds(b, "<button type=\"submit\">");
	H(b, button);
	buf_adds(b, "</button></form>");
}

void
form_input(struct buf *b, const struct form_state *st, const char *name, const char *label,
    const char *type, int required, int maxlen, const char *hint)
{
	form_label(b, st, name, label, required, hint);
	buf_printf(b, "<input type=\"%s\" id=\"f-", type);
	H(b, name);
	buf_adds(b, "\" name=\"");
	H(b, name);
	buf_printf(b, "\" maxlength=\"%d\"%s value=\"", maxlen, required ? " required" : "");
	H(b, form_value(st, name));
	buf_adds(b, "\">");
}

void
form_textarea(struct buf *b, const struct form_state *st, const char *name, const char *label,
    int maxlen)
{
	form_label(b, st, name, label, 1, NULL);
	buf_adds(b, "<textarea id=\"f-");
	H(b, name);
	buf_adds(b, "\" name=\"");
	H(b, name);
	buf_printf(b, "\" rows=\"6\" maxlength=\"%d\" required>", maxlen);
	H(b, form_value(st, name));
	buf_adds(b, "</textarea>");
}

void
form_select(struct buf *b, const struct form_state *st, const char *name, const char *label,
    const char *const *codes, const char *blank, const char *hint)
{
	const char *cur = form_value(st, name);

	form_label(b, st, name, label, blank == NULL, hint);
	buf_adds(b, "<select id=\"f-");
	H(b, name);
	buf_adds(b, "\" name=\"");
	H(b, name);
	buf_adds(b, blank == NULL ? "\" required>" : "\">");
	if (blank != NULL) {
		buf_adds(b, "<option value=\"\">");
		H(b, blank);
		buf_adds(b, "</option>");
	}
	for (; *codes != NULL; codes++) {
		buf_adds(b, "<option value=\"");
		H(b, *codes);
		buf_adds(b, strcmp(cur, *codes) == 0 ? "\" selected>" : "\">");
		H(b, code_text(*codes));
		buf_adds(b, "</option>");
	}
	buf_adds(b, "</select>");
}

/* Case numbers are long: show them in groups of four so they can be read out and copied. */
void
caseno_grouped(struct buf *b, const char *case_no)
{
	size_t i;

	for (i = 0; case_no[i] != '\0'; i++) {
		if (i > 0 && i % 4 == 0)
			buf_addc(b, ' ');
		buf_addc(b, case_no[i]);
	}
}
