/*
 * Text from a server, made safe to show.
 *
 * What a MariaDB server, an HTTP platform or a proxy says (an error message, a Content-Type,
 * a refusal's reason) is written by someone else, and it goes into our log lines, the hall
 * store's quarantine and last-error columns, and an operator's terminal (hall-agent
 * status). There an ESC starts a terminal escape sequence (colours, cursor moves, a window
 * title, on some terminals worse), a CR or LF forges a log line of its own, a bidirectional
 * override reorders what the operator reads, and bytes that are not UTF-8 break the tools
 * that read the log. So every such text goes through text_clean before it is kept:
 *
 *   - tab, LF, VT, FF, CR, NEL (U+0085), U+2028 and U+2029 end a line somewhere: each run
 *     of them becomes one space (none at the start or the end), so one message stays one
 *     line and its words stay apart;
 *   - every other C0 control (ESC, BEL, NUL, ...), DEL, every C1 control (U+0080..U+009F,
 *     two bytes in UTF-8) and the bidirectional formatting characters (U+061C, U+200E,
 *     U+200F, U+202A..U+202E, U+2066..U+2069) are dropped: what is left of an escape
 *     sequence ("[31m") is harmless text;
 *   - a byte that does not begin a valid UTF-8 sequence (RFC 3629: no overlong forms, no
 *     surrogates, nothing above U+10FFFF) becomes '?', one per byte;
 *   - a sequence cut short by the end of the input is dropped: a byte cap upstream
 *     (MariaDB's message buffer, a column's width) cut it, and it is not the sender's;
 *   - what does not fit is cut at a character boundary.
 *
 * Each rule turns input bytes into at most as many output bytes, and the output never
 * runs ahead of the input, so a buffer can be cleaned in place.
 */
#include <string.h>

#include "core.h"

/* The length of the valid UTF-8 sequence at p (end - p > 0), 0 when there is none, or
 * -1 when the input ends inside a sequence that was valid so far. */
static int
seq_len(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	int n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		*cp = c & 0x0F;
		lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
		hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		*cp = c & 0x07;
		lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
		hi = c == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if (p + i == end)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3F);
	}
	return n;
}

enum text_class { TEXT_KEEP, TEXT_BREAK, TEXT_DROP };

static enum text_class
classify(unsigned cp)
{
	if (cp == '\t' || cp == '\n' || cp == '\v' || cp == '\f' || cp == '\r' || cp == 0x85 ||
	    cp == 0x2028 || cp == 0x2029)
		return TEXT_BREAK;
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
		return TEXT_DROP;
	if (cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return TEXT_DROP;
	return TEXT_KEEP;
}

size_t
text_clean(char *out, size_t outsize, const char *in, size_t inlen)
{
	const unsigned char *p = (const unsigned char *)in, *end;
	size_t w = 0;
	int gap = 0; /* a run of line breaks waits to become one space */

	if (out == NULL || outsize == 0)
		return 0;
	if (in == NULL)
		inlen = 0;
	end = p + inlen;
	while (p < end) {
		unsigned cp = 0;
		int n = seq_len(p, end, &cp), bad = n == 0;
		size_t need;

		if (n == -1)
			break; /* cut short by the end of the input */
		if (bad) {
			/* not UTF-8: one '?' for the byte, which keeps the output no longer */
			cp = '?';
			n = 1;
		} else {
			switch (classify(cp)) {
			case TEXT_BREAK:
				gap = w > 0;
				p += n;
				continue;
			case TEXT_DROP:
				p += n;
				continue;
			case TEXT_KEEP:
				break;
			}
		}
		/* the space that stands for a run of breaks, unless a space is there already */
		if (gap && (out[w - 1] == ' ' || cp == ' '))
			gap = 0;
		need = (size_t)n + (size_t)gap;
		if (w + need > outsize - 1)
			break;
		if (gap)
			out[w++] = ' ';
		gap = 0;
		if (bad)
			out[w++] = '?';
		else
			for (int i = 0; i < n; i++) /* forward: in place, w never passes p */
				out[w++] = (char)p[i];
		p += n;
	}
	out[w] = '\0';
	return w;
}

const char *
text_cleans(char *out, size_t outsize, const char *s)
{
	text_clean(out, outsize, s, s != NULL ? strlen(s) : 0);
	return out;
}
