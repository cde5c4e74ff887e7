/*
 * county-notifier: sends the notices of the county's notifications table (sql/county/015)
 * by SMS (the HTTP gateway of SPEC 5.6) and by e-mail (SMTP), each exactly once per event
 * and channel. Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_NOTIFIER_H
#define HALL_NOTIFIER_H

#include <stddef.h>
#include <time.h>

#include "core.h"
#include "county.h"

/* ---- conf.c: notifier.ini ----------------------------------------------------------- */
struct notifier_conf {
	/* [county]: the notifier's account (county-admin add-notifier) */
	char *host, *db_socket, *user, *password_file, *database, *tls_ca;
	int port, tls, allow_insecure, connect_timeout, read_timeout, write_timeout;
	/* [notifier] */
	int poll_ms, batch, backoff_base_s, backoff_max_s, give_up_hours;
	char *signature;	/* 【…】 of every SMS and e-mail: the sender's registered name */
	/* [sms]: off without url */
	char *sms_url, *sms_token_file, *sms_ca_file;
	int sms_timeout_s, sms_allow_insecure;
	/* [email]: off without url */
	char *mail_url, *mail_from, *mail_user, *mail_password_file, *mail_ca_file;
	int mail_starttls, mail_timeout_s, mail_allow_insecure;
	/* read once at start */
	char *password, *sms_token, *mail_password;
};
/* Reads and checks the file; says why on stderr (with the line) and returns -1 on error. */
int notifier_conf_load(struct notifier_conf *, const char *path);
void notifier_conf_free(struct notifier_conf *);

/* ---- text.c: what a notice says ----------------------------------------------------- */
/* A notice as the queue hands it out. */
struct notice {
	char id[40];		/* the UUID: gateway idempotency key, Message-ID */
	char case_no[40];
	char event[20];		/* delivered accepted transferred answered resolved rejected code;
				 * an appointment's booked refused reminder (and code) */
	char channel[8];	/* sms, email */
	char to[208];
	char kind[20];		/* the case's kind, or "appointment" */
	char hall[104];		/* the hall's name, "" when unknown */
	char *note;		/* the answer or reason (e-mail only); may be NULL */
	char secret[20];	/* a new query code (event code), else "" */
	/* an appointment's (kind "appointment"): what seed 4 says its notices carry */
	char item_name[208];	/* 预约内容 */
	char date[12];		/* YYYY-MM-DD */
	char start[8], end[8];	/* HH:MM */
	char place[208];	/* 办理地点 */
	char name[208];		/* 预约人姓名 (the e-mail only) */
	int attempts;		/* before this one */
	long age_s;		/* since the notice was made */
};
#define SMS_MAX_CHARS 70	/* SPEC 5.6, with the signature */
/*
 * The SMS text: 【signature】 and one sentence, at most SMS_MAX_CHARS characters. The case
 * number is whole when it fits, shortened (first 4 … last 3) when not. -1 when even that
 * does not fit (a signature too long: conf.c checks it at start) or the event is unknown.
 */
int notice_sms_text(struct buf *, const struct notice *, const char *signature);
/*
 * 1 when every SMS notice_sms_text can write fits SMS_MAX_CHARS under this signature, at
 * its shortest with the longest values a notice holds: conf.c refuses a signature that
 * does not, at start, rather than every notice of one event failing later.
 */
int notice_sms_fits(const char *signature);
/*
 * The whole e-mail (RFC 5322 headers, UTF-8 body in base64), Message-ID <id@domain of
 * from>. -1 when an address would break the header (conf.c and the hall check them; this
 * is the last guard).
 */
int notice_mail(struct buf *, const struct notice *, const char *from, const char *signature,
    time_t now);
/* 1 when s is an address the SMTP envelope and the To: header take as it is. */
int notice_addr_ok(const char *s);
/* The citizen-facing words of SPEC 2. NULL for an unknown one. */
const char *notice_status_text(const char *event);
const char *notice_kind_text(const char *kind);

/* ---- send_sms.c, send_mail.c: one attempt each --------------------------------------- */
enum send_result {
	SEND_OK,		/* the gateway or the server took it (accepted or duplicate) */
	SEND_RETRY,		/* failed or unknown: the same id again later */
	SEND_REFUSED		/* refused for good (a malformed number or address) */
};
struct sender;
struct sender *sender_new(const struct notifier_conf *);
void sender_free(struct sender *);
enum send_result sms_send(struct sender *, const struct notice *, const char *text, char *err,
    size_t errlen);
enum send_result mail_send(struct sender *, const struct notice *, const struct buf *message,
    char *err, size_t errlen);

/* ---- queue.c: the notifications table ------------------------------------------------ */
/*
 * Up to max notices due now, of the channels asked for (a channel not configured here is
 * left to wait), at most one per case and channel: the oldest pending, so a case's notices
 * go out in order. Nothing is claimed yet. The number read into v, -1 on a database error.
 */
int queue_due(MYSQL *, int sms, int email, struct notice *v, int max, char *err,
    size_t errlen);
/*
 * Claims one notice right before it is sent: its attempt counted and next_at moved past
 * lease_s, committed. 1 claimed, 0 another notifier has it (or it is sent), -1 on error.
 */
int queue_take(MYSQL *, const struct notice *, int lease_s, char *err, size_t errlen);
/*
 * Queues the reminders due (CALL appointment_reminders(), sql/county/016: the working day
 * before each appointment, once), gives up those still pending of appointments no longer
 * booked or begun (state failed, last_error "withdrawn: ..."), and commits; 0 or -1.
 */
int queue_reminders(MYSQL *, char *err, size_t errlen);
/* Sent: state sent, the code forgotten. */
int queue_sent(MYSQL *, const struct notice *, char *err, size_t errlen);
/* Not sent: the error kept, next try after retry_s; for good (failed) when give_up. */
int queue_failed(MYSQL *, const struct notice *, const char *why, unsigned retry_s,
    int give_up, char *err, size_t errlen);
void notice_free(struct notice *);

#endif
