/*
 * The C side of the Swift-vs-C Aeron baseline: the same throughput loop and ping-pong as the Swift module AeronPerf,
 * written directly against the Aeron C client that Tools/aeron/install.sh builds, so that the ratio of the two shows
 * what the Swift wrapper costs.
 *
 *   aeron_baseline <aeron-dir> throughput <length> <messages> <runs>
 *   aeron_baseline <aeron-dir> pingpong <length> <messages> <warmup>
 *
 * Output is one line of key=value pairs per run, parsed by aeron-compare.
 */
#define _GNU_SOURCE
#include <aeronc.h>

#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THROUGHPUT_STREAM 1910
#define PING_STREAM 1912
#define PONG_STREAM 1913

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *what)
{
    fprintf(stderr, "aeron_baseline: %s: %s (code %d)\n", what, aeron_errmsg(), aeron_errcode());
    exit(1);
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static aeron_exclusive_publication_t *add_publication(aeron_t *client, const char *channel, int32_t stream)
{
    aeron_async_add_exclusive_publication_t *async = NULL;
    aeron_exclusive_publication_t *publication = NULL;
    if (aeron_async_add_exclusive_publication(&async, client, channel, stream) < 0) fail("add publication");
    int rc;
    while (0 == (rc = aeron_async_add_exclusive_publication_poll(&publication, async))) pause_ms(1);
    if (rc < 0) fail("poll publication");
    return publication;
}

static aeron_subscription_t *add_subscription(aeron_t *client, const char *channel, int32_t stream)
{
    aeron_async_add_subscription_t *async = NULL;
    aeron_subscription_t *subscription = NULL;
    if (aeron_async_add_subscription(&async, client, channel, stream, NULL, NULL, NULL, NULL) < 0)
    {
        fail("add subscription");
    }
    int rc;
    while (0 == (rc = aeron_async_add_subscription_poll(&subscription, async))) pause_ms(1);
    if (rc < 0) fail("poll subscription");
    return subscription;
}

static void await_connected(aeron_exclusive_publication_t *publication, aeron_subscription_t *subscription)
{
    int64_t deadline = now_ns() + 10000000000LL;
    while (!(aeron_exclusive_publication_is_connected(publication) && aeron_subscription_is_connected(subscription)))
    {
        if (now_ns() > deadline)
        {
            fprintf(stderr, "aeron_baseline: streams did not connect within 10 s\n");
            exit(1);
        }
        pause_ms(1);
    }
}

static void ignore_fragment(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    (void)clientd; (void)buffer; (void)length; (void)header;
}

static void throughput(aeron_t *client, size_t length, long messages, int runs)
{
    aeron_subscription_t *subscription = add_subscription(client, "aeron:ipc", THROUGHPUT_STREAM);
    aeron_exclusive_publication_t *publication = add_publication(client, "aeron:ipc", THROUGHPUT_STREAM);
    await_connected(publication, subscription);
    uint8_t *message = malloc(length > 0 ? length : 1);
    memset(message, 0x5A, length);

    for (int run = 0; run < runs; run++)
    {
        long sent = 0, received = 0, back_pressured = 0;
        int64_t start = now_ns();
        while (received < messages)
        {
            while (sent < messages)
            {
                int64_t result = aeron_exclusive_publication_offer(publication, message, length, NULL, NULL);
                if (result >= 0)
                {
                    sent++;
                }
                else if (result == AERON_PUBLICATION_BACK_PRESSURED || result == AERON_PUBLICATION_ADMIN_ACTION ||
                    result == AERON_PUBLICATION_NOT_CONNECTED)
                {
                    back_pressured++;
                    break;
                }
                else
                {
                    fprintf(stderr, "aeron_baseline: offer failed: %" PRId64 "\n", result);
                    exit(1);
                }
            }
            received += aeron_subscription_poll(subscription, ignore_fragment, NULL, 256);
        }
        int64_t elapsed = now_ns() - start;
        printf("throughput length=%zu messages=%ld elapsed_ns=%" PRId64 " back_pressured=%ld\n",
            length, messages, elapsed, back_pressured);
        fflush(stdout);
    }
    free(message);
    aeron_exclusive_publication_close(publication, NULL, NULL);
    aeron_subscription_close(subscription, NULL, NULL);
}

typedef struct pong_state_stct
{
    aeron_subscription_t *subscription;
    aeron_exclusive_publication_t *publication;
    atomic_bool running;
}
pong_state_t;

static void echo_fragment(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    (void)header;
    pong_state_t *state = clientd;
    int64_t result;
    do
    {
        result = aeron_exclusive_publication_offer(state->publication, buffer, length, NULL, NULL);
    }
    while (result == AERON_PUBLICATION_BACK_PRESSURED || result == AERON_PUBLICATION_ADMIN_ACTION ||
        result == AERON_PUBLICATION_NOT_CONNECTED);
}

static void *pong_main(void *arg)
{
    pong_state_t *state = arg;
    while (atomic_load_explicit(&state->running, memory_order_relaxed))
    {
        aeron_subscription_poll(state->subscription, echo_fragment, state, 16);
    }
    return NULL;
}

static void store_echo(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    (void)header; (void)length;
    memcpy(clientd, buffer, sizeof(int64_t));
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t percentile(const int64_t *sorted, long count, double p)
{
    long rank = (long)((p / 100.0) * (double)count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    return sorted[rank - 1];
}

static void pingpong(aeron_t *client, size_t length, long messages, long warmup)
{
    pong_state_t pong;
    pong.subscription = add_subscription(client, "aeron:ipc", PING_STREAM);
    pong.publication = add_publication(client, "aeron:ipc", PONG_STREAM);
    atomic_init(&pong.running, true);
    aeron_exclusive_publication_t *ping = add_publication(client, "aeron:ipc", PING_STREAM);
    aeron_subscription_t *pongs = add_subscription(client, "aeron:ipc", PONG_STREAM);
    pthread_t thread;
    pthread_create(&thread, NULL, pong_main, &pong);
    await_connected(ping, pongs);

    uint8_t *message = calloc(1, length);
    int64_t *samples = malloc(sizeof(int64_t) * (size_t)messages);
    for (long i = 0; i < warmup + messages; i++)
    {
        int64_t sent = now_ns();
        memcpy(message, &sent, sizeof(sent));
        while (aeron_exclusive_publication_offer(ping, message, length, NULL, NULL) < 0) {}
        int64_t echoed = 0;
        while (0 == aeron_subscription_poll(pongs, store_echo, &echoed, 1)) {}
        int64_t rtt = now_ns() - echoed;
        if (i >= warmup) samples[i - warmup] = rtt;
    }
    atomic_store(&pong.running, false);
    pthread_join(thread, NULL);
    qsort(samples, (size_t)messages, sizeof(int64_t), compare_int64);
    printf("pingpong length=%zu messages=%ld p50_ns=%" PRId64 " p90_ns=%" PRId64 " p99_ns=%" PRId64
        " p999_ns=%" PRId64 " max_ns=%" PRId64 "\n",
        length, messages, percentile(samples, messages, 50), percentile(samples, messages, 90),
        percentile(samples, messages, 99), percentile(samples, messages, 99.9), samples[messages - 1]);
    free(samples);
    free(message);
}

int main(int argc, char **argv)
{
    if (argc < 6)
    {
        fprintf(stderr, "usage: %s <aeron-dir> throughput <length> <messages> <runs>\n"
            "       %s <aeron-dir> pingpong <length> <messages> <warmup>\n", argv[0], argv[0]);
        return 2;
    }
    const char *cpu = getenv("COMPARE_CPU");
    if (NULL != cpu)
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(cpu), &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    aeron_context_t *context = NULL;
    aeron_t *client = NULL;
    if (aeron_context_init(&context) < 0) fail("aeron_context_init");
    if (aeron_context_set_dir(context, argv[1]) < 0) fail("aeron_context_set_dir");
    if (aeron_init(&client, context) < 0) fail("aeron_init");
    if (aeron_start(client) < 0) fail("aeron_start");

    size_t length = (size_t)strtoul(argv[3], NULL, 10);
    long messages = strtol(argv[4], NULL, 10);
    long extra = strtol(argv[5], NULL, 10);
    if (0 == strcmp(argv[2], "throughput"))
    {
        throughput(client, length, messages, (int)extra);
    }
    else if (0 == strcmp(argv[2], "pingpong") && length >= sizeof(int64_t))
    {
        pingpong(client, length, messages, extra);
    }
    else
    {
        fprintf(stderr, "aeron_baseline: unknown mode '%s' or length below 8\n", argv[2]);
        return 2;
    }
    aeron_close(client);
    aeron_context_close(context);
    return 0;
}
