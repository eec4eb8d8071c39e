/*
 * Shared harness of the C benchmark clients: options, threads, timing, getrusage, JSON result.
 * A client defines setup/call and calls bench_main. Each thread first makes `warmup` calls (not
 * measured: connections, lazy initialisation), then all threads start together; the process's
 * user+sys CPU time and the wall time are taken around the measured calls only.
 * Result: one JSON line on stdout (with the resident set size after the warm-up and at the end).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  const char *transport; /* rest | grpc */
  const char *scenario;  /* a b c d e */
  const char *target;    /* REST base URL or gRPC host:port */
  const char *data_dir;
  const char *api;       /* client-specific variant */
  int calls, warmup, threads;
  int connections;       /* gRPC connections of the client (clients that can set it); 0: its default */
} bench_opts;

/* Provided by the client. call returns 0 on success (answer checked). */
static int bench_setup(const bench_opts *o);
static int bench_call(int thread);

static bench_opts bench_o;
static pthread_barrier_t bench_b1, bench_b2;
static double *bench_lat;
static int bench_failures;

static double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double bench_cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec +
         (double)r.ru_stime.tv_usec * 1e-6;
}

/* The resident set size now (kB), from /proc/self/statm. */
static long bench_rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *bench_thread(void *arg) {
  int t = (int)(long)arg, per = bench_o.calls / bench_o.threads;
  for (int i = 0; i < bench_o.warmup; i++)
    if (bench_call(t)) __atomic_add_fetch(&bench_failures, 1, __ATOMIC_RELAXED);
  pthread_barrier_wait(&bench_b1);
  pthread_barrier_wait(&bench_b2);
  for (int i = 0; i < per; i++) {
    double s = bench_now();
    if (bench_call(t)) __atomic_add_fetch(&bench_failures, 1, __ATOMIC_RELAXED);
    bench_lat[t * per + i] = bench_now() - s;
  }
  return NULL;
}

static char *bench_read_file(const char *dir, const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (fread(p, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
  p[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return p;
}

static int bench_main(int argc, char **argv) {
  bench_opts *o = &bench_o;
  o->transport = "rest"; o->scenario = "a"; o->target = NULL; o->data_dir = "build/bench/data";
  o->api = "struct"; o->calls = 1000; o->warmup = 20; o->threads = 1; o->connections = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--transport")) o->transport = v;
    else if (!strcmp(k, "--scenario")) o->scenario = v;
    else if (!strcmp(k, "--target")) o->target = v;
    else if (!strcmp(k, "--data")) o->data_dir = v;
    else if (!strcmp(k, "--api")) o->api = v;
    else if (!strcmp(k, "--calls")) o->calls = atoi(v);
    else if (!strcmp(k, "--warmup")) o->warmup = atoi(v);
    else if (!strcmp(k, "--threads")) o->threads = atoi(v);
    else if (!strcmp(k, "--connections")) o->connections = atoi(v);
    else { fprintf(stderr, "unknown option %s\n", k); return 2; }
  }
  if (!o->target) { fprintf(stderr, "--target is required\n"); return 2; }
  if (o->threads < 1 || o->threads > 64 || o->calls < o->threads) { fprintf(stderr, "bad --threads/--calls\n"); return 2; }
  if (bench_setup(o)) { fprintf(stderr, "setup failed\n"); return 1; }
  int per = o->calls / o->threads, n = per * o->threads;
  bench_lat = calloc((size_t)n, sizeof *bench_lat);
  pthread_barrier_init(&bench_b1, NULL, (unsigned)o->threads + 1);
  pthread_barrier_init(&bench_b2, NULL, (unsigned)o->threads + 1);
  pthread_t *th = calloc((size_t)o->threads, sizeof *th);
  for (int t = 0; t < o->threads; t++) pthread_create(&th[t], NULL, bench_thread, (void *)(long)t);
  pthread_barrier_wait(&bench_b1);
  long rss0 = bench_rss_kb();
  double c0 = bench_cpu(), w0 = bench_now();
  pthread_barrier_wait(&bench_b2);
  for (int t = 0; t < o->threads; t++) pthread_join(th[t], NULL);
  double w1 = bench_now(), c1 = bench_cpu();
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  printf("{\"calls\": %d, \"failures\": %d, \"cpu_s\": %.6f, \"wall_s\": %.6f, \"maxrss_kb\": %ld, "
         "\"rss_after_warmup_kb\": %ld, \"rss_end_kb\": %ld, \"lat_us\": [", n, bench_failures, c1 - c0, w1 - w0, r.ru_maxrss,
         rss0, bench_rss_kb());
  for (int i = 0; i < n; i++) printf(i ? ",%.1f" : "%.1f", bench_lat[i] * 1e6);
  printf("]}\n");
  if (bench_failures) fprintf(stderr, "%d failed calls\n", bench_failures);
  return bench_failures ? 1 : 0;
}
#endif
