/*
 * process_meta: where memcached's meta commands (mg ms md ma mn me) meet
 * storage. The text parser splits the line; protocol/meta reads the flags;
 * this file runs the command and words the reply (VA HD EN NS EX NF MN ME).
 */
#ifndef HC_SERVER_PROCESS_META_H
#define HC_SERVER_PROCESS_META_H

#include "protocol/text/parse.h"
#include "server/session.h"

void process_meta(struct session *s, const struct text_req *req);
/* An ms whose value the parser refused unread (over -I): as memcached,
 * the key's old value goes (store_unlink_refused), its key decoded as
 * the ms's flags say. */
void meta_ms_refused(const struct text_req *req);

#endif
