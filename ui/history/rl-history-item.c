/* RlHistoryItem: a history job with its summary and lazily decoded
 * thumbnail. */
#include "ui/history/rl-history-item.h"

#include "engine/media/video-reader.h"

#define THUMBNAIL_SIZE 320

struct _RlHistoryItem
{
  GObject            parent_instance;
  RlHistoryJob      *job;
  RlHistorySummary  *summary;
  char              *title;
  GdkTexture        *thumbnail;
  char              *thumbnail_problem;
  gboolean           thumbnail_requested;
};

G_DEFINE_FINAL_TYPE (RlHistoryItem, rl_history_item, G_TYPE_OBJECT)

enum { PROP_0, PROP_THUMBNAIL, N_PROPS };
static GParamSpec *properties[N_PROPS];

/* Box-filters frame 0 of @image down by an integer factor so its longer
 * side is at most @max_size, into packed RGB8. */
static GdkTexture *
texture_from_image (const RlImage *image,
                    guint          max_size)
{
  guint longer = MAX (image->width, image->height);
  guint factor = MAX ((longer + max_size - 1) / max_size, 1);
  guint width = MAX (image->width / factor, 1), height = MAX (image->height / factor, 1);
  gsize stride = (gsize) width * 3;
  guint8 *rgb = g_malloc (stride * height);
  g_autoptr(GBytes) bytes = NULL;

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < 3; c++)
        {
          double sum = 0;
          guint n = 0;

          for (guint dy = 0; dy < factor && y * factor + dy < image->height; dy++)
            for (guint dx = 0; dx < factor && x * factor + dx < image->width; dx++)
              {
                gsize at = ((gsize) (y * factor + dy) * image->width + x * factor + dx) * 3 + c;
                float v = image->pixels[at];
                sum += v > 0 ? (v < 1 ? v : 1) : 0;
                n++;
              }
          rgb[(gsize) y * stride + (gsize) x * 3 + c] = (guint8) (sum / MAX (n, 1) * 255.0 + 0.5);
        }
  bytes = g_bytes_new_take (rgb, stride * height);
  return gdk_memory_texture_new ((int) width, (int) height, GDK_MEMORY_R8G8B8, bytes, stride);
}

GdkTexture *
rl_history_thumbnail_decode (const char  *path,
                             guint        max_size,
                             GError     **error)
{
  g_autoptr(RlVideo) video = rl_video_read (path, 1, error);

  if (video == NULL)
    return NULL;
  return texture_from_image (video->frames, MAX (max_size, 1));
}

static void
thumbnail_thread (GTask        *task,
                  gpointer      source,
                  gpointer      data,
                  GCancellable *cancellable)
{
  GError *error = NULL;
  GdkTexture *texture = rl_history_thumbnail_decode (data, THUMBNAIL_SIZE, &error);

  if (texture == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, texture, g_object_unref);
}

static void
thumbnail_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  RlHistoryItem *self = RL_HISTORY_ITEM (source);
  g_autoptr(GError) error = NULL;

  self->thumbnail = g_task_propagate_pointer (G_TASK (result), &error);
  if (self->thumbnail == NULL)
    self->thumbnail_problem = g_strdup (error->message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THUMBNAIL]);
}

static void
request_thumbnail (RlHistoryItem *self)
{
  const RlHistoryOutput *poster = self->summary->poster;
  g_autoptr(GTask) task = NULL;

  self->thumbnail_requested = TRUE;
  if (poster == NULL)
    {
      self->thumbnail_problem = g_strdup ("No image or video output");
      return;
    }
  if (!g_file_test (poster->path, G_FILE_TEST_IS_REGULAR))
    {
      self->thumbnail_problem = g_strdup_printf ("Output missing: %s", poster->path);
      return;
    }
  task = g_task_new (self, NULL, thumbnail_done, NULL);
  g_task_set_task_data (task, g_strdup (poster->path), g_free);
  g_task_run_in_thread (task, thumbnail_thread);
}

static void
rl_history_item_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  RlHistoryItem *self = RL_HISTORY_ITEM (object);

  switch (prop_id)
    {
    case PROP_THUMBNAIL:
      g_value_set_object (value, self->thumbnail);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rl_history_item_finalize (GObject *object)
{
  RlHistoryItem *self = RL_HISTORY_ITEM (object);

  g_clear_pointer (&self->summary, rl_history_summary_free);
  g_clear_pointer (&self->job, rl_history_job_free);
  g_clear_object (&self->thumbnail);
  g_free (self->thumbnail_problem);
  g_free (self->title);
  G_OBJECT_CLASS (rl_history_item_parent_class)->finalize (object);
}

static void
rl_history_item_class_init (RlHistoryItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = rl_history_item_get_property;
  object_class->finalize = rl_history_item_finalize;
  properties[PROP_THUMBNAIL] = g_param_spec_object ("thumbnail", NULL, NULL, GDK_TYPE_TEXTURE,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rl_history_item_init (RlHistoryItem *self)
{
}

RlHistoryItem *
rl_history_item_new (RlHistoryJob *job)
{
  RlHistoryItem *self;

  g_return_val_if_fail (job != NULL, NULL);
  self = g_object_new (RL_TYPE_HISTORY_ITEM, NULL);
  self->job = job;
  self->summary = rl_history_summary_new (job);
  self->title = self->summary->model != NULL
                  ? g_strdup_printf ("#%" G_GINT64_FORMAT " · %s", job->id, self->summary->model)
                  : g_strdup_printf ("#%" G_GINT64_FORMAT, job->id);
  return self;
}

const RlHistoryJob *
rl_history_item_get_job (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), NULL);
  return self->job;
}

const RlHistorySummary *
rl_history_item_get_summary (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), NULL);
  return self->summary;
}

gint64
rl_history_item_get_id (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), 0);
  return self->job->id;
}

const char *
rl_history_item_get_title (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), NULL);
  return self->title;
}

GdkTexture *
rl_history_item_get_thumbnail (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), NULL);
  if (!self->thumbnail_requested)
    request_thumbnail (self);
  return self->thumbnail;
}

const char *
rl_history_item_get_thumbnail_problem (RlHistoryItem *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_ITEM (self), NULL);
  return self->thumbnail_problem;
}
