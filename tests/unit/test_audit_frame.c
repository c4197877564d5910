/* Unit tests for the audit tool's UDP frame building and reassembly. */
#include <stdlib.h>

#include "audit/frame.h"
#include "unit.h"

static size_t dgram(uint8_t *buf, uint16_t id, uint16_t seq, uint16_t total,
                    const char *text)
{
    size_t n = strlen(text);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(total >> 8);
    buf[5] = (uint8_t)total;
    buf[6] = buf[7] = 0;
    memcpy(buf + 8, text, n);
    return n + 8;
}

static void test_build_parse(void)
{
    uint8_t buf[64];
    struct frame_hdr h;
    size_t n = frame_build(buf, sizeof(buf), 0x1234, "stats\r\n", 7);

    CHECK_EQ_INT(n, 15);
    CHECK(frame_parse(buf, n, &h));
    CHECK_EQ_INT(h.reqid, 0x1234);
    CHECK_EQ_INT(h.seq, 0);
    CHECK_EQ_INT(h.total, 1);   /* a well-formed request says total = 1 */
    CHECK(!frame_parse(buf, 7, &h));
    CHECK_EQ_INT(frame_build(buf, 10, 1, "stats\r\n", 7), 0);
}

static void test_reassembly_out_of_order(void)
{
    struct reasm *r = calloc(1, sizeof(*r));
    uint8_t d[64];
    char text[64];

    reasm_reset(r, 7);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 8, 0, 2, "x")), REASM_FOREIGN);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 7, 1, 2, "world")), REASM_NEW);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 7, 1, 2, "world")), REASM_DUP);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 7, 5, 2, "bad")), REASM_BAD);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 7, 0, 2, "hello ")), REASM_COMPLETE);
    CHECK_EQ_INT(r->got, 2);
    size_t n = reasm_text(r, text, sizeof(text));
    CHECK_MEM(text, n, "hello world");
    free(r);
}

static void test_reassembly_rejects_total_zero(void)
{
    struct reasm *r = calloc(1, sizeof(*r));
    uint8_t d[64];

    reasm_reset(r, 1);
    CHECK_EQ_INT(reasm_add(r, d, dgram(d, 1, 0, 0, "x")), REASM_BAD);
    CHECK_EQ_INT(reasm_add(r, d, 4), REASM_BAD);
    free(r);
}

int main(void)
{
    RUN(test_build_parse);
    RUN(test_reassembly_out_of_order);
    RUN(test_reassembly_rejects_total_zero);
    return unit_report("audit_frame");
}
