/* A deterministic mutation runner for libFuzzer-style targets, so every
 * build (gcc, no sanitizer runtime) runs each fuzz target briefly in the
 * 'fuzz' suite:
 *
 *   fuzz-<target>-replay CORPUS_DIR [SECONDS]
 *
 * Every file of CORPUS_DIR is run as is, then mutated copies (bit flips,
 * interesting bytes and 64-bit integers, digit edits for JSON headers,
 * truncation, insertion, deletion, splicing) until SECONDS (default 8, or
 * $RAYLIGHT_FUZZ_SECONDS) pass. The mutation sequence depends only on
 * $RAYLIGHT_FUZZ_SEED (default 1), so a failure reproduces. A crash writes
 * the input to $RAYLIGHT_BUILD_DIR (or /tmp) as fuzz-crash-<pid>.bin and
 * says so; a target that returns non-zero fails the run. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (1u << 20)
#define MAX_SEEDS 256

typedef struct {
  uint8_t *data;
  size_t   size;
} Input;

static uint64_t rng;
static const uint8_t *current;      /* the input being run, for the crash handler */
static size_t current_size;
static char crash_path[512];

static uint64_t
next_random (void)
{
  uint64_t x = (rng += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static size_t
below (size_t n)
{
  return n ? (size_t) (next_random () % n) : 0;
}

/* Async-signal-safe: only open/write/close. */
static void
on_crash (int sig)
{
  int fd = open (crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    ssize_t ignored = write (fd, current, current_size);
    (void) ignored;
    close (fd);
  }
  static const char msg[] = "fuzz-replay: crashed; input saved as ";
  ssize_t ignored = write (STDOUT_FILENO, msg, sizeof msg - 1);
  ignored = write (STDOUT_FILENO, crash_path, strlen (crash_path));
  ignored = write (STDOUT_FILENO, "\n", 1);
  (void) ignored;
  signal (sig, SIG_DFL);
  raise (sig);
}

static int
load_corpus (const char *dir, Input *seeds)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *entry;
  while ((entry = readdir (d)) != NULL && n < MAX_SEEDS) {
    if (entry->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
    FILE *f = fopen (path, "rb");
    if (f == NULL)
      continue;
    uint8_t *buf = malloc (FUZZ_MAX_INPUT);
    size_t size = fread (buf, 1, FUZZ_MAX_INPUT, f);
    fclose (f);
    seeds[n++] = (Input) { buf, size };
  }
  closedir (d);
  return n;
}

static const uint64_t interesting[] = {
  0, 1, 2, 7, 8, 31, 32, 127, 128, 255, 256, 4095, 4096, 65535, 65536,
  0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull,
  0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
  0xfffffffffffffff8ull,
};

static void
mutate (uint8_t *buf, size_t *size, const Input *seeds, int n_seeds)
{
  size_t n = *size;
  switch (below (9)) {
  case 0:   /* flip a bit */
    if (n) buf[below (n)] ^= (uint8_t) (1u << below (8));
    break;
  case 1:   /* an interesting byte */
    if (n) buf[below (n)] = (uint8_t) interesting[below (sizeof interesting / sizeof interesting[0])];
    break;
  case 2: { /* an interesting little-endian integer of 1..8 bytes */
    size_t width = 1 + below (8);
    if (n < width) break;
    uint64_t v = interesting[below (sizeof interesting / sizeof interesting[0])];
    size_t at = below (n - width + 1);
    for (size_t i = 0; i < width; i++)
      buf[at + i] = (uint8_t) (v >> (8 * i));
    break;
  }
  case 3: { /* edit a decimal digit (JSON shapes and offsets) */
    for (int tries = 0; tries < 16 && n; tries++) {
      size_t at = below (n);
      if (buf[at] >= '0' && buf[at] <= '9') {
        buf[at] = (uint8_t) ('0' + below (10));
        break;
      }
    }
    break;
  }
  case 4:   /* truncate */
    *size = below (n + 1);
    break;
  case 5: { /* insert random bytes */
    size_t count = 1 + below (8);
    if (n + count > FUZZ_MAX_INPUT) break;
    size_t at = below (n + 1);
    memmove (buf + at + count, buf + at, n - at);
    for (size_t i = 0; i < count; i++)
      buf[at + i] = (uint8_t) next_random ();
    *size = n + count;
    break;
  }
  case 6: { /* delete a run */
    if (n == 0) break;
    size_t at = below (n), count = 1 + below (n - at < 16 ? n - at : 16);
    memmove (buf + at, buf + at + count, n - at - count);
    *size = n - count;
    break;
  }
  case 7: { /* copy a run within the input */
    if (n < 2) break;
    size_t from = below (n), to = below (n), count = 1 + below (32);
    if (from + count > n) count = n - from;
    if (to + count > n) count = n - to;
    memmove (buf + to, buf + from, count);
    break;
  }
  default: { /* splice the tail of another seed */
    const Input *other = &seeds[below ((size_t) n_seeds)];
    size_t at = below (n + 1), from = below (other->size + 1);
    size_t count = other->size - from;
    if (at + count > FUZZ_MAX_INPUT) count = FUZZ_MAX_INPUT - at;
    memcpy (buf + at, other->data + from, count);
    *size = at + count;
    break;
  }
  }
}

static int
run_one (const uint8_t *data, size_t size)
{
  /* A private copy, exactly `size` bytes, so an over-read is caught by
   * valgrind/ASan runs instead of landing in the spare buffer. */
  uint8_t *exact = malloc (size ? size : 1);
  memcpy (exact, data, size);
  current = exact;
  current_size = size;
  int r = LLVMFuzzerTestOneInput (exact, size);
  free (exact);
  return r;
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: %s CORPUS_DIR [SECONDS]\n", argv[0]);
    return 2;
  }
  const char *env_seconds = getenv ("RAYLIGHT_FUZZ_SECONDS");
  double seconds = argc > 2 ? atof (argv[2]) : env_seconds ? atof (env_seconds) : 8.0;
  const char *env_seed = getenv ("RAYLIGHT_FUZZ_SEED");
  rng = env_seed ? strtoull (env_seed, NULL, 0) : 1;
  const char *out_dir = getenv ("RAYLIGHT_BUILD_DIR") ? getenv ("RAYLIGHT_BUILD_DIR") : "/tmp";
  snprintf (crash_path, sizeof crash_path, "%s/fuzz-crash-%d.bin", out_dir, (int) getpid ());
  signal (SIGSEGV, on_crash);
  signal (SIGBUS, on_crash);
  signal (SIGABRT, on_crash);
  signal (SIGFPE, on_crash);

  Input seeds[MAX_SEEDS];
  int n_seeds = load_corpus (argv[1], seeds);
  if (n_seeds <= 0) {
    printf ("1..0 # SKIP\nfuzz-replay: no corpus in %s\n", argv[1]);
    return 1;
  }
  printf ("# seed %llu (RAYLIGHT_FUZZ_SEED), %d corpus files, %.1f s\n",
          (unsigned long long) rng, n_seeds, seconds);
  for (int i = 0; i < n_seeds; i++)
    if (run_one (seeds[i].data, seeds[i].size) != 0) {
      printf ("not ok 1 - corpus file %d returned non-zero\n1..1\n", i);
      return 1;
    }

  uint8_t *buf = malloc (FUZZ_MAX_INPUT);
  struct timespec start, now;
  clock_gettime (CLOCK_MONOTONIC, &start);
  uint64_t iterations = 0;
  for (;; iterations++) {
    if ((iterations & 63) == 0) {
      clock_gettime (CLOCK_MONOTONIC, &now);
      if ((double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) * 1e-9 >= seconds)
        break;
    }
    const Input *seed = &seeds[below ((size_t) n_seeds)];
    size_t size = seed->size;
    memcpy (buf, seed->data, size);
    size_t rounds = 1 + below (4);
    for (size_t r = 0; r < rounds; r++)
      mutate (buf, &size, seeds, n_seeds);
    if (run_one (buf, size) != 0) {
      printf ("not ok 1 - iteration %llu returned non-zero\n1..1\n", (unsigned long long) iterations);
      return 1;
    }
  }
  printf ("ok 1 - %llu mutated inputs, no crash\n1..1\n", (unsigned long long) iterations);
  free (buf);
  for (int i = 0; i < n_seeds; i++)
    free (seeds[i].data);
  return 0;
}
