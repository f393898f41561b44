/* RlHistory: every job Raylight ran or queued, with its workflow, parameters,
 * status, timings, error text and output files, in an SQLite database.
 *
 * The database lives at $XDG_DATA_HOME/raylight/history.sqlite3 unless a
 * path is given. It runs in WAL mode and writes each state change in one
 * transaction, so a crash or kill -9 never leaves a half-written row. At
 * open, jobs whose process died while they ran are marked interrupted.
 * A corrupt, foreign, newer or unwritable database is refused with an
 * RL_ENGINE_ERROR_HISTORY error naming the file and what to do; the file is
 * never deleted or recreated.
 *
 * One RlHistory may be used from several threads (calls are serialised);
 * several processes may open the same file. */
#pragma once

#include "engine/engine-types.h"
#include "engine/run/event.h"

G_BEGIN_DECLS

/* One output file of a job. width/height/frames are 0 when unknown. */
typedef struct {
  char   *path;
  char   *kind;          /* "image", "video", "latent" or "file" */
  guint   width;
  guint   height;
  guint   frames;
} RlHistoryOutput;

/* One job row. Times are wall-clock microseconds since the Unix epoch
 * (g_get_real_time); 0 when the job has not reached that point or, for a
 * job whose process died, when it is unknown (finished_at, duration_s).
 * Text fields are NULL when not recorded. */
typedef struct {
  gint64       id;
  RlJobStatus  status;
  gint64       created_at;
  gint64       started_at;
  gint64       finished_at;
  double       duration_s;          /* running time; 0 until finished */
  char        *workflow_json;       /* ComfyUI UI workflow, if the job came from one */
  char        *prompt_json;         /* ComfyUI API prompt that ran */
  char        *parameters_json;     /* {"seed":..,"model":..,"steps":..} */
  char        *device_config_json;  /* parallel configuration (GPUs, USP/FSDP degrees) */
  char        *error_text;
  GPtrArray   *outputs;             /* RlHistoryOutput*, in the order they were written */
} RlHistoryJob;

/* What a new job row records; every field may be NULL. */
typedef struct {
  const char  *workflow_json;
  const char  *prompt_json;
  const char  *parameters_json;
  const char  *device_config_json;
} RlHistoryJobInfo;

/* Filter for list and count; a zero-initialised query matches every job
 * with no limit. */
typedef struct {
  guint        limit;               /* 0: no limit */
  guint        offset;
  gboolean     filter_status;       /* only jobs with @status */
  RlJobStatus  status;
  const char  *search;              /* substring of workflow, prompt, parameters or error; NULL: all */
} RlHistoryQuery;

/* The default database path, $XDG_DATA_HOME/raylight/history.sqlite3. */
char          *rl_history_default_path      (void);

/* Opens (creating if absent, with its folder) the database at @path, or the
 * default path when @path is NULL; migrates an older schema; marks jobs left
 * running or queued by a dead process as interrupted / cancelled. NULL with
 * RL_ENGINE_ERROR_HISTORY when the file cannot be used as history. */
RlHistory     *rl_history_open              (const char              *path,
                                             GError                 **error);
void           rl_history_close             (RlHistory               *self);
const char    *rl_history_get_path          (RlHistory               *self);
/* How many jobs the open found running in a dead process and marked
 * interrupted (the CLI mentions them). */
guint          rl_history_get_n_recovered   (RlHistory               *self);

/* Records a new job with status queued; returns its id (> 0), or 0 with
 * @error. */
gint64         rl_history_add_job           (RlHistory               *self,
                                             const RlHistoryJobInfo  *info,
                                             GError                 **error);
/* queued -> running; sets started_at. */
gboolean       rl_history_mark_started      (RlHistory               *self,
                                             gint64                   job_id,
                                             GError                 **error);
/* Replaces the parallel configuration recorded at add_job with the one
 * the job ran in (known only once its SAMPLE jobs chose a pool shape). */
gboolean       rl_history_set_device_config (RlHistory               *self,
                                             gint64                   job_id,
                                             const char              *device_config_json,
                                             GError                 **error);
/* Sets the final @status (succeeded, failed, interrupted or cancelled),
 * finished_at, duration and @error_text (may be NULL). */
gboolean       rl_history_mark_finished     (RlHistory               *self,
                                             gint64                   job_id,
                                             RlJobStatus              status,
                                             const char              *error_text,
                                             GError                 **error);
/* Adds one output file to @job_id; @kind NULL guesses it from the file
 * extension; sizes 0 when unknown. */
gboolean       rl_history_add_output        (RlHistory               *self,
                                             gint64                   job_id,
                                             const char              *path,
                                             const char              *kind,
                                             guint                    width,
                                             guint                    height,
                                             guint                    frames,
                                             GError                 **error);

/* Jobs matching @query (NULL: all), newest first, each with its outputs;
 * trashed jobs are left out.
 * Returns a GPtrArray of RlHistoryJob* owning its elements, or NULL with
 * @error. */
GPtrArray     *rl_history_list              (RlHistory               *self,
                                             const RlHistoryQuery    *query,
                                             GError                 **error);
/* Number of jobs matching @query (limit/offset ignored); -1 with @error. */
gint64         rl_history_count             (RlHistory               *self,
                                             const RlHistoryQuery    *query,
                                             GError                 **error);
/* One job with its outputs; NULL with RL_ENGINE_ERROR_HISTORY when there is
 * no job @job_id. */
RlHistoryJob  *rl_history_get_job           (RlHistory               *self,
                                             gint64                   job_id,
                                             GError                 **error);
/* Deleting with Undo: a trashed job disappears from list and count (get_job
 * still reads it) until it is restored, or deleted for good with
 * rl_history_delete_job. FALSE with @error when there is no such job in
 * the expected state (trashing a trashed job, restoring a listed one). */
gboolean       rl_history_trash_job         (RlHistory               *self,
                                             gint64                   job_id,
                                             GError                 **error);
gboolean       rl_history_restore_job       (RlHistory               *self,
                                             gint64                   job_id,
                                             GError                 **error);
/* Ids (gint64) of the trashed jobs, oldest first — what a previous session
 * trashed but never purged; with @trashed_before (µs since the epoch, 0:
 * any time) only those trashed earlier, so another window's Undo that is
 * still on offer is left alone. */
GArray        *rl_history_list_trashed      (RlHistory               *self,
                                             gint64                   trashed_before,
                                             GError                 **error);
/* Removes @job's output files from disk (not its rows); files already gone
 * are skipped. Returns how many it removed; stops with @error at the first
 * file it cannot remove. */
guint          rl_history_delete_output_files (const RlHistoryJob    *job,
                                               GError               **error);
/* Deletes the job and its output rows (not the files). FALSE with @error
 * when there is no such job. */
gboolean       rl_history_delete_job        (RlHistory               *self,
                                             gint64                   job_id,
                                             GError                 **error);

void           rl_history_job_free          (RlHistoryJob            *job);
void           rl_history_output_free       (RlHistoryOutput         *output);
/* Parses "succeeded" etc.; FALSE for unknown text. */
gboolean       rl_job_status_from_string    (const char              *text,
                                             RlJobStatus             *status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlHistory, rl_history_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlHistoryJob, rl_history_job_free)

G_END_DECLS
