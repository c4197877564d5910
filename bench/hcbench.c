/*
 * hcbench: a closed-loop load generator for servers that speak the memcached
 * text protocol, plus the tiny "do-nothing" server used to prove that the
 * generator is not the bottleneck (--null-server), a bulk loader for the
 * memory test (--load) and a `stats` query (--stats).
 *
 * Why our own: Debian's memtier_benchmark/mc-crusher either are not packaged
 * or measure differently; we want one small C file whose every number we can
 * explain. Each thread drives many nonblocking connections through one epoll
 * set; each connection keeps `depth` requests in flight (closed loop) and
 * parses replies incrementally, so a reply split anywhere across reads is
 * fine. Latencies go into a hand-written log-linear histogram (below), since
 * nothing in Debian offers HdrHistogram to C simply.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ limits */

#define MAX_LINE        2048u        /* longest reply line we accept */
#define IN_CAP          (64u * 1024) /* per-connection read buffer */
#define MAX_CONNS       100000
#define MAX_THREADS     64
#define MAX_DEPTH       4096
#define MAX_VALUE       (1u << 20)
#define MIN_KEY_LEN     5            /* "key:" plus at least one digit */
#define MAX_KEY_LEN     250          /* memcached's KEY_MAX_LENGTH */
#define DRAIN_NS        (2ull * 1000000000ull) /* wait for in-flight replies */
#define NS              1000000000ull
#define NULL_KEEP_MIN_MB 4           /* --null-keep: room for a value of MAX_VALUE */
#define NULL_KEEP_MAX_MB 65536
_Static_assert(((size_t)NULL_KEEP_MIN_MB << 20) > MAX_VALUE, "a slot fits in the ring");

/* ------------------------------------------------------------------ options */

enum mode { MODE_BENCH, MODE_LOAD, MODE_NULL, MODE_STATS };

struct opts {
	enum mode mode;
	const char *host;
	const char *port;
	int conns;
	int threads;
	int depth;
	double get_ratio;
	uint64_t keys;
	int key_len;
	int value_size;
	double duration;        /* seconds; 0 with requests>0 means count mode */
	double warmup;          /* seconds run but not recorded */
	uint64_t requests;      /* total requests (count mode) */
	uint64_t load_n;        /* --load N */
	bool preload;
	bool batch;             /* refill only when all replies are in */
	bool null_uring;        /* --null-uring: the null server on io_uring */
	const char *label;
	uint64_t seed;
	double rate;            /* open loop: requests/s in all; 0 = closed loop */
};

static struct opts O = {
	.mode = MODE_BENCH, .host = "127.0.0.1", .port = "11211",
	.conns = 50, .threads = 1, .depth = 1, .get_ratio = 0.9,
	.keys = 100000, .key_len = 16, .value_size = 32, .duration = 10,
	.warmup = 0, .requests = 0, .load_n = 0, .preload = false,
	.label = "-", .seed = 1,
};

/* ------------------------------------------------------------------ time */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------- histogram */

/*
 * Log-linear histogram in the spirit of HdrHistogram (written by hand: no
 * C library for it in Debian). Values below 2^H_SUB_BITS get one bucket
 * each; above that every power of two is split into H_HALF linear buckets,
 * so any recorded value is known to within 1/64 (~1.6%) of itself. Values
 * are nanoseconds; the full uint64 range fits in H_BUCKETS counters.
 */
#define H_SUB_BITS 7
#define H_SUB      (1u << H_SUB_BITS)
#define H_HALF     (H_SUB / 2)
#define H_BUCKETS  (H_SUB + (64 - H_SUB_BITS) * H_HALF)

struct hist {
	uint64_t count[H_BUCKETS];
	uint64_t total;
	uint64_t max;
};

static unsigned hist_index(uint64_t v)
{
	if (v < H_SUB)
		return (unsigned)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - (H_SUB_BITS - 1);
	return H_SUB + (unsigned)(shift - 1) * H_HALF +
	       (unsigned)((v >> shift) - H_HALF);
}

/* Highest value that lands in bucket idx (what HdrHistogram reports). */
static uint64_t hist_value(unsigned idx)
{
	if (idx < H_SUB)
		return idx;
	unsigned k = idx - H_SUB;
	unsigned shift = k / H_HALF + 1;
	uint64_t sub = k % H_HALF + H_HALF;
	return ((sub + 1) << shift) - 1;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->total++;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	for (unsigned i = 0; i < H_BUCKETS; i++)
		to->count[i] += from->count[i];
	to->total += from->total;
	if (from->max > to->max)
		to->max = from->max;
}

/* Smallest recorded value v such that at least q of all samples are <= v. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->total == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->total + 0.999999);
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* -------------------------------------------------------------- keys etc. */

/* Fixed-width keys "key:000000000123" (key_len bytes in all). */
static void key_format(char *dst, uint64_t k)
{
	int digits = O.key_len - 4;
	memcpy(dst, "key:", 4);
	for (int i = digits - 1; i >= 0; i--) {
		dst[4 + i] = (char)('0' + k % 10);
		k /= 10;
	}
}

static char set_suffix[64];   /* " 0 0 <value_size>\r\n" */
static size_t set_suffix_len;
static char *value_crlf;      /* value bytes then "\r\n" */
static size_t req_max;        /* largest single request */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, good enough to pick keys and ops. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* ---------------------------------------------------------------- client */

struct req {
	uint64_t key;
	uint64_t t_send;
	bool is_get;
};

struct conn {
	int fd;
	bool dead;
	bool want_out;
	char *in;
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	struct req *ring;
	unsigned head, count;
	uint64_t skip;          /* value bytes still to skip */
	bool after_data;        /* expect the CRLF that ends a data block */
	bool dirty;             /* open loop: on the worker's dirty list */
	unsigned values;        /* VALUE lines seen for the current get */
};

struct stats {
	uint64_t gets, hits, misses, sets, stored;
	uint64_t err_replies;   /* ERROR, CLIENT_ERROR, SERVER_ERROR, NOT_STORED... */
	uint64_t bad_values;    /* VALUE with wrong key or length */
	uint64_t proto_errors;  /* unparseable reply: connection dropped */
	uint64_t lost;          /* in flight on a dropped connection */
	uint64_t dead_conns;
	uint64_t completed;     /* all completions, recorded or not */
	uint64_t writes, reads; /* syscalls that moved bytes (batching check) */
};

struct worker {
	int id;
	int ep;
	int nconns;
	struct conn *conns;
	uint64_t rng;
	/* what to issue */
	uint64_t quota;         /* requests left to issue (count/load modes) */
	uint64_t next_key, key_hi; /* load mode: sequential range */
	uint64_t t_measure, t_deadline;
	bool stop_issue;
	uint64_t t_first, t_last;  /* first send, last completion */
	struct stats st;
	struct hist h_all, h_get, h_set;
	int fail;
	/* open loop (--rate): the next request is due at t_next, then every
	 * interval_ns; latency counts from the due time, so a server that
	 * falls behind is charged for the wait (no coordinated omission) */
	double t_next, interval_ns;
	int rr;                 /* next connection to try */
	struct conn **dirty;    /* connections with queued output */
	int ndirty;
} __attribute__((aligned(64)));

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int resolve(struct addrinfo **res, bool passive)
{
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	int rc = getaddrinfo(O.host, O.port, &hints, res);
	if (rc != 0) {
		fprintf(stderr, "hcbench: %s:%s: %s\n", O.host, O.port,
		        gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* Blocking connect (loopback is instant), then nonblocking + NODELAY. */
static int dial(const struct addrinfo *ai, bool nonblock)
{
	for (; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		                ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			if (nonblock)
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			return fd;
		}
		close(fd);
	}
	return -1;
}

static void conn_drop(struct worker *w, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (w->st.dead_conns < 3)
		fprintf(stderr, "hcbench: thread %d: dropping connection: %s\n",
		        w->id, why);
	w->st.dead_conns++;
	w->st.lost += c->count;
	c->count = 0;
	c->dead = true;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
}

static void set_out_interest(struct worker *w, struct conn *c, bool want)
{
	if (c->want_out == want)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0u),
	                          .data.ptr = c };
	epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}

static void conn_flush(struct worker *w, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			w->st.writes++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_out_interest(w, c, true);
			return;
		}
		conn_drop(w, c, n < 0 ? strerror(errno) : "write returned 0");
		return;
	}
	c->out_off = c->out_len = 0;
	set_out_interest(w, c, false);
}

/* Decide whether this worker may issue one more request, and which. */
static bool next_request(struct worker *w, uint64_t now, struct req *r)
{
	if (w->stop_issue)
		return false;
	if (O.mode == MODE_LOAD) {
		if (w->next_key >= w->key_hi) {
			w->stop_issue = true;
			return false;
		}
		r->key = w->next_key++;
		r->is_get = false;
		return true;
	}
	if (O.requests) {
		if (w->quota == 0) {
			w->stop_issue = true;
			return false;
		}
		w->quota--;
	} else if (now >= w->t_deadline || g_stop) {
		w->stop_issue = true;
		return false;
	}
	uint64_t x = rng_next(&w->rng);
	r->key = (x >> 11) % O.keys;
	/* low 11 bits: op choice in steps of 1/2048 */
	r->is_get = (double)(x & 2047) < O.get_ratio * 2048.0;
	return true;
}

/* Make room at the end of the output buffer. */
static void conn_compact(struct conn *c)
{
	if (c->out_off > 0 && c->out_off < c->out_len) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	} else if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
	}
}

/* Append request r to c's output and its ring (caller checked room). */
static void conn_put(struct worker *w, struct conn *c, struct req r)
{
	if (w->t_first == 0)
		w->t_first = r.t_send;
	char *p = c->out + c->out_len;
	if (r.is_get) {
		memcpy(p, "get ", 4);
		key_format(p + 4, r.key);
		p += 4 + O.key_len;
		memcpy(p, "\r\n", 2);
		p += 2;
	} else {
		memcpy(p, "set ", 4);
		key_format(p + 4, r.key);
		p += 4 + O.key_len;
		memcpy(p, set_suffix, set_suffix_len);
		p += set_suffix_len;
		memcpy(p, value_crlf, (size_t)O.value_size + 2);
		p += O.value_size + 2;
	}
	c->out_len = (size_t)(p - c->out);
	unsigned slot = (c->head + c->count) % (unsigned)O.depth;
	c->ring[slot] = r;
	c->count++;
}

/* Queue requests until `depth` are in flight; then write them in one go.
 * Open loop: only write what issue_due() queued. */
static void conn_refill(struct worker *w, struct conn *c, uint64_t now)
{
	if (c->dead)
		return;
	if (O.rate > 0 || c->count >= (unsigned)O.depth || (O.batch && c->count > 0)) {
		if (c->out_off < c->out_len)
			conn_flush(w, c);
		return;
	}
	conn_compact(c);
	while (c->count < (unsigned)O.depth &&
	       c->out_cap - c->out_len >= req_max) {
		struct req r;
		if (!next_request(w, now, &r))
			break;
		r.t_send = now;
		conn_put(w, c, r);
	}
	conn_flush(w, c);
}

/* Open loop: issue every request due by `now`, each on the next
 * connection (round robin) with room for one more in flight. */
static void issue_due(struct worker *w, uint64_t now)
{
	while (!w->stop_issue && w->t_next <= (double)now) {
		struct conn *c = NULL;
		for (int k = 0; k < w->nconns; k++) {
			struct conn *x = &w->conns[w->rr];
			w->rr = (w->rr + 1) % w->nconns;
			if (!x->dead && x->count < (unsigned)O.depth) {
				c = x;
				break;
			}
		}
		if (c == NULL)     /* all full: it waits, and its latency grows */
			break;
		struct req r;
		if (!next_request(w, now, &r))
			break;
		r.t_send = (uint64_t)w->t_next;
		w->t_next += w->interval_ns;
		conn_compact(c);
		conn_put(w, c, r);
		if (!c->dirty) {
			c->dirty = true;
			w->dirty[w->ndirty++] = c;
		}
	}
	/* one write per connection for all it got this round */
	for (int k = 0; k < w->ndirty; k++) {
		struct conn *x = w->dirty[k];
		x->dirty = false;
		if (!x->dead)
			conn_flush(w, x);
	}
	w->ndirty = 0;
}

enum outcome { OUT_HIT, OUT_MISS, OUT_STORED, OUT_ERR };

static void complete(struct worker *w, struct conn *c, enum outcome o,
                     uint64_t now)
{
	struct req *r = &c->ring[c->head];
	c->head = (c->head + 1) % (unsigned)O.depth;
	c->count--;
	c->values = 0;
	w->st.completed++;
	w->t_last = now;
	/* Duration mode records only what was sent after warm-up and answered
	 * by the deadline, so ops/s is completions over a fixed window. */
	if (O.mode == MODE_BENCH && !O.requests &&
	    (r->t_send < w->t_measure || now > w->t_deadline))
		return;
	uint64_t lat = now - r->t_send;
	hist_record(&w->h_all, lat);
	if (r->is_get) {
		w->st.gets++;
		hist_record(&w->h_get, lat);
	} else {
		w->st.sets++;
		hist_record(&w->h_set, lat);
	}
	switch (o) {
	case OUT_HIT:    w->st.hits++; break;
	case OUT_MISS:   w->st.misses++; break;
	case OUT_STORED: w->st.stored++; break;
	case OUT_ERR:    w->st.err_replies++; break;
	}
}

static bool starts(const char *line, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && memcmp(line, lit, n) == 0;
}

static bool is_line(const char *line, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && memcmp(line, lit, n) == 0;
}

/* Checked decimal parse of a token (replies are untrusted input too). */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "VALUE <key> <flags> <bytes> [<cas>]" for request r; sets c->skip. */
static bool parse_value_line(struct worker *w, struct conn *c,
                             const char *line, size_t len)
{
	const char *tok[5];
	size_t tlen[5];
	int nt = 0;
	size_t i = 6; /* after "VALUE " */
	while (i < len && nt < 5) {
		while (i < len && line[i] == ' ')
			i++;
		if (i >= len)
			break;
		tok[nt] = line + i;
		while (i < len && line[i] != ' ')
			i++;
		tlen[nt] = (size_t)(line + i - tok[nt]);
		nt++;
	}
	uint64_t flags, bytes;
	if (nt < 3 || !parse_u64(tok[1], tlen[1], &flags) ||
	    !parse_u64(tok[2], tlen[2], &bytes) || bytes > (1ull << 30))
		return false;
	c->skip = bytes;
	c->after_data = true;
	char kb[MAX_KEY_LEN];
	key_format(kb, c->ring[c->head].key);
	if (tlen[0] != (size_t)O.key_len || memcmp(kb, tok[0], tlen[0]) != 0 ||
	    bytes != (uint64_t)O.value_size)
		w->st.bad_values++;
	return true;
}

/* Consume whole replies from c->in; keeps any partial tail. False on a
 * reply that cannot be parsed (the stream is then out of step). */
static bool conn_parse(struct worker *w, struct conn *c, uint64_t now,
                       const char **why)
{
	size_t pos = 0, len = c->in_len;
	char *in = c->in;
	bool ok = true;
	for (;;) {
		if (c->skip) {
			size_t n = len - pos;
			if (n > c->skip)
				n = (size_t)c->skip;
			pos += n;
			c->skip -= n;
			if (c->skip)
				break;
		}
		if (c->after_data) {
			if (len - pos < 2)
				break;
			if (in[pos] != '\r' || in[pos + 1] != '\n') {
				*why = "data block not followed by CRLF";
				ok = false;
				break;
			}
			pos += 2;
			c->after_data = false;
			continue;
		}
		char *nl = memchr(in + pos, '\n', len - pos);
		if (!nl) {
			if (len - pos > MAX_LINE) {
				*why = "reply line too long";
				ok = false;
			}
			break;
		}
		char *line = in + pos;
		size_t ll = (size_t)(nl - line);
		pos += ll + 1;
		if (ll == 0 || line[ll - 1] != '\r') {
			*why = "reply line not ended by CRLF";
			ok = false;
			break;
		}
		ll--;
		if (c->count == 0) {
			*why = "reply with no request in flight";
			ok = false;
			break;
		}
		bool is_get = c->ring[c->head].is_get;
		if (is_get && starts(line, ll, "VALUE ")) {
			if (!parse_value_line(w, c, line, ll)) {
				*why = "bad VALUE line";
				ok = false;
				break;
			}
			c->values++;
		} else if (is_get && is_line(line, ll, "END")) {
			complete(w, c, c->values ? OUT_HIT : OUT_MISS, now);
		} else if (!is_get && is_line(line, ll, "STORED")) {
			complete(w, c, OUT_STORED, now);
		} else if (is_line(line, ll, "NOT_STORED") ||
		           is_line(line, ll, "EXISTS") ||
		           is_line(line, ll, "NOT_FOUND") ||
		           is_line(line, ll, "ERROR") ||
		           starts(line, ll, "CLIENT_ERROR") ||
		           starts(line, ll, "SERVER_ERROR")) {
			if (w->st.err_replies < 3)
				fprintf(stderr, "hcbench: error reply: %.*s\n",
				        (int)(ll < 200 ? ll : 200), line);
			complete(w, c, OUT_ERR, now);
		} else {
			*why = "unexpected reply line";
			if (w->st.proto_errors < 3)
				fprintf(stderr, "hcbench: unexpected reply: %.*s\n",
				        (int)(ll < 200 ? ll : 200), line);
			ok = false;
			break;
		}
	}
	if (pos < len)
		memmove(in, in + pos, len - pos);
	c->in_len = len - pos;
	return ok;
}

static void conn_read(struct worker *w, struct conn *c, uint64_t now)
{
	for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
		ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_drop(w, c, n < 0 ? strerror(errno)
			                      : "server closed the connection");
			return;
		}
		c->in_len += (size_t)n;
		w->st.reads++;
		const char *why = NULL;
		if (!conn_parse(w, c, now, &why)) {
			w->st.proto_errors++;
			conn_drop(w, c, why);
			return;
		}
		if ((size_t)n < IN_CAP - (c->in_len))
			return; /* short read: socket drained */
	}
}

static bool worker_busy(const struct worker *w)
{
	for (int i = 0; i < w->nconns; i++)
		if (!w->conns[i].dead && w->conns[i].count)
			return true;
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t now = now_ns();
	if (O.rate > 0) {
		/* wake on time, not up to 50us late (the default slack) */
		prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		w->interval_ns = 1e9 * O.threads / O.rate;
		w->t_next = (double)now;
	}
	for (int i = 0; i < w->nconns; i++)
		conn_refill(w, &w->conns[i], now);
	for (;;) {
		now = now_ns();
		if (!w->stop_issue && O.mode == MODE_BENCH && !O.requests &&
		    (now >= w->t_deadline || g_stop))
			w->stop_issue = true;
		if (w->stop_issue && !worker_busy(w))
			break;
		/* Every run is bounded: duration runs by their deadline, count
		 * and load runs by a generous cap, all plus a drain period. */
		if (now >= w->t_deadline + DRAIN_NS) {
			uint64_t left = 0;
			for (int i = 0; i < w->nconns; i++)
				left += w->conns[i].dead ? 0 : w->conns[i].count;
			if (left)
				fprintf(stderr, "hcbench: thread %d: %" PRIu64
				        " requests unanswered at the time limit\n",
				        w->id, left);
			w->st.lost += left;
			break;
		}
		int n;
		if (O.rate > 0) {
			/* open loop: sleep exactly until the next request is due
			 * (a busy poll would lose its core to other tenants) */
			issue_due(w, now);
			double wait = w->t_next - (double)now_ns();
			if (wait > 10e6)
				wait = 10e6;
			struct timespec ts = { 0, wait > 0 ? (long)wait : 0 };
			n = epoll_pwait2(w->ep, evs, 256, &ts, NULL);
		} else {
			n = epoll_wait(w->ep, evs, 256, 10);
		}
		if (n < 0 && errno != EINTR) {
			perror("hcbench: epoll_wait");
			w->fail = 1;
			break;
		}
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & EPOLLOUT)
				conn_flush(w, c);
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_read(w, c, now);
			conn_refill(w, c, now);
		}
	}
	return NULL;
}

static int worker_setup(struct worker *w, int id, int nconns,
                        const struct addrinfo *ai)
{
	w->id = id;
	w->nconns = nconns;
	w->rng = O.seed * 0x9E3779B97F4A7C15ull + (uint64_t)id * 7919 + 1;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->conns = calloc((size_t)nconns, sizeof *w->conns);
	w->dirty = calloc((size_t)nconns, sizeof *w->dirty);
	if (w->ep < 0 || !w->conns || !w->dirty)
		return -1;
	size_t out_cap = req_max * (size_t)O.depth;
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &w->conns[i];
		c->in = malloc(IN_CAP);
		c->out = malloc(out_cap);
		c->out_cap = out_cap;
		c->ring = calloc((size_t)O.depth, sizeof *c->ring);
		if (!c->in || !c->out || !c->ring)
			return -1;
		c->fd = dial(ai, true);
		if (c->fd < 0) {
			fprintf(stderr, "hcbench: connect %s:%s: %s\n", O.host,
			        O.port, strerror(errno));
			return -1;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return -1;
	}
	return 0;
}

static void worker_teardown(struct worker *w)
{
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (!c->dead && c->fd > 0)
			close(c->fd);
		free(c->in);
		free(c->out);
		free(c->ring);
	}
	free(w->conns);
	free(w->dirty);
	if (w->ep >= 0)
		close(w->ep);
}

/* CPU seconds this process has used (user + system), so run.sh can tell
 * how busy the client core was. */
static double client_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* 10,000 connections need more than the usual 1024 descriptors. */
static void raise_nofile(int want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int run_client(void)
{
	struct addrinfo *ai;
	raise_nofile(O.conns + 64);
	if (resolve(&ai, false) < 0)
		return 2;
	if (O.conns < O.threads)
		O.threads = O.conns;

	set_suffix_len = (size_t)snprintf(set_suffix, sizeof set_suffix,
	                                  " 0 0 %d\r\n", O.value_size);
	value_crlf = malloc((size_t)O.value_size + 2);
	if (!value_crlf)
		return 2;
	for (int i = 0; i < O.value_size; i++)
		value_crlf[i] = (char)('a' + i % 26);
	memcpy(value_crlf + O.value_size, "\r\n", 2);
	req_max = 4 + (size_t)O.key_len + set_suffix_len + (size_t)O.value_size + 2;

	struct worker *ws = aligned_alloc(64, sizeof *ws * (size_t)O.threads);
	if (!ws)
		return 2;
	memset(ws, 0, sizeof *ws * (size_t)O.threads);

	uint64_t total = O.mode == MODE_LOAD ? O.load_n : O.requests;
	int rc = 0;
	for (int t = 0; t < O.threads; t++) {
		struct worker *w = &ws[t];
		w->ep = -1;
		int nc = O.conns / O.threads + (t < O.conns % O.threads);
		if (worker_setup(w, t, nc, ai) < 0) {
			fprintf(stderr, "hcbench: setting up thread %d failed\n", t);
			rc = 2;
		}
		uint64_t share = total / (uint64_t)O.threads;
		uint64_t lo = share * (uint64_t)t;
		uint64_t hi = t == O.threads - 1 ? total : lo + share;
		w->next_key = lo;
		w->key_hi = hi;
		w->quota = hi - lo;
	}
	freeaddrinfo(ai);
	if (rc)
		goto out;

	uint64_t t0 = now_ns();
	/* Count and load runs get a cap so a wedged server cannot hang us. */
	double limit = (O.mode == MODE_LOAD || O.requests) ? O.duration
	                                                   : O.warmup + O.duration;
	for (int t = 0; t < O.threads; t++) {
		ws[t].t_measure = t0 + (uint64_t)(O.warmup * 1e9);
		ws[t].t_deadline = t0 + (uint64_t)(limit * 1e9);
	}
	pthread_t tid[MAX_THREADS];
	for (int t = 0; t < O.threads; t++)
		if (pthread_create(&tid[t], NULL, worker_main, &ws[t]) != 0) {
			perror("hcbench: pthread_create");
			return 2;
		}
	for (int t = 0; t < O.threads; t++)
		pthread_join(tid[t], NULL);

	struct stats st = { 0 };
	static struct hist all, get, set;
	uint64_t first = UINT64_MAX, last = 0;
	for (int t = 0; t < O.threads; t++) {
		struct worker *w = &ws[t];
		st.gets += w->st.gets;
		st.hits += w->st.hits;
		st.misses += w->st.misses;
		st.sets += w->st.sets;
		st.stored += w->st.stored;
		st.err_replies += w->st.err_replies;
		st.bad_values += w->st.bad_values;
		st.proto_errors += w->st.proto_errors;
		st.lost += w->st.lost;
		st.dead_conns += w->st.dead_conns;
		st.completed += w->st.completed;
		st.writes += w->st.writes;
		st.reads += w->st.reads;
		hist_merge(&all, &w->h_all);
		hist_merge(&get, &w->h_get);
		hist_merge(&set, &w->h_set);
		if (w->t_first && w->t_first < first)
			first = w->t_first;
		if (w->t_last > last)
			last = w->t_last;
		if (w->fail)
			rc = 2;
	}
	double secs;
	if (O.mode == MODE_BENCH && !O.requests)
		secs = O.duration;
	else
		secs = last > first ? (double)(last - first) / 1e9 : 0;
	uint64_t ops = all.total;
	double rate = secs > 0 ? (double)ops / secs : 0;
	uint64_t errors = st.err_replies + st.bad_values + st.proto_errors + st.lost;
	bool complete_load = O.mode != MODE_LOAD || st.stored == O.load_n;

	printf("RESULT label=%s mode=%s server=%s:%s conns=%d threads=%d depth=%d"
	       " get_ratio=%.3f keys=%" PRIu64 " key_len=%d value=%d secs=%.3f"
	       " ops=%" PRIu64 " ops_per_sec=%.0f gets=%" PRIu64 " hits=%" PRIu64
	       " misses=%" PRIu64 " sets=%" PRIu64 " stored=%" PRIu64
	       " err_replies=%" PRIu64 " bad_values=%" PRIu64
	       " proto_errors=%" PRIu64 " lost=%" PRIu64 " dead_conns=%" PRIu64
	       " errors=%" PRIu64 " p50_us=%.1f p90_us=%.1f p99_us=%.1f"
	       " p999_us=%.1f max_us=%.1f get_p99_us=%.1f set_p99_us=%.1f"
	       " reqs_per_write=%.2f batch=%d client_cpu_s=%.2f"
	       " rate=%.0f\n",
	       O.label, O.mode == MODE_LOAD ? "load" : "bench", O.host, O.port,
	       O.conns, O.threads, O.depth, O.mode == MODE_LOAD ? 0.0 : O.get_ratio,
	       O.mode == MODE_LOAD ? O.load_n : O.keys, O.key_len, O.value_size,
	       secs, ops, rate, st.gets, st.hits, st.misses, st.sets, st.stored,
	       st.err_replies, st.bad_values, st.proto_errors, st.lost,
	       st.dead_conns, errors,
	       us(hist_quantile(&all, 0.50)), us(hist_quantile(&all, 0.90)),
	       us(hist_quantile(&all, 0.99)), us(hist_quantile(&all, 0.999)),
	       us(all.max), us(hist_quantile(&get, 0.99)),
	       us(hist_quantile(&set, 0.99)),
	       st.writes ? (double)st.completed / (double)st.writes : 0.0,
	       O.batch, client_cpu_s(), O.rate);
	printf("# %s %s:%s: %.0f ops/s over %.2fs (%" PRIu64 " ops; %" PRIu64
	       " gets, %" PRIu64 " hits, %" PRIu64 " misses; %" PRIu64 " sets);"
	       " latency p50 %.1fus p99 %.1fus p99.9 %.1fus max %.1fus;"
	       " errors %" PRIu64 "%s\n",
	       O.mode == MODE_LOAD ? "load" : "bench", O.host, O.port, rate, secs,
	       ops, st.gets, st.hits, st.misses, st.sets,
	       us(hist_quantile(&all, 0.50)), us(hist_quantile(&all, 0.99)),
	       us(hist_quantile(&all, 0.999)), us(all.max), errors,
	       complete_load ? "" : " (LOAD INCOMPLETE)");
	fflush(stdout);
	if (errors || !complete_load)
		rc = rc ? rc : 1;
out:
	for (int t = 0; t < O.threads; t++)
		worker_teardown(&ws[t]);
	free(ws);
	free(value_crlf);
	return rc;
}

/* ------------------------------------------------------------ stats query */

/* Prints the server's `stats` as one line of key=value pairs. */
static int run_stats(void)
{
	struct addrinfo *ai;
	if (resolve(&ai, false) < 0)
		return 2;
	int fd = dial(ai, false);
	freeaddrinfo(ai);
	if (fd < 0) {
		fprintf(stderr, "hcbench: connect %s:%s: %s\n", O.host, O.port,
		        strerror(errno));
		return 2;
	}
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (write(fd, "stats\r\n", 7) != 7) {
		close(fd);
		return 2;
	}
	static char buf[256 * 1024];
	size_t len = 0;
	while (len < sizeof buf - 1) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 5 && memcmp(buf + len - 5, "END\r\n", 5) == 0)
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (len < 5 || memcmp(buf + len - 5, "END\r\n", 5) != 0) {
		fprintf(stderr, "hcbench: incomplete stats reply\n");
		return 2;
	}
	printf("STATS");
	for (char *line = buf; *line;) {
		char *eol = strstr(line, "\r\n");
		if (!eol)
			break;
		*eol = '\0';
		if (strncmp(line, "STAT ", 5) == 0) {
			char *name = line + 5;
			char *sp = strchr(name, ' ');
			if (sp) {
				*sp = '\0';
				/* values with spaces would break key=value */
				for (char *q = sp + 1; *q; q++)
					if (*q == ' ')
						*q = '_';
				printf(" %s=%s", name, sp + 1);
			}
		}
		line = eol + 2;
	}
	printf("\n");
	return 0;
}

/* ------------------------------------------------------------ null server */

/*
 * The do-nothing server: one epoll thread that answers every retrieval
 * command with "END" and every storage command (after skipping its data
 * block) with "STORED". It shows how fast hcbench can go when the server
 * costs nothing, so we know the client is not what limits real servers.
 */
struct nconn {
	int fd;
	char *in;
	size_t in_len;
	uint64_t skip;          /* data-block bytes (incl. CRLF) to discard */
	char *out;
	size_t out_off, out_len, out_cap;
	bool want_out;
};

#define NULL_OUT_HIGH (1u << 20) /* stop reading while this much is unsent */

static bool nconn_reply(struct nconn *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap * 2;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return true;
}

/* With -v, every key of a get is a hit of that many bytes (the same
 * bytes for each: the client checks key and length only), so the
 * do-nothing server also gives the floor for gets that return values. */
static char *null_value;        /* O.value_size bytes then "\r\n"; or NULL */
static char null_hdr[32];       /* " 0 <O.value_size>\r\n" */
static size_t null_hdr_len;

/* --null-keep MB: the memory traffic any cache has. Stored data is
 * copied into a ring of MB MiB (written in order, as a log-structured
 * store writes), and a hit's value is copied out of the ring from the
 * slot its key names: one of -k slots of -v bytes, so the values read
 * take no more memory than the raw data a cache of that key space
 * holds at the least (a real one adds its metadata). Still no index. */
static unsigned char *null_ring;
static size_t null_ring_len, null_ring_pos;
static uint64_t null_slots;     /* min(-k, slots of -v bytes in the ring) */

static void null_keep(const char *p, size_t n)
{
	while (n > 0) {
		size_t room = null_ring_len - null_ring_pos;
		size_t k = n < room ? n : room;
		memcpy(null_ring + null_ring_pos, p, k);
		null_ring_pos = (null_ring_pos + k) % null_ring_len;
		p += k;
		n -= k;
	}
}

/* Where key's value lies in the ring (FNV-1a over the key). */
static const unsigned char *null_kept(const char *key, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
	return null_ring + (h % null_slots) * (size_t)O.value_size;
}

static bool null_hits(struct nconn *c, const char *line, size_t ll)
{
	const char *sp = memchr(line, ' ', ll);   /* the caller saw "get " */
	size_t i = (size_t)(sp - line);
	bool ok = true;

	while (ok && null_value) {
		while (i < ll && line[i] == ' ')
			i++;
		size_t k = i;
		while (i < ll && line[i] != ' ')
			i++;
		if (i == k)
			break;
		ok = nconn_reply(c, "VALUE ", 6) && nconn_reply(c, line + k, i - k) &&
		     nconn_reply(c, null_hdr, null_hdr_len);
		if (ok && null_ring)
			ok = nconn_reply(c, (const char *)null_kept(line + k, i - k),
			                 (size_t)O.value_size) &&
			     nconn_reply(c, "\r\n", 2);
		else if (ok)
			ok = nconn_reply(c, null_value, (size_t)O.value_size + 2);
	}
	return ok && nconn_reply(c, "END\r\n", 5);
}

/* Returns false when the connection should be closed. */
static bool nconn_parse(struct nconn *c)
{
	size_t pos = 0, len = c->in_len;
	bool ok = true;
	while (pos < len) {
		if (c->skip) {
			size_t n = len - pos < c->skip ? len - pos : (size_t)c->skip;
			if (null_ring)
				null_keep(c->in + pos, n);
			pos += n;
			c->skip -= n;
			continue;
		}
		char *nl = memchr(c->in + pos, '\n', len - pos);
		if (!nl) {
			if (len - pos > MAX_LINE)
				ok = false;
			break;
		}
		char *line = c->in + pos;
		size_t ll = (size_t)(nl - line);
		pos += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (starts(line, ll, "get ") || starts(line, ll, "gets ")) {
			ok = null_hits(c, line, ll);
		} else if (starts(line, ll, "set ") || starts(line, ll, "add ") ||
		           starts(line, ll, "replace ") || starts(line, ll, "cas ") ||
		           starts(line, ll, "append ") || starts(line, ll, "prepend ")) {
			/* <cmd> <key> <flags> <exptime> <bytes> ... */
			size_t i = 0;
			int tok = 0;
			uint64_t bytes = 0;
			bool got = false;
			while (i < ll && !got) {
				while (i < ll && line[i] == ' ')
					i++;
				size_t s = i;
				while (i < ll && line[i] != ' ')
					i++;
				if (i > s && tok++ == 4)
					got = parse_u64(line + s, i - s, &bytes);
			}
			if (!got || bytes > MAX_VALUE) {
				ok = nconn_reply(c, "CLIENT_ERROR bad command line format\r\n", 38);
				continue;
			}
			c->skip = bytes + 2;
			ok = nconn_reply(c, "STORED\r\n", 8);
		} else if (is_line(line, ll, "version")) {
			ok = nconn_reply(c, "VERSION hcbench-null\r\n", 22);
		} else if (is_line(line, ll, "stats")) {
			ok = nconn_reply(c, "END\r\n", 5);
		} else if (is_line(line, ll, "quit")) {
			ok = false;
		} else {
			ok = nconn_reply(c, "ERROR\r\n", 7);
		}
		if (!ok)
			break;
	}
	if (pos < len)
		memmove(c->in, c->in + pos, len - pos);
	c->in_len = len - pos;
	return ok;
}

static void nconn_close(int ep, struct nconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Write what we can; returns false on a broken connection. */
static bool nconn_flush(int ep, struct nconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return false;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	bool want = c->out_len > 0;
	if (want != c->want_out) {
		bool full = c->out_len - c->out_off >= NULL_OUT_HIGH;
		struct epoll_event ev = {
			.events = (full ? 0u : EPOLLIN) | (want ? EPOLLOUT : 0u),
			.data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
	return true;
}

static int run_null_uring(int lfd);

static int run_null_server(void)
{
	struct addrinfo *ai;
	if (resolve(&ai, true) < 0)
		return 2;
	int lfd = -1;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		lfd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
		             SOCK_CLOEXEC, a->ai_protocol);
		if (lfd < 0)
			continue;
		int one = 1;
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(lfd, a->ai_addr, a->ai_addrlen) == 0 &&
		    listen(lfd, 1024) == 0)
			break;
		close(lfd);
		lfd = -1;
	}
	freeaddrinfo(ai);
	if (lfd < 0) {
		fprintf(stderr, "hcbench: null server: cannot listen on %s:%s: %s\n",
		        O.host, O.port, strerror(errno));
		return 2;
	}
	if (O.null_uring) {
		int rc = run_null_uring(lfd);
		close(lfd);
		return rc;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	fprintf(stderr, "hcbench: null server on %s:%s for at most %.0fs\n",
	        O.host, O.port, O.duration);
	uint64_t deadline = now_ns() + (uint64_t)(O.duration * 1e9);
	struct epoll_event evs[256];
	while (!g_stop && now_ns() < deadline) {
		int n = epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct nconn *c = evs[i].data.ptr;
			if (!c) {
				for (int k = 0; k < 64; k++) {
					int fd = accept4(lfd, NULL, NULL,
					                 SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					           sizeof one);
					struct nconn *nc = calloc(1, sizeof *nc);
					if (!nc || !(nc->in = malloc(IN_CAP)) ||
					    !(nc->out = malloc(IN_CAP))) {
						close(fd);
						if (nc)
							free(nc->in);
						free(nc);
						continue;
					}
					nc->fd = fd;
					nc->out_cap = IN_CAP;
					struct epoll_event ev = { .events = EPOLLIN,
					                          .data.ptr = nc };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			bool ok = true;
			if (evs[i].events & EPOLLOUT)
				ok = nconn_flush(ep, c);
			if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				ssize_t r = read(c->fd, c->in + c->in_len,
				                 IN_CAP - c->in_len);
				if (r > 0) {
					c->in_len += (size_t)r;
					ok = nconn_parse(c) && nconn_flush(ep, c);
				} else if (r == 0 || (errno != EAGAIN &&
				                      errno != EINTR)) {
					ok = false;
				}
			}
			if (!ok)
				nconn_close(ep, c);
		}
	}
	/* Connections still open are reclaimed by exit. */
	close(ep);
	close(lfd);
	return 0;
}

/* --null-uring: the same do-nothing server on io_uring instead of epoll
 * (issue 21: is there a kernel path below the read/write one?). One ring,
 * one io_uring_enter per round that submits every send and recv and
 * reaps what completed; per connection one recv and at most one send in
 * flight. A reply made while a send is in flight goes into the second
 * buffer, which is sent when the first completes (their places swap). */
#define URING_ENTRIES 4096
#define URING_ACCEPT  ((uint64_t)1)   /* user_data of the multishot accept */

struct uconn {
	struct nconn c;                /* in, out: parse into c.out */
	char *sending;                 /* the buffer a send is in flight from */
	size_t send_off, send_len, send_cap;
	bool recv_on, send_on, dead;
};

static bool uring_sqe(struct io_uring *r, struct io_uring_sqe **sqe)
{
	*sqe = io_uring_get_sqe(r);
	if (*sqe == NULL) {
		io_uring_submit(r);
		*sqe = io_uring_get_sqe(r);
	}
	return *sqe != NULL;
}

static void uconn_recv(struct io_uring *r, struct uconn *u)
{
	struct io_uring_sqe *sqe;

	if (u->recv_on || u->dead || !uring_sqe(r, &sqe))
		return;
	io_uring_prep_recv(sqe, u->c.fd, u->c.in + u->c.in_len, IN_CAP - u->c.in_len, 0);
	io_uring_sqe_set_data(sqe, u);
	u->recv_on = true;
}

/* Send what is unsent: the in-flight buffer's rest, else swap in the
 * replies made since. */
static void uconn_send(struct io_uring *r, struct uconn *u)
{
	struct io_uring_sqe *sqe;

	if (u->send_on || u->dead)
		return;
	if (u->send_off == u->send_len) {
		if (u->c.out_len == 0)
			return;
		char *t = u->sending;
		size_t cap = u->send_cap;
		u->sending = u->c.out;
		u->send_cap = u->c.out_cap;
		u->send_off = 0;
		u->send_len = u->c.out_len;
		u->c.out = t;
		u->c.out_cap = cap;
		u->c.out_len = 0;
	}
	if (!uring_sqe(r, &sqe))
		return;
	io_uring_prep_send(sqe, u->c.fd, u->sending + u->send_off, u->send_len - u->send_off,
	                   MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, (char *)u + 1);   /* odd: a send */
	u->send_on = true;
}

static void uconn_free(struct uconn *u)
{
	close(u->c.fd);
	free(u->c.in);
	free(u->c.out);
	free(u->sending);
	free(u);
}

static void uring_accepted(struct io_uring *r, int fd)
{
	int one = 1;
	struct uconn *u = calloc(1, sizeof *u);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!u || !(u->c.in = malloc(IN_CAP)) || !(u->c.out = malloc(IN_CAP)) ||
	    !(u->sending = malloc(IN_CAP))) {
		close(fd);
		if (u) {
			free(u->c.in);
			free(u->c.out);
		}
		free(u);
		return;
	}
	u->c.fd = fd;
	u->c.out_cap = u->send_cap = IN_CAP;
	uconn_recv(r, u);
}

static void uring_accept(struct io_uring *r, int lfd)
{
	struct io_uring_sqe *sqe;

	if (uring_sqe(r, &sqe)) {
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, URING_ACCEPT);
	}
}

static void uring_done(struct io_uring *r, int lfd, struct io_uring_cqe *cqe)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);

	if (d == URING_ACCEPT) {
		if (cqe->res >= 0)
			uring_accepted(r, cqe->res);
		if (!(cqe->flags & IORING_CQE_F_MORE))
			uring_accept(r, lfd);
		return;
	}
	bool is_send = d & 1;
	struct uconn *u = (struct uconn *)(uintptr_t)(d & ~(uint64_t)1);
	if (is_send) {
		u->send_on = false;
		if (cqe->res > 0)
			u->send_off += (size_t)cqe->res;
		else if (cqe->res != -EAGAIN && cqe->res != -EINTR)
			u->dead = true;
	} else {
		u->recv_on = false;
		if (cqe->res > 0) {
			u->c.in_len += (size_t)cqe->res;
			if (!nconn_parse(&u->c))
				u->dead = true;
		} else if (cqe->res != -EAGAIN && cqe->res != -EINTR) {
			u->dead = true;
		}
	}
	if (u->dead) {
		if (!u->recv_on && !u->send_on)
			uconn_free(u);
		return;
	}
	uconn_send(r, u);
	uconn_recv(r, u);
}

static int run_null_uring(int lfd)
{
	struct io_uring r;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
	int rc = io_uring_queue_init(URING_ENTRIES, &r, IORING_SETUP_SINGLE_ISSUER |
	                             IORING_SETUP_DEFER_TASKRUN);

	if (rc < 0) {
		fprintf(stderr, "hcbench: null server: io_uring: %s\n", strerror(-rc));
		return 2;
	}
	uring_accept(&r, lfd);
	uint64_t deadline = now_ns() + (uint64_t)(O.duration * 1e9);
	while (!g_stop && now_ns() < deadline) {
		unsigned head, n = 0;
		rc = io_uring_submit_and_wait_timeout(&r, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
			fprintf(stderr, "hcbench: null server: io_uring: %s\n", strerror(-rc));
			break;
		}
		io_uring_for_each_cqe(&r, head, cqe) {
			uring_done(&r, lfd, cqe);
			n++;
		}
		io_uring_cq_advance(&r, n);
	}
	io_uring_queue_exit(&r);   /* connections still open are reclaimed by exit */
	return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: hcbench [options]                 benchmark a memcached-text server\n"
"       hcbench --load N [options]        store keys 0..N-1 as fast as possible\n"
"       hcbench --stats [-s HOST:PORT]    print `stats` as one key=value line\n"
"       hcbench --null-server PORT [-v N] [--null-keep MB]\n"
"                                 do-nothing server (END / STORED; with -v\n"
"                                 every get hits N bytes; with --null-keep\n"
"                                 stored data goes into a ring of MB MiB\n"
"                                 and hits are read from it; --null-uring:\n"
"                                 on io_uring instead of epoll)\n"
"options:\n"
"  -s, --server HOST:PORT   server (default 127.0.0.1:11211)\n"
"  -c, --conns N            connections in all (default 50)\n"
"  -t, --threads N          client threads, each with its own epoll (default 1)\n"
"  -p, --pipeline N         requests in flight per connection (default 1)\n"
"  -r, --get-ratio F        fraction of requests that are gets (default 0.9)\n"
"  -k, --keys N             key space size (default 100000)\n"
"  -K, --key-len N          key length, keys look like key:000000000123 (16)\n"
"  -v, --value N            value size in bytes (default 32)\n"
"  -d, --duration S         measured seconds (default 10); for --load, -n and\n"
"                           --null-server it is the time limit instead\n"
"  -w, --warmup S           seconds to run before measuring (default 0)\n"
"  -n, --requests N         send exactly N requests instead of running -d\n"
"  -P, --preload            set every key once before measuring\n"
"  -b, --batch              send -p requests, wait for all replies, repeat\n"
"                           (default: refill as each reply arrives)\n"
"  -l, --label TEXT         label copied into the RESULT line\n"
"      --seed N             random seed (default 1)\n"
"  -R, --rate N             open loop: N requests/s in all, sent on schedule\n"
"                           whatever the replies do (at most -p in flight per\n"
"                           connection); latency counts from the due time\n"
"Output: one 'RESULT key=value ...' line, then one '# ...' human line.\n"
"Exit status: 0 ok, 1 run finished but saw errors, 2 setup failed.\n");
}

static bool opt_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;
	if (!parse_u64(s, strlen(s), &v) || v < lo || v > hi) {
		fprintf(stderr, "hcbench: bad number '%s' (want %" PRIu64 "..%"
		        PRIu64 ")\n", s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool opt_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "hcbench: bad number '%s' (want %g..%g)\n", s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool opt_int(const char *s, int lo, int hi, int *out)
{
	uint64_t v;
	if (!opt_u64(s, (uint64_t)lo, (uint64_t)hi, &v))
		return false;
	*out = (int)v;
	return true;
}

static bool set_server(char *s)
{
	char *colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1]) {
		fprintf(stderr, "hcbench: --server wants HOST:PORT\n");
		return false;
	}
	*colon = '\0';
	O.host = s;
	if (O.host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		O.host++;
	}
	O.port = colon + 1;
	return true;
}

int main(int argc, char **argv)
{
	enum { OPT_LOAD = 256, OPT_NULL, OPT_NULL_KEEP, OPT_NULL_URING, OPT_STATS, OPT_SEED };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "get-ratio", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "key-len", required_argument, NULL, 'K' },
		{ "value", required_argument, NULL, 'v' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "requests", required_argument, NULL, 'n' },
		{ "preload", no_argument, NULL, 'P' },
		{ "batch", no_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "load", required_argument, NULL, OPT_LOAD },
		{ "null-server", required_argument, NULL, OPT_NULL },
		{ "null-keep", required_argument, NULL, OPT_NULL_KEEP },
		{ "null-uring", no_argument, NULL, OPT_NULL_URING },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "rate", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool duration_set = false, value_set = false;
	int keep_mb = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "s:c:t:p:r:k:K:v:d:w:n:Pbl:R:h",
	                         longopts, NULL)) != -1) {
		bool ok = true;
		switch (ch) {
		case 's': ok = set_server(optarg); break;
		case 'c': ok = opt_int(optarg, 1, MAX_CONNS, &O.conns); break;
		case 't': ok = opt_int(optarg, 1, MAX_THREADS, &O.threads); break;
		case 'p': ok = opt_int(optarg, 1, MAX_DEPTH, &O.depth); break;
		case 'r': ok = opt_double(optarg, 0, 1, &O.get_ratio); break;
		case 'k': ok = opt_u64(optarg, 1, UINT64_MAX / 2, &O.keys); break;
		case 'K': ok = opt_int(optarg, MIN_KEY_LEN, MAX_KEY_LEN, &O.key_len); break;
		case 'v': ok = opt_int(optarg, 0, (int)MAX_VALUE, &O.value_size);
			  value_set = true; break;
		case 'd': ok = opt_double(optarg, 0.01, 86400, &O.duration);
			  duration_set = true; break;
		case 'w': ok = opt_double(optarg, 0, 3600, &O.warmup); break;
		case 'n': ok = opt_u64(optarg, 1, UINT64_MAX / 2, &O.requests); break;
		case 'P': O.preload = true; break;
		case 'b': O.batch = true; break;
		case 'l': O.label = optarg; break;
		case 'R': ok = opt_double(optarg, 1, 1e9, &O.rate); break;
		case OPT_LOAD:
			O.mode = MODE_LOAD;
			ok = opt_u64(optarg, 1, UINT64_MAX / 2, &O.load_n);
			break;
		case OPT_NULL:
			O.mode = MODE_NULL;
			O.port = optarg;
			break;
		case OPT_NULL_URING:
			O.null_uring = true;
			break;
		case OPT_NULL_KEEP:
			ok = opt_int(optarg, NULL_KEEP_MIN_MB, NULL_KEEP_MAX_MB, &keep_mb);
			break;
		case OPT_STATS: O.mode = MODE_STATS; break;
		case OPT_SEED: ok = opt_u64(optarg, 0, UINT64_MAX, &O.seed); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok)
			return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Keys must fit the fixed width: 10^(key_len-4) distinct keys. */
	uint64_t need = O.mode == MODE_LOAD ? O.load_n : O.keys;
	uint64_t room = 1;
	for (int i = 0; i < O.key_len - 4 && room <= need; i++)
		room *= 10;
	if (O.mode != MODE_NULL && O.mode != MODE_STATS && need > room) {
		fprintf(stderr, "hcbench: %" PRIu64 " keys do not fit in %d-byte keys\n",
		        need, O.key_len);
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	switch (O.mode) {
	case MODE_STATS:
		return run_stats();
	case MODE_NULL:
		if (!duration_set)
			O.duration = 600;
		if (value_set) {
			null_value = malloc((size_t)O.value_size + 2);
			if (!null_value)
				return 2;
			memset(null_value, 'x', (size_t)O.value_size);
			memcpy(null_value + O.value_size, "\r\n", 2);
			null_hdr_len = (size_t)snprintf(null_hdr, sizeof null_hdr,
			                                " 0 %d\r\n", O.value_size);
		}
		if (keep_mb > 0) {   /* touched now: no page faults while measured */
			size_t v = (size_t)O.value_size;
			null_ring_len = (size_t)keep_mb << 20;
			null_ring = malloc(null_ring_len);
			if (!null_ring) {
				fprintf(stderr, "hcbench: no memory for a %d MiB ring\n", keep_mb);
				return 2;
			}
			memset(null_ring, 0, null_ring_len);
			null_slots = (null_ring_len - v) / (v ? v : 1) + 1;
			if (null_slots > O.keys)
				null_slots = O.keys;
		}
		return run_null_server();
	case MODE_LOAD:
		if (!duration_set)
			O.duration = 300;
		return run_client();
	case MODE_BENCH:
		break;
	}
	if (O.requests && !duration_set)
		O.duration = 300;
	if (O.preload) {
		/* A load run over the whole key space, then the real run. */
		struct opts saved = O;
		O.mode = MODE_LOAD;
		O.load_n = O.keys;
		O.label = "preload";
		O.duration = 300;
		int rc = run_client();
		O = saved;
		if (rc)
			return rc;
	}
	return run_client();
}
