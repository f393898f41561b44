/* RlHistory: creation, the job lifecycle, queries, migrations, refusal of
 * damaged/foreign/newer/unwritable files (left byte-for-byte untouched),
 * and recovery after kill -9. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/run/history.h"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("raylight-history-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "history.sqlite3", NULL);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_chmod (path, 0700);
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_remove (path);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* ---- direct SQLite access, to check what history wrote ----------------- */

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  return db;
}

static void
raw_exec (sqlite3    *db,
          const char *sql)
{
  char *message = NULL;
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

static char *
raw_text (sqlite3    *db,
          const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  char *text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return text;
}

static gint64
raw_int (sqlite3    *db,
         const char *sql)
{
  g_autofree char *text = raw_text (db, sql);
  return g_ascii_strtoll (text, NULL, 10);
}

static RlHistory *
open_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  RlHistory *history = rl_history_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (history);
  return history;
}

static char *
random_text (const char *prefix)
{
  return g_strdup_printf ("%s-%08x%08x", prefix, g_test_rand_int (), g_test_rand_int ());
}

static GBytes *
read_bytes (const char *path)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &data, &length, &error));
  return g_bytes_new_take (g_steal_pointer (&data), length);
}

/* ---- creation ---------------------------------------------------------- */

static void
test_open_new (Fixture       *f,
               gconstpointer  data)
{
  /* The folder is created too. */
  g_autofree char *nested = g_build_filename (f->dir, "a", "b", "history.sqlite3", NULL);
  g_autoptr (RlHistory) history = open_ok (nested);
  g_assert_cmpstr (rl_history_get_path (history), ==, nested);
  g_assert_cmpuint (rl_history_get_n_recovered (history), ==, 0);
  g_assert_true (g_file_test (nested, G_FILE_TEST_IS_REGULAR));

  sqlite3 *db = raw_open (nested);
  g_autofree char *mode = raw_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 3);
  g_assert_cmpint (raw_int (db, "PRAGMA application_id"), ==, 0x524c4849);
  sqlite3_close (db);
  g_assert_cmpint (rl_history_count (history, NULL, NULL), ==, 0);

  /* Reopening an existing history (with a finished job) reads it and
   * writes nothing. */
  gint64 id = rl_history_add_job (history, NULL, NULL);
  g_assert_true (rl_history_mark_finished (history, id, RL_JOB_SUCCEEDED, NULL, NULL));
  g_clear_pointer (&history, rl_history_close);
  g_autoptr (GBytes) before = read_bytes (nested);
  history = open_ok (nested);
  g_assert_cmpint (rl_history_count (history, NULL, NULL), ==, 1);
  g_clear_pointer (&history, rl_history_close);
  g_autoptr (GBytes) after = read_bytes (nested);
  g_assert_true (g_bytes_equal (before, after));
}

static void
test_default_path (Fixture       *f,
                   gconstpointer  data)
{
  /* main() pointed XDG_DATA_HOME at a fresh folder. */
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "raylight",
                                                "history.sqlite3", NULL);
  g_autofree char *path = rl_history_default_path ();
  g_assert_cmpstr (path, ==, expected);
  g_autoptr (RlHistory) history = open_ok (NULL);
  g_assert_cmpstr (rl_history_get_path (history), ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
}

/* ---- jobs -------------------------------------------------------------- */

static void
test_job_lifecycle (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  g_autofree char *workflow = random_text ("{\"workflow\":\"w");
  g_autofree char *prompt = random_text ("{\"prompt\":\"p");
  g_autofree char *params = g_strdup_printf ("{\"seed\": %u}", g_test_rand_int ());
  RlHistoryJobInfo info = {
    .workflow_json = workflow, .prompt_json = prompt, .parameters_json = params,
    .device_config_json = "{\"ulysses\": 2}",
  };
  g_autoptr (GError) error = NULL;
  gint64 before = g_get_real_time ();
  gint64 id = rl_history_add_job (history, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);

  g_autoptr (RlHistoryJob) queued = rl_history_get_job (history, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (queued->status, ==, RL_JOB_QUEUED);
  g_assert_cmpint (queued->created_at, >=, before);
  g_assert_cmpint (queued->started_at, ==, 0);
  g_assert_cmpstr (queued->workflow_json, ==, workflow);
  g_assert_cmpstr (queued->prompt_json, ==, prompt);
  g_assert_cmpstr (queued->parameters_json, ==, params);
  g_assert_cmpstr (queued->device_config_json, ==, "{\"ulysses\": 2}");
  g_assert_null (queued->error_text);

  g_assert_true (rl_history_mark_started (history, id, &error));
  g_usleep (2000);
  guint width = g_test_rand_int_range (16, 4096), height = g_test_rand_int_range (16, 4096);
  guint frames = g_test_rand_int_range (1, 200);
  g_assert_true (rl_history_add_output (history, id, "/out/a.mp4", NULL, width, height, frames, &error));
  g_assert_true (rl_history_add_output (history, id, "/out/b.PNG", NULL, 0, 0, 0, &error));
  g_assert_true (rl_history_add_output (history, id, "/out/c.bin", "latent", 0, 0, 0, &error));
  g_assert_true (rl_history_mark_finished (history, id, RL_JOB_SUCCEEDED, NULL, &error));
  g_assert_no_error (error);

  g_autoptr (RlHistoryJob) done = rl_history_get_job (history, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (done->status, ==, RL_JOB_SUCCEEDED);
  g_assert_cmpint (done->started_at, >=, done->created_at);
  g_assert_cmpint (done->finished_at, >, done->started_at);
  g_assert_cmpfloat (done->duration_s, >=, 0.002);
  g_assert_cmpuint (done->outputs->len, ==, 3);
  RlHistoryOutput *video = g_ptr_array_index (done->outputs, 0);
  g_assert_cmpstr (video->path, ==, "/out/a.mp4");
  g_assert_cmpstr (video->kind, ==, "video");
  g_assert_cmpuint (video->width, ==, width);
  g_assert_cmpuint (video->height, ==, height);
  g_assert_cmpuint (video->frames, ==, frames);
  RlHistoryOutput *image = g_ptr_array_index (done->outputs, 1);
  g_assert_cmpstr (image->kind, ==, "image");
  g_assert_cmpuint (image->width, ==, 0);
  g_assert_cmpstr (((RlHistoryOutput *) g_ptr_array_index (done->outputs, 2))->kind, ==, "latent");

  g_assert_true (rl_history_delete_job (history, id, &error));
  g_assert_no_error (error);
  g_assert_null (rl_history_get_job (history, id, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);
  sqlite3 *db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM outputs"), ==, 0);
  sqlite3_close (db);
}

/* A job queued before a Parallel Settings node regrouped the pool gets the
 * configuration it ran in; other jobs keep theirs. */
static void
test_device_config_replaced (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  RlHistoryJobInfo info = { .device_config_json = "{\"workers\":1,\"parallel\":\"none\"}" };
  g_autoptr (GError) error = NULL;
  gint64 id = rl_history_add_job (history, &info, &error);
  gint64 other = rl_history_add_job (history, &info, &error);
  g_assert_no_error (error);

  g_assert_true (rl_history_set_device_config (history, id, "{\"workers\":2,\"cfg\":2}", &error));
  g_assert_no_error (error);
  g_autoptr (RlHistoryJob) job = rl_history_get_job (history, id, &error);
  g_autoptr (RlHistoryJob) untouched = rl_history_get_job (history, other, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (job->device_config_json, ==, "{\"workers\":2,\"cfg\":2}");
  g_assert_cmpstr (untouched->device_config_json, ==, info.device_config_json);
  g_assert_false (rl_history_set_device_config (history, other + 1000, "{}", &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
}

static void
test_unknown_job (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  gint64 missing = g_test_rand_int_range (1000, 100000);
  g_autoptr (GError) error = NULL;
  g_assert_false (rl_history_mark_started (history, missing, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_assert_nonnull (strstr (error->message, f->path));
  g_clear_error (&error);
  g_assert_false (rl_history_mark_finished (history, missing, RL_JOB_FAILED, "x", &error));
  g_clear_error (&error);
  g_assert_false (rl_history_add_output (history, missing, "/x.png", NULL, 0, 0, 0, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);
  g_assert_false (rl_history_delete_job (history, missing, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
}

static void
test_list_filter_search (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  static const RlJobStatus finals[] = { RL_JOB_SUCCEEDED, RL_JOB_FAILED, RL_JOB_INTERRUPTED };
  guint n = g_test_rand_int_range (12, 30);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint n_failed = 0;
  g_autoptr (GError) error = NULL;
  for (guint i = 0; i < n; i++)
    {
      /* Job 5 has LIKE's wildcards in its text, to search for them literally. */
      g_autofree char *params = i == 5 ? g_strdup ("{\"prompt\": \"100%_sure\"}")
                                       : g_strdup_printf ("{\"index\": %u}", i);
      RlHistoryJobInfo info = { .parameters_json = params };
      gint64 id = rl_history_add_job (history, &info, &error);
      g_assert_no_error (error);
      g_array_append_val (ids, id);
      RlJobStatus status = finals[g_test_rand_int_range (0, G_N_ELEMENTS (finals))];
      n_failed += status == RL_JOB_FAILED;
      g_assert_true (rl_history_mark_started (history, id, &error));
      g_assert_true (rl_history_mark_finished (history, id, status,
                                               status == RL_JOB_FAILED ? "boom" : NULL, &error));
    }

  g_autoptr (GPtrArray) all = rl_history_list (history, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, n);
  for (guint i = 0; i < n; i++)   /* newest first */
    g_assert_cmpint (((RlHistoryJob *) g_ptr_array_index (all, i))->id, ==,
                     g_array_index (ids, gint64, n - 1 - i));

  RlHistoryQuery page = { .limit = 5, .offset = 3 };
  g_autoptr (GPtrArray) paged = rl_history_list (history, &page, &error);
  g_assert_cmpuint (paged->len, ==, 5);
  g_assert_cmpint (((RlHistoryJob *) g_ptr_array_index (paged, 0))->id, ==,
                   g_array_index (ids, gint64, n - 4));
  g_assert_cmpint (rl_history_count (history, &page, &error), ==, n);

  RlHistoryQuery failed = { .filter_status = TRUE, .status = RL_JOB_FAILED };
  g_autoptr (GPtrArray) failed_jobs = rl_history_list (history, &failed, &error);
  g_assert_cmpuint (failed_jobs->len, ==, n_failed);
  g_assert_cmpint (rl_history_count (history, &failed, &error), ==, n_failed);
  for (guint i = 0; i < failed_jobs->len; i++)
    g_assert_cmpstr (((RlHistoryJob *) g_ptr_array_index (failed_jobs, i))->error_text, ==, "boom");

  RlHistoryQuery wild = { .search = "0%_s" };
  g_autoptr (GPtrArray) found = rl_history_list (history, &wild, &error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpint (((RlHistoryJob *) g_ptr_array_index (found, 0))->id, ==, g_array_index (ids, gint64, 5));
  /* '%' is literal: "1%x" matches nothing although "1" is common. */
  RlHistoryQuery literal = { .search = "1%x" };
  g_assert_cmpint (rl_history_count (history, &literal, &error), ==, 0);
  g_assert_no_error (error);
}

/* ---- migrations and refusals -------------------------------------------- */

static const char v1_schema[] =
  "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL,"
  " started_at INTEGER, finished_at INTEGER, status TEXT NOT NULL, workflow_json TEXT,"
  " prompt_json TEXT, parameters_json TEXT, error_text TEXT);"
  "CREATE TABLE outputs (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs(id)"
  " ON DELETE CASCADE, path TEXT NOT NULL, kind TEXT NOT NULL);"
  "PRAGMA user_version = 1;";

static void
test_migrate_from_v1 (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *prompt = random_text ("prompt");
  sqlite3 *db = raw_open (f->path);
  raw_exec (db, v1_schema);
  g_autofree char *insert = g_strdup_printf (
      "INSERT INTO jobs (id, created_at, started_at, finished_at, status, prompt_json)"
      " VALUES (3, 1000, 2000, 5000, 'succeeded', '%s');"
      "INSERT INTO jobs (id, created_at, started_at, status) VALUES (4, 6000, 7000, 'running');"
      "INSERT INTO outputs (job_id, path, kind) VALUES (3, '/old/video.mp4', 'video');", prompt);
  raw_exec (db, insert);
  sqlite3_close (db);

  g_autoptr (RlHistory) history = open_ok (f->path);
  /* The v1 row had no owner process: it is recovered as interrupted. */
  g_assert_cmpuint (rl_history_get_n_recovered (history), ==, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (RlHistoryJob) old = rl_history_get_job (history, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (old->status, ==, RL_JOB_SUCCEEDED);
  g_assert_cmpstr (old->prompt_json, ==, prompt);
  g_assert_null (old->device_config_json);
  g_assert_cmpuint (old->outputs->len, ==, 1);
  g_assert_cmpuint (((RlHistoryOutput *) g_ptr_array_index (old->outputs, 0))->frames, ==, 0);
  g_autoptr (RlHistoryJob) running = rl_history_get_job (history, 4, &error);
  g_assert_cmpint (running->status, ==, RL_JOB_INTERRUPTED);
  g_assert_nonnull (strstr (running->error_text, "killed"));

  /* New rows use the new columns. */
  RlHistoryJobInfo info = { .device_config_json = "{\"fsdp\": true}" };
  gint64 id = rl_history_add_job (history, &info, &error);
  g_assert_cmpint (id, ==, 5);
  g_clear_pointer (&history, rl_history_close);

  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 3);
  g_autofree char *check = raw_text (db, "PRAGMA integrity_check");
  g_assert_cmpstr (check, ==, "ok");
  sqlite3_close (db);
}

/* Opening must fail with a history error naming the file and @hint, and
 * leave the file byte-for-byte as it was. */
static void
assert_refused_untouched (const char *path,
                          const char *hint)
{
  g_autoptr (GBytes) before = read_bytes (path);
  g_autoptr (GError) error = NULL;
  RlHistory *history = rl_history_open (path, &error);
  g_assert_null (history);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, hint));
  g_assert_nonnull (strstr (error->message, "untouched"));
  g_autoptr (GBytes) after = read_bytes (path);
  g_assert_true (g_bytes_equal (before, after));
}

static void
test_refuse_newer (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  g_clear_pointer (&history, rl_history_close);
  sqlite3 *db = raw_open (f->path);
  g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d",
                                           g_test_rand_int_range (4, 1000));
  raw_exec (db, bump);
  raw_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close (db);
  assert_refused_untouched (f->path, "newer Raylight");
}

static void
test_refuse_not_a_database (Fixture       *f,
                            gconstpointer  data)
{
  gsize length = g_test_rand_int_range (100, 9000);
  g_autofree guint8 *garbage = g_malloc (length);
  for (gsize i = 0; i < length; i++)
    garbage[i] = (guint8) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (f->path, (const char *) garbage, length, NULL));
  assert_refused_untouched (f->path, "not an SQLite database");
}

static void
test_refuse_damaged (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr (RlHistory) history = open_ok (f->path);
  g_autofree char *big = g_strnfill (3000, 'w');
  for (guint i = 0; i < 40; i++)
    {
      RlHistoryJobInfo info = { .workflow_json = big };
      gint64 id = rl_history_add_job (history, &info, NULL);
      g_assert_true (rl_history_mark_started (history, id, NULL));
    }
  g_clear_pointer (&history, rl_history_close);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS) == FALSE);

  /* Keep the header page; scramble every later page. */
  g_autoptr (GBytes) clean = read_bytes (f->path);
  gsize length = 0;
  const guint8 *bytes = g_bytes_get_data (clean, &length);
  g_assert_cmpuint (length, >, 8 * 4096);
  g_autofree guint8 *damaged = g_memdup2 (bytes, length);
  for (gsize i = 4096; i < length; i++)
    damaged[i] = (guint8) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (f->path, (const char *) damaged, length, NULL));
  assert_refused_untouched (f->path, "damaged");
}

static void
test_refuse_foreign (Fixture       *f,
                     gconstpointer  data)
{
  sqlite3 *db = raw_open (f->path);
  raw_exec (db, "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');");
  sqlite3_close (db);
  assert_refused_untouched (f->path, "other tables");

  db = raw_open (f->path);
  raw_exec (db, "PRAGMA application_id = 1234");
  sqlite3_close (db);
  assert_refused_untouched (f->path, "another application");
}

static void
test_refuse_unwritable (Fixture       *f,
                        gconstpointer  data)
{
  /* A folder that cannot exist: its parent is a file. */
  g_autofree char *blocker = g_build_filename (f->dir, "not-a-folder", NULL);
  g_assert_true (g_file_set_contents (blocker, "x", 1, NULL));
  g_autofree char *inside = g_build_filename (blocker, "history.sqlite3", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_null (rl_history_open (inside, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_assert_nonnull (strstr (error->message, blocker));
  g_assert_nonnull (strstr (error->message, "another history file"));
  g_clear_error (&error);

  /* An empty name is not the default. */
  g_assert_null (rl_history_open ("", &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);

  /* The path is a folder. */
  g_autofree char *folder = g_build_filename (f->dir, "folder.sqlite3", NULL);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_null (rl_history_open (folder, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);

  if (geteuid () == 0)
    {
      /* Root writes anyway; CI runs as a user and checks the rest. */
      g_test_message ("running as root: read-only file and folder cases not checked");
      return;
    }
  g_autoptr (RlHistory) history = open_ok (f->path);
  g_clear_pointer (&history, rl_history_close);
  g_assert_cmpint (g_chmod (f->path, 0400), ==, 0);
  assert_refused_untouched (f->path, "writable");
  g_autofree char *locked_dir = g_build_filename (f->dir, "locked", NULL);
  g_assert_cmpint (g_mkdir (locked_dir, 0500), ==, 0);
  g_autofree char *locked = g_build_filename (locked_dir, "history.sqlite3", NULL);
  g_assert_null (rl_history_open (locked, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_assert_false (g_file_test (locked, G_FILE_TEST_EXISTS));
}

/* ---- recovery ---------------------------------------------------------- */

static void
test_live_process_spared (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr (RlHistory) first = open_ok (f->path);
  gint64 id = rl_history_add_job (first, NULL, NULL);
  g_assert_true (rl_history_mark_started (first, id, NULL));

  /* A second reader of the same file (`raylight history list` while the
   * app runs a job) must not declare the running job dead. */
  g_autoptr (RlHistory) second = open_ok (f->path);
  g_assert_cmpuint (rl_history_get_n_recovered (second), ==, 0);
  g_autoptr (RlHistoryJob) job = rl_history_get_job (second, id, NULL);
  g_assert_cmpint (job->status, ==, RL_JOB_RUNNING);
}

/* Reads a line from @fd within @timeout_s; NULL on timeout or EOF. */
static char *
read_line (int   fd,
           guint timeout_s)
{
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < deadline)
    {
      GPollFD poll_fd = { .fd = fd, .events = G_IO_IN };
      if (g_poll (&poll_fd, 1, 100) <= 0)
        continue;
      char c;
      ssize_t n = read (fd, &c, 1);
      if (n <= 0)
        break;
      if (c == '\n')
        return g_string_free (line, FALSE);
      g_string_append_c (line, c);
    }
  g_string_free (line, TRUE);
  return NULL;
}

static void
test_survives_kill_9 (Fixture       *f,
                      gconstpointer  data)
{
  const char *build_dir = g_getenv ("RAYLIGHT_BUILD_DIR");
  if (build_dir == NULL)
    {
      g_test_skip ("RAYLIGHT_BUILD_DIR is not set (run through meson test)");
      return;
    }
  g_autofree char *helper = g_build_filename (build_dir, "tests", "engine",
                                              "run-history-crash-helper", NULL);
  guint n_earlier = g_test_rand_int_range (2, 6);
  g_autofree char *n_text = g_strdup_printf ("%u", n_earlier);
  const char *argv[] = { helper, f->path, n_text, f->dir, NULL };
  GPid pid = 0;
  int out_fd = -1;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);

  g_autofree char *line = read_line (out_fd, 30);
  g_assert_cmpstr (line, ==, "ready");
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  int wait_status = 0;
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (wait_status));
  g_assert_cmpint (WTERMSIG (wait_status), ==, SIGKILL);
  close (out_fd);
  g_spawn_close_pid (pid);

  g_autoptr (RlHistory) history = open_ok (f->path);
  g_assert_cmpuint (rl_history_get_n_recovered (history), ==, 1);
  g_autoptr (GPtrArray) jobs = rl_history_list (history, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (jobs->len, ==, n_earlier + 2);

  /* Newest first: the job behind, then the one that was running. */
  RlHistoryJob *behind = g_ptr_array_index (jobs, 0);
  g_assert_cmpint (behind->status, ==, RL_JOB_CANCELLED);
  RlHistoryJob *killed = g_ptr_array_index (jobs, 1);
  g_assert_cmpint (killed->status, ==, RL_JOB_INTERRUPTED);
  g_assert_nonnull (strstr (killed->error_text, "killed"));
  g_assert_cmpint (killed->started_at, >, 0);
  /* When it died is unknown: no invented finish time or duration. */
  g_assert_cmpint (killed->finished_at, ==, 0);
  g_assert_cmpfloat (killed->duration_s, ==, 0.0);
  for (guint i = 2; i < jobs->len; i++)
    {
      RlHistoryJob *earlier = g_ptr_array_index (jobs, i);
      g_assert_cmpint (earlier->status, ==, RL_JOB_SUCCEEDED);
      g_assert_cmpstr (earlier->parameters_json, ==, "{\"seed\": 42}");
      g_assert_cmpuint (earlier->outputs->len, ==, 1);
      const char *path = ((RlHistoryOutput *) g_ptr_array_index (earlier->outputs, 0))->path;
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
  g_clear_pointer (&history, rl_history_close);

  sqlite3 *db = raw_open (f->path);
  g_autofree char *check = raw_text (db, "PRAGMA integrity_check");
  g_assert_cmpstr (check, ==, "ok");
  sqlite3_close (db);
}

int
main (int    argc,
      char **argv)
{
  /* g_get_user_data_dir() reads this once: set it before anything asks. */
  g_autofree char *data_home = g_dir_make_tmp ("raylight-xdg-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/history/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("open/new", test_open_new);
  ADD ("open/default-path", test_default_path);
  ADD ("jobs/lifecycle", test_job_lifecycle);
  ADD ("jobs/unknown", test_unknown_job);
  ADD ("jobs/device-config-replaced", test_device_config_replaced);
  ADD ("jobs/list-filter-search", test_list_filter_search);
  ADD ("migrate/from-v1", test_migrate_from_v1);
  ADD ("refuse/newer-version", test_refuse_newer);
  ADD ("refuse/not-a-database", test_refuse_not_a_database);
  ADD ("refuse/damaged", test_refuse_damaged);
  ADD ("refuse/foreign", test_refuse_foreign);
  ADD ("refuse/unwritable", test_refuse_unwritable);
  ADD ("recover/live-process-spared", test_live_process_spared);
  ADD ("recover/kill-9", test_survives_kill_9);
#undef ADD
  int result = g_test_run ();
  remove_tree (data_home);
  return result;
}
