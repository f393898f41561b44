/* Job history on SQLite. See history.h for the contract.
 *
 * Safety rules this file keeps:
 *  - nothing is written to a file before it is known to be our database
 *    (or an empty one): a foreign, newer or damaged file is refused as is;
 *  - every state change is one statement or one explicit transaction;
 *  - a job is only declared dead (interrupted) when the process that ran it
 *    is gone, so a second Raylight reading the same history does not
 *    disturb the first one's running job. */
#include "engine/run/history.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"

/* 'RLHI' in PRAGMA application_id marks the file as Raylight history. */
#define HISTORY_APPLICATION_ID 0x524c4849
#define BUSY_TIMEOUT_MS        5000

typedef struct {
  int          version;
  const char  *sql;
} Migration;

/* Schema steps, applied in order inside one transaction; a database at
 * user_version N gets every step above N. Never edit a released step: add
 * a new one. */
static const Migration migrations[] = {
  { 1,
    "CREATE TABLE jobs ("
    "  id            INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  created_at    INTEGER NOT NULL,"
    "  started_at    INTEGER,"
    "  finished_at   INTEGER,"
    "  status        TEXT NOT NULL,"
    "  workflow_json TEXT,"
    "  prompt_json   TEXT,"
    "  parameters_json TEXT,"
    "  error_text    TEXT);"
    "CREATE TABLE outputs ("
    "  id            INTEGER PRIMARY KEY,"
    "  job_id        INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  path          TEXT NOT NULL,"
    "  kind          TEXT NOT NULL);" },
  /* 2: parallel configuration, durations, media sizes, and the process
   * that owns a running job (so recovery spares live processes). */
  { 2,
    "ALTER TABLE jobs ADD COLUMN device_config_json TEXT;"
    "ALTER TABLE jobs ADD COLUMN duration REAL;"
    "ALTER TABLE jobs ADD COLUMN runner TEXT;"
    "ALTER TABLE outputs ADD COLUMN width INTEGER;"
    "ALTER TABLE outputs ADD COLUMN height INTEGER;"
    "ALTER TABLE outputs ADD COLUMN frames INTEGER;"
    "CREATE INDEX jobs_by_status ON jobs(status);"
    "CREATE INDEX jobs_by_created ON jobs(created_at);"
    "CREATE INDEX outputs_by_job ON outputs(job_id);" },
  /* 3: deleting is two-step so the app can offer Undo: a trashed job is
   * hidden from lists until it is restored or purged. */
  { 3,
    "ALTER TABLE jobs ADD COLUMN trashed_at INTEGER;"
    "CREATE INDEX jobs_by_trashed ON jobs(trashed_at);" },
};

#define LATEST_VERSION (migrations[G_N_ELEMENTS (migrations) - 1].version)

struct _RlHistory {
  GMutex    lock;        /* one connection, used by one thread at a time */
  sqlite3  *db;
  char     *path;
  char     *runner;      /* "<boot id>:<pid>:<start time>" of this process */
  guint     n_recovered;
};

/* ---- errors ---------------------------------------------------------- */

/* Builds the user-facing error for SQLite result @rc while doing @what. */
static void
set_history_error (GError     **error,
                   const char  *path,
                   int          rc,
                   const char  *detail,
                   const char  *what)
{
  switch (rc & 0xff)
    {
    case SQLITE_NOTADB:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The history file %s is not an SQLite database (%s). "
                   "Raylight left it untouched: move it aside, or choose another "
                   "history file.", path, detail);
      return;
    case SQLITE_CORRUPT:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The history database %s is damaged (%s while %s). Raylight left "
                   "it untouched: try `sqlite3 '%s' .recover | sqlite3 recovered.sqlite3` "
                   "and put the result in its place, or move it aside to start a new "
                   "history.", path, detail, what, path);
      return;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "Cannot write the history database %s (%s while %s). Check that "
                   "the file and its folder are writable by you, or choose another "
                   "history file.", path, detail, what);
      return;
    case SQLITE_FULL:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The disk holding the history database %s is full (%s while %s). "
                   "Free some space and try again.", path, detail, what);
      return;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The history database %s stayed locked by another process for "
                   "%d s (%s while %s). Close other programs using it and try again.",
                   path, BUSY_TIMEOUT_MS / 1000, detail, what);
      return;
    default:
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "History database %s: %s while %s.", path, detail, what);
      return;
    }
}

static void
set_db_error (RlHistory   *self,
              GError     **error,
              int          rc,
              const char  *what)
{
  set_history_error (error, self->path, rc, sqlite3_errmsg (self->db), what);
}

/* ---- small statement helpers (caller holds the lock) -------------------- */

static gboolean
exec_sql (RlHistory   *self,
          const char  *sql,
          const char  *what,
          GError     **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      set_db_error (self, error, rc, what);
      return FALSE;
    }
  return TRUE;
}

static sqlite3_stmt *
prepare (RlHistory   *self,
         const char  *sql,
         const char  *what,
         GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_db_error (self, error, rc, what);
      return NULL;
    }
  return stmt;
}

/* Steps a statement that returns no rows, then finalizes it. */
static gboolean
step_done (RlHistory     *self,
           sqlite3_stmt  *stmt,
           const char    *what,
           GError       **error)
{
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, rc, what);
      sqlite3_finalize (stmt);
      return FALSE;
    }
  sqlite3_finalize (stmt);
  return TRUE;
}

/* Reads one integer from a query returning a single row. */
static gboolean
query_int (RlHistory   *self,
           const char  *sql,
           const char  *what,
           gint64      *value,
           GError     **error)
{
  sqlite3_stmt *stmt = prepare (self, sql, what, error);
  if (stmt == NULL)
    return FALSE;
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_db_error (self, error, rc == SQLITE_DONE ? SQLITE_ERROR : rc, what);
      sqlite3_finalize (stmt);
      return FALSE;
    }
  *value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return TRUE;
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           index,
                   const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

static void
rollback (RlHistory *self)
{
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- which process owns a job ----------------------------------------- */

static char *
read_boot_id (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL, NULL))
    return g_strdup ("unknown-boot");
  g_strstrip (text);
  return g_steal_pointer (&text);
}

/* The start time (clock ticks since boot) of process @pid, with whether it
 * is still alive (a zombie is not). FALSE when there is no such process. */
static gboolean
read_process_start (gint64   pid,
                    guint64 *start_time)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (stat_path, &text, NULL, NULL))
    return FALSE;
  /* The command name may hold spaces and parentheses: fields restart after
   * the last ')'. Field 3 is the state, field 22 the start time. */
  const char *after_name = strrchr (text, ')');
  if (after_name == NULL)
    return FALSE;
  g_auto (GStrv) fields = g_strsplit (after_name + 2, " ", 0);
  if (g_strv_length (fields) < 20 || fields[0][0] == 'Z' || fields[0][0] == 'X')
    return FALSE;
  *start_time = g_ascii_strtoull (fields[19], NULL, 10);
  return TRUE;
}

static char *
make_runner_id (void)
{
  g_autofree char *boot = read_boot_id ();
  guint64 start = 0;
  read_process_start (getpid (), &start);
  return g_strdup_printf ("%s:%d:%" G_GUINT64_FORMAT, boot, (int) getpid (), start);
}

/* Whether the process recorded in @runner still exists. Rows written before
 * runners were recorded (NULL) belong to no live process. */
static gboolean
runner_is_alive (const char *runner)
{
  if (runner == NULL)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (runner, ":", 3);
  if (g_strv_length (parts) != 3)
    return FALSE;
  g_autofree char *boot = read_boot_id ();
  if (g_strcmp0 (parts[0], boot) != 0)
    return FALSE;
  guint64 recorded_start = g_ascii_strtoull (parts[2], NULL, 10);
  guint64 start = 0;
  if (!read_process_start (g_ascii_strtoll (parts[1], NULL, 10), &start))
    return FALSE;
  return start == recorded_start;
}

/* ---- open ------------------------------------------------------------- */

char *
rl_history_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "raylight", "history.sqlite3", NULL);
}

/* Checks what can be checked without SQLite, for messages that say which
 * folder or file is the problem. */
static gboolean
check_location (const char  *path,
                GError     **error)
{
  g_autofree char *folder = g_path_get_dirname (path);
  if (g_mkdir_with_parents (folder, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "Cannot create the history folder %s for %s: %s. Create it with "
                   "write permission for you, or choose another history file.",
                   folder, path, g_strerror (saved));
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                       "The history path %s exists but is not a regular file. Move it "
                       "aside or choose another history file.", path);
          return FALSE;
        }
      if (g_access (path, R_OK | W_OK) != 0)
        {
          int saved = errno;
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                       "Cannot write the history database %s: %s. Raylight left it "
                       "untouched: make it readable and writable by you (chmod u+rw), "
                       "or choose another history file.",
                       path, g_strerror (saved));
          return FALSE;
        }
    }
  /* WAL needs to create -wal and -shm files beside the database. */
  if (g_access (folder, W_OK | X_OK) != 0)
    {
      int saved = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "Cannot write in the history folder %s (for %s): %s. Make it "
                   "writable by you, or choose another history file.",
                   folder, path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Refuses files that are not (yet) our history, before anything is written. */
static gboolean
check_identity (RlHistory  *self,
                GError    **error)
{
  gint64 n_objects = 0, app_id = 0, version = 0;
  if (!query_int (self, "SELECT count(*) FROM sqlite_master", "reading the schema",
                  &n_objects, error)
      || !query_int (self, "PRAGMA application_id", "reading the application id",
                     &app_id, error)
      || !query_int (self, "PRAGMA user_version", "reading the schema version",
                     &version, error))
    return FALSE;

  if (app_id != 0 && app_id != HISTORY_APPLICATION_ID)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "%s is an SQLite database of another application (id 0x%08x), not "
                   "Raylight's history. It was left untouched: choose another history file.",
                   self->path, (guint) app_id);
      return FALSE;
    }
  if (version > LATEST_VERSION)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The history database %s was written by a newer Raylight (schema "
                   "version %" G_GINT64_FORMAT "; this Raylight knows up to %d). It was "
                   "left untouched: update Raylight, or choose another history file.",
                   self->path, version, LATEST_VERSION);
      return FALSE;
    }
  if (version == 0 && n_objects > 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "%s is an SQLite database that holds other tables, not Raylight's "
                   "history. It was left untouched: choose another history file.",
                   self->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
configure_connection (RlHistory  *self,
                      GError    **error)
{
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  /* journal_mode answers with the mode in force; anything but "wal" (a
   * filesystem without shared memory) still works, only less concurrently. */
  sqlite3_stmt *stmt = prepare (self, "PRAGMA journal_mode=WAL", "switching to WAL mode", error);
  if (stmt == NULL)
    return FALSE;
  int rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      set_db_error (self, error, rc, "switching to WAL mode");
      return FALSE;
    }
  return exec_sql (self, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                   "configuring the connection", error);
}

/* Upgrades an older schema; writes nothing when it is current, so a file
 * found damaged later in the open was not modified by it. */
static gboolean
migrate (RlHistory  *self,
         GError    **error)
{
  gint64 current = 0;
  if (!query_int (self, "PRAGMA user_version", "reading the schema version", &current, error))
    return FALSE;
  if (current == LATEST_VERSION)
    return TRUE;
  if (!exec_sql (self, "BEGIN IMMEDIATE", "starting the schema upgrade", error))
    return FALSE;
  /* Read again inside the transaction: another process may have migrated. */
  gint64 version = 0;
  g_autofree char *stamp = g_strdup_printf ("PRAGMA user_version=%d; PRAGMA application_id=%d;",
                                            LATEST_VERSION, HISTORY_APPLICATION_ID);
  if (!query_int (self, "PRAGMA user_version", "reading the schema version", &version, error))
    goto failed;
  if (version > LATEST_VERSION)
    {
      rollback (self);
      return check_identity (self, error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (migrations); i++)
    {
      if (migrations[i].version <= version)
        continue;
      g_autofree char *what = g_strdup_printf ("upgrading the schema to version %d",
                                               migrations[i].version);
      if (!exec_sql (self, migrations[i].sql, what, error))
        goto failed;
    }
  if (!exec_sql (self, stamp, "recording the schema version", error)
      || !exec_sql (self, "COMMIT", "committing the schema upgrade", error))
    goto failed;
  return TRUE;

failed:
  rollback (self);
  return FALSE;
}

typedef struct {
  gint64    id;
  gboolean  was_running;
} DeadJob;

/* Finds queued and running jobs whose process is gone (caller is inside a
 * transaction). */
static GArray *
find_dead_jobs (RlHistory  *self,
                GError    **error)
{
  const char *what = "checking for jobs of a process that died";
  sqlite3_stmt *stmt = prepare (self,
      "SELECT id, status, runner FROM jobs WHERE status IN ('running', 'queued')",
      what, error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GArray) dead = g_array_new (FALSE, FALSE, sizeof (DeadJob));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (runner_is_alive ((const char *) sqlite3_column_text (stmt, 2)))
        continue;
      DeadJob job = {
        .id = sqlite3_column_int64 (stmt, 0),
        .was_running = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 1), "running") == 0,
      };
      g_array_append_val (dead, job);
    }
  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, rc, what);
      sqlite3_finalize (stmt);
      return NULL;
    }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&dead);
}

static gboolean
mark_dead_job (RlHistory      *self,
               const DeadJob  *job,
               GError        **error)
{
  /* When the process died is unknown (only when we noticed), so
   * finished_at and duration stay empty rather than invent a running time. */
  sqlite3_stmt *stmt = prepare (self,
      "UPDATE jobs SET status = ?1, error_text = ?2, finished_at = NULL, duration = NULL"
      " WHERE id = ?3", "marking a job of a process that died", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, job->was_running ? "interrupted" : "cancelled", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, job->was_running
      ? "Raylight stopped while this job was running (the process exited or was "
        "killed); output files it was writing may be incomplete."
      : "Raylight stopped before this job ran.", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, job->id);
  return step_done (self, stmt, "marking a job of a process that died", error);
}

/* Marks jobs whose process died as interrupted (running) or cancelled
 * (still queued), in one transaction. */
static gboolean
recover_dead_jobs (RlHistory  *self,
                   GError    **error)
{
  /* Look first without a write lock: usually there is nothing to do, and
   * an open then writes nothing at all. */
  g_autoptr (GArray) candidates = find_dead_jobs (self, error);
  if (candidates == NULL)
    return FALSE;
  if (candidates->len == 0)
    return TRUE;
  if (!exec_sql (self, "BEGIN IMMEDIATE", "checking for jobs of a process that died", error))
    return FALSE;
  g_autoptr (GArray) dead = find_dead_jobs (self, error);
  if (dead == NULL)
    goto failed;
  for (guint i = 0; i < dead->len; i++)
    {
      const DeadJob *job = &g_array_index (dead, DeadJob, i);
      if (!mark_dead_job (self, job, error))
        goto failed;
    }
  if (!exec_sql (self, "COMMIT", "committing the recovery of dead jobs", error))
    goto failed;
  for (guint i = 0; i < dead->len; i++)
    if (g_array_index (dead, DeadJob, i).was_running)
      self->n_recovered++;
  return TRUE;

failed:
  rollback (self);
  return FALSE;
}

RlHistory *
rl_history_open (const char  *path,
                 GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (RlHistory) self = g_new0 (RlHistory, 1);
  g_mutex_init (&self->lock);
  self->path = path != NULL ? g_strdup (path) : rl_history_default_path ();
  self->runner = make_runner_id ();
  /* SQLite would quietly open a throwaway database for "". */
  if (self->path[0] == '\0')
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
                   "The history file name is empty. Give a path, or none for the default.");
      return NULL;
    }

  if (!check_location (self->path, error))
    return NULL;

  int rc = sqlite3_open_v2 (self->path, &self->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL);
  if (rc != SQLITE_OK)
    {
      set_history_error (error, self->path, rc,
                         self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc),
                         "opening");
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 1);

  if (!check_identity (self, error)
      || !configure_connection (self, error)
      || !migrate (self, error)
      || !recover_dead_jobs (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

void
rl_history_close (RlHistory *self)
{
  if (self == NULL)
    return;
  if (self->db != NULL)
    sqlite3_close_v2 (self->db);
  g_mutex_clear (&self->lock);
  g_free (self->path);
  g_free (self->runner);
  g_free (self);
}

const char *
rl_history_get_path (RlHistory *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

guint
rl_history_get_n_recovered (RlHistory *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_recovered;
}

/* ---- writing ---------------------------------------------------------- */

gint64
rl_history_add_job (RlHistory               *self,
                    const RlHistoryJobInfo  *info,
                    GError                 **error)
{
  g_return_val_if_fail (self != NULL, 0);
  static const RlHistoryJobInfo empty = { 0 };
  if (info == NULL)
    info = &empty;

  g_mutex_lock (&self->lock);
  gint64 id = 0;
  sqlite3_stmt *stmt = prepare (self,
      "INSERT INTO jobs (created_at, status, workflow_json, prompt_json, parameters_json,"
      " device_config_json, runner) VALUES (?, 'queued', ?, ?, ?, ?, ?)",
      "recording a new job", error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
      bind_text_or_null (stmt, 2, info->workflow_json);
      bind_text_or_null (stmt, 3, info->prompt_json);
      bind_text_or_null (stmt, 4, info->parameters_json);
      bind_text_or_null (stmt, 5, info->device_config_json);
      bind_text_or_null (stmt, 6, self->runner);
      if (step_done (self, stmt, "recording a new job", error))
        id = sqlite3_last_insert_rowid (self->db);
    }
  g_mutex_unlock (&self->lock);
  return id;
}

static void
set_no_such_job (RlHistory  *self,
                 gint64      job_id,
                 GError    **error)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY,
               "There is no job %" G_GINT64_FORMAT " in the history database %s "
               "(`raylight history list` shows the jobs it holds).", job_id, self->path);
}

/* Runs an UPDATE on one job row and checks the row existed. */
static gboolean
update_one_job (RlHistory     *self,
                sqlite3_stmt  *stmt,
                gint64         job_id,
                const char    *what,
                GError       **error)
{
  if (!step_done (self, stmt, what, error))
    return FALSE;
  if (sqlite3_changes (self->db) != 1)
    {
      set_no_such_job (self, job_id, error);
      return FALSE;
    }
  return TRUE;
}

gboolean
rl_history_mark_started (RlHistory  *self,
                         gint64      job_id,
                         GError    **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock);
  gboolean ok = FALSE;
  sqlite3_stmt *stmt = prepare (self,
      "UPDATE jobs SET status = 'running', started_at = ?, runner = ? WHERE id = ?",
      "recording that a job started", error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
      bind_text_or_null (stmt, 2, self->runner);
      sqlite3_bind_int64 (stmt, 3, job_id);
      ok = update_one_job (self, stmt, job_id, "recording that a job started", error);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

gboolean
rl_history_set_device_config (RlHistory   *self,
                              gint64       job_id,
                              const char  *device_config_json,
                              GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock);
  gboolean ok = FALSE;
  sqlite3_stmt *stmt = prepare (self, "UPDATE jobs SET device_config_json = ? WHERE id = ?",
                                "recording the devices a job ran on", error);
  if (stmt != NULL)
    {
      bind_text_or_null (stmt, 1, device_config_json);
      sqlite3_bind_int64 (stmt, 2, job_id);
      ok = update_one_job (self, stmt, job_id, "recording the devices a job ran on", error);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

gboolean
rl_history_mark_finished (RlHistory    *self,
                          gint64        job_id,
                          RlJobStatus   status,
                          const char   *error_text,
                          GError      **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (status != RL_JOB_QUEUED && status != RL_JOB_RUNNING, FALSE);

  g_mutex_lock (&self->lock);
  gboolean ok = FALSE;
  sqlite3_stmt *stmt = prepare (self,
      "UPDATE jobs SET status = ?1, finished_at = ?2, error_text = ?3,"
      " duration = CASE WHEN started_at IS NULL THEN 0 ELSE (?2 - started_at) / 1e6 END"
      " WHERE id = ?4",
      "recording that a job finished", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, rl_job_status_to_string (status), -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
      bind_text_or_null (stmt, 3, error_text);
      sqlite3_bind_int64 (stmt, 4, job_id);
      ok = update_one_job (self, stmt, job_id, "recording that a job finished", error);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

/* The kind history shows for a file it was not told about. */
static const char *
guess_output_kind (const char *path)
{
  static const char * const video_ext[] = { ".mp4", ".webm", ".mkv", ".mov", ".gif", ".webp", NULL };
  static const char * const image_ext[] = { ".png", ".jpg", ".jpeg", NULL };
  g_autofree char *lower = g_ascii_strdown (path, -1);
  for (guint i = 0; video_ext[i] != NULL; i++)
    if (g_str_has_suffix (lower, video_ext[i]))
      return "video";
  for (guint i = 0; image_ext[i] != NULL; i++)
    if (g_str_has_suffix (lower, image_ext[i]))
      return "image";
  if (g_str_has_suffix (lower, ".latent"))
    return "latent";
  return "file";
}

static void
bind_size_or_null (sqlite3_stmt *stmt,
                   int           index,
                   guint         value)
{
  if (value > 0)
    sqlite3_bind_int64 (stmt, index, value);
  else
    sqlite3_bind_null (stmt, index);
}

gboolean
rl_history_add_output (RlHistory   *self,
                       gint64       job_id,
                       const char  *path,
                       const char  *kind,
                       guint        width,
                       guint        height,
                       guint        frames,
                       GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  g_mutex_lock (&self->lock);
  gboolean ok = FALSE;
  sqlite3_stmt *stmt = prepare (self,
      "INSERT INTO outputs (job_id, path, kind, width, height, frames)"
      " SELECT id, ?, ?, ?, ?, ? FROM jobs WHERE id = ?",
      "recording an output file", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, path, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 2, kind != NULL ? kind : guess_output_kind (path), -1, SQLITE_TRANSIENT);
      bind_size_or_null (stmt, 3, width);
      bind_size_or_null (stmt, 4, height);
      bind_size_or_null (stmt, 5, frames);
      sqlite3_bind_int64 (stmt, 6, job_id);
      ok = update_one_job (self, stmt, job_id, "recording an output file", error);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

/* ---- reading ---------------------------------------------------------- */

void
rl_history_output_free (RlHistoryOutput *output)
{
  if (output == NULL)
    return;
  g_free (output->path);
  g_free (output->kind);
  g_free (output);
}

void
rl_history_job_free (RlHistoryJob *job)
{
  if (job == NULL)
    return;
  g_free (job->workflow_json);
  g_free (job->prompt_json);
  g_free (job->parameters_json);
  g_free (job->device_config_json);
  g_free (job->error_text);
  g_clear_pointer (&job->outputs, g_ptr_array_unref);
  g_free (job);
}

gboolean
rl_job_status_from_string (const char  *text,
                           RlJobStatus *status)
{
  for (RlJobStatus s = RL_JOB_QUEUED; s <= RL_JOB_CANCELLED; s++)
    if (g_strcmp0 (text, rl_job_status_to_string (s)) == 0)
      {
        *status = s;
        return TRUE;
      }
  return FALSE;
}

#define JOB_COLUMNS "id, status, created_at, started_at, finished_at, duration, workflow_json," \
                    " prompt_json, parameters_json, device_config_json, error_text"

static char *
column_dup (sqlite3_stmt *stmt,
            int           column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static RlHistoryJob *
job_from_row (sqlite3_stmt *stmt)
{
  RlHistoryJob *job = g_new0 (RlHistoryJob, 1);
  job->id = sqlite3_column_int64 (stmt, 0);
  /* An unknown status text (hand-edited file) reads as failed, not a crash. */
  if (!rl_job_status_from_string ((const char *) sqlite3_column_text (stmt, 1), &job->status))
    job->status = RL_JOB_FAILED;
  job->created_at = sqlite3_column_int64 (stmt, 2);
  job->started_at = sqlite3_column_int64 (stmt, 3);
  job->finished_at = sqlite3_column_int64 (stmt, 4);
  job->duration_s = sqlite3_column_double (stmt, 5);
  job->workflow_json = column_dup (stmt, 6);
  job->prompt_json = column_dup (stmt, 7);
  job->parameters_json = column_dup (stmt, 8);
  job->device_config_json = column_dup (stmt, 9);
  job->error_text = column_dup (stmt, 10);
  job->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_history_output_free);
  return job;
}

static gboolean
load_outputs (RlHistory     *self,
              RlHistoryJob  *job,
              GError       **error)
{
  sqlite3_stmt *stmt = prepare (self,
      "SELECT path, kind, width, height, frames FROM outputs WHERE job_id = ? ORDER BY id",
      "reading output files", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, job->id);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RlHistoryOutput *output = g_new0 (RlHistoryOutput, 1);
      output->path = column_dup (stmt, 0);
      output->kind = column_dup (stmt, 1);
      output->width = (guint) sqlite3_column_int64 (stmt, 2);
      output->height = (guint) sqlite3_column_int64 (stmt, 3);
      output->frames = (guint) sqlite3_column_int64 (stmt, 4);
      g_ptr_array_add (job->outputs, output);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, rc, "reading output files");
      return FALSE;
    }
  return TRUE;
}

/* Escapes LIKE's wildcards so a search is a plain substring match. */
static char *
like_pattern (const char *search)
{
  GString *pattern = g_string_new ("%");
  for (const char *c = search; *c != '\0'; c++)
    {
      if (*c == '%' || *c == '_' || *c == '\\')
        g_string_append_c (pattern, '\\');
      g_string_append_c (pattern, *c);
    }
  g_string_append_c (pattern, '%');
  return g_string_free (pattern, FALSE);
}

/* "SELECT <columns> FROM jobs WHERE ..." with ?1 = status, ?2 = pattern. */
static char *
build_query_sql (const char           *columns,
                 const RlHistoryQuery *query,
                 gboolean              paged)
{
  GString *sql = g_string_new (NULL);
  g_string_append_printf (sql, "SELECT %s FROM jobs WHERE trashed_at IS NULL", columns);
  if (query->filter_status)
    g_string_append (sql, " AND status = ?1");
  if (query->search != NULL && query->search[0] != '\0')
    g_string_append (sql, " AND (workflow_json LIKE ?2 ESCAPE '\\' OR prompt_json LIKE ?2 ESCAPE '\\'"
                          " OR parameters_json LIKE ?2 ESCAPE '\\' OR error_text LIKE ?2 ESCAPE '\\'"
                          " OR device_config_json LIKE ?2 ESCAPE '\\')");
  if (paged)
    g_string_append (sql, " ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4");
  return g_string_free (sql, FALSE);
}

static void
bind_query (sqlite3_stmt          *stmt,
            const RlHistoryQuery  *query)
{
  if (query->filter_status)
    sqlite3_bind_text (stmt, 1, rl_job_status_to_string (query->status), -1, SQLITE_STATIC);
  if (query->search != NULL && query->search[0] != '\0')
    {
      g_autofree char *pattern = like_pattern (query->search);
      sqlite3_bind_text (stmt, 2, pattern, -1, SQLITE_TRANSIENT);
    }
}

GPtrArray *
rl_history_list (RlHistory             *self,
                 const RlHistoryQuery  *query,
                 GError               **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  static const RlHistoryQuery everything = { 0 };
  if (query == NULL)
    query = &everything;

  g_autoptr (GPtrArray) jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_history_job_free);
  g_autofree char *sql = build_query_sql (JOB_COLUMNS, query, TRUE);
  gboolean ok = FALSE;

  g_mutex_lock (&self->lock);
  /* One read transaction: the jobs and their outputs come from one state. */
  if (!exec_sql (self, "BEGIN", "reading the job list", error))
    goto out;
  sqlite3_stmt *stmt = prepare (self, sql, "reading the job list", error);
  if (stmt == NULL)
    goto out;
  bind_query (stmt, query);
  sqlite3_bind_int64 (stmt, 3, query->limit > 0 ? (gint64) query->limit : -1);
  sqlite3_bind_int64 (stmt, 4, query->offset);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (jobs, job_from_row (stmt));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, rc, "reading the job list");
      goto out;
    }
  for (guint i = 0; i < jobs->len; i++)
    if (!load_outputs (self, g_ptr_array_index (jobs, i), error))
      goto out;
  ok = exec_sql (self, "COMMIT", "reading the job list", error);

out:
  rollback (self);
  g_mutex_unlock (&self->lock);
  return ok ? g_steal_pointer (&jobs) : NULL;
}

gint64
rl_history_count (RlHistory             *self,
                  const RlHistoryQuery  *query,
                  GError               **error)
{
  g_return_val_if_fail (self != NULL, -1);
  static const RlHistoryQuery everything = { 0 };
  if (query == NULL)
    query = &everything;

  g_autofree char *sql = build_query_sql ("count(*)", query, FALSE);
  gint64 count = -1;

  g_mutex_lock (&self->lock);
  sqlite3_stmt *stmt = prepare (self, sql, "counting jobs", error);
  if (stmt != NULL)
    {
      bind_query (stmt, query);
      int rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
      else
        set_db_error (self, error, rc, "counting jobs");
      sqlite3_finalize (stmt);
    }
  g_mutex_unlock (&self->lock);
  return count;
}

RlHistoryJob *
rl_history_get_job (RlHistory  *self,
                    gint64      job_id,
                    GError    **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_autoptr (RlHistoryJob) job = NULL;
  gboolean ok = FALSE;

  g_mutex_lock (&self->lock);
  if (!exec_sql (self, "BEGIN", "reading a job", error))
    goto out;
  sqlite3_stmt *stmt = prepare (self, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?",
                                "reading a job", error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, job_id);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    job = job_from_row (stmt);
  sqlite3_finalize (stmt);
  if (rc == SQLITE_DONE)
    {
      set_no_such_job (self, job_id, error);
      goto out;
    }
  if (rc != SQLITE_ROW)
    {
      set_db_error (self, error, rc, "reading a job");
      goto out;
    }
  ok = load_outputs (self, job, error)
       && exec_sql (self, "COMMIT", "reading a job", error);

out:
  rollback (self);
  g_mutex_unlock (&self->lock);
  return ok ? g_steal_pointer (&job) : NULL;
}

gboolean
rl_history_delete_job (RlHistory  *self,
                       gint64      job_id,
                       GError    **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  gboolean ok = FALSE;
  g_mutex_lock (&self->lock);
  if (!exec_sql (self, "BEGIN IMMEDIATE", "deleting a job", error))
    goto out;
  sqlite3_stmt *outputs = prepare (self, "DELETE FROM outputs WHERE job_id = ?",
                                   "deleting a job's outputs", error);
  if (outputs == NULL)
    goto out;
  sqlite3_bind_int64 (outputs, 1, job_id);
  if (!step_done (self, outputs, "deleting a job's outputs", error))
    goto out;
  sqlite3_stmt *job = prepare (self, "DELETE FROM jobs WHERE id = ?", "deleting a job", error);
  if (job == NULL)
    goto out;
  sqlite3_bind_int64 (job, 1, job_id);
  if (!update_one_job (self, job, job_id, "deleting a job", error))
    goto out;
  ok = exec_sql (self, "COMMIT", "deleting a job", error);

out:
  rollback (self);
  g_mutex_unlock (&self->lock);
  return ok;
}

/* Sets or clears trashed_at of one job whose trash state is the opposite. */
static gboolean
set_trashed (RlHistory   *self,
             gint64       job_id,
             gboolean     trashed,
             const char  *what,
             GError     **error)
{
  g_mutex_lock (&self->lock);
  gboolean ok = FALSE;
  sqlite3_stmt *stmt = prepare (self, trashed
      ? "UPDATE jobs SET trashed_at = ? WHERE id = ? AND trashed_at IS NULL"
      : "UPDATE jobs SET trashed_at = NULL WHERE id = ?2 AND trashed_at IS NOT NULL AND ?1 IS NOT NULL",
      what, error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
      sqlite3_bind_int64 (stmt, 2, job_id);
      ok = update_one_job (self, stmt, job_id, what, error);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

gboolean
rl_history_trash_job (RlHistory  *self,
                      gint64      job_id,
                      GError    **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return set_trashed (self, job_id, TRUE, "moving a job to the trash", error);
}

gboolean
rl_history_restore_job (RlHistory  *self,
                        gint64      job_id,
                        GError    **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return set_trashed (self, job_id, FALSE, "restoring a deleted job", error);
}

GArray *
rl_history_list_trashed (RlHistory  *self,
                         gint64      trashed_before,
                         GError    **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean ok = FALSE;

  g_mutex_lock (&self->lock);
  sqlite3_stmt *stmt = prepare (self, "SELECT id FROM jobs WHERE trashed_at IS NOT NULL AND (?1 = 0 OR trashed_at < ?1)"
                                " ORDER BY id", "listing deleted jobs", error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, trashed_before);
      int rc;
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (ids, id);
        }
      sqlite3_finalize (stmt);
      ok = rc == SQLITE_DONE;
      if (!ok)
        set_db_error (self, error, rc, "listing deleted jobs");
    }
  g_mutex_unlock (&self->lock);
  return ok ? g_steal_pointer (&ids) : NULL;
}

guint
rl_history_delete_output_files (const RlHistoryJob  *job,
                                GError             **error)
{
  guint removed = 0;

  g_return_val_if_fail (job != NULL, 0);
  for (guint i = 0; job->outputs != NULL && i < job->outputs->len; i++)
    {
      const RlHistoryOutput *output = g_ptr_array_index (job->outputs, i);

      if (g_unlink (output->path) == 0)
        removed++;
      else if (errno != ENOENT)
        {
          int saved = errno;
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                       "Could not delete %s, an output of job %" G_GINT64_FORMAT ": %s",
                       output->path, job->id, g_strerror (saved));
          return removed;
        }
    }
  return removed;
}
