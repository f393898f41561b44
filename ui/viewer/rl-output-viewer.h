/* RlOutputViewer: a window that plays a generated video (or shows an
 * image) — play/pause (Space), scrub, frame step (, and .), loop and
 * speed; a second output side by side for comparison, showing the same
 * frame; "Show in Files"; dragging the picture out hands the file to other
 * apps; and "Open Workflow" restores the workflow that made it in a new
 * tab of the main window. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RL_TYPE_OUTPUT_VIEWER (rl_output_viewer_get_type ())
G_DECLARE_FINAL_TYPE (RlOutputViewer, rl_output_viewer, RL, OUTPUT_VIEWER, AdwWindow)

/* Opens @path (decoded on a thread; "loaded" is emitted when it shows).
 * @workflow_json (may be NULL) is what "Open Workflow" restores into
 * @parent when that is the main window. */
RlOutputViewer *rl_output_viewer_new         (GtkWindow       *parent,
                                              const char      *path,
                                              const char      *title,
                                              const char      *workflow_json);
/* Shows @path beside the first output (decoded on a thread; "loaded"
 * again when it shows). */
void            rl_output_viewer_compare     (RlOutputViewer  *self,
                                              const char      *path);
/* Whether the outputs asked for are decoded and shown. */
gboolean        rl_output_viewer_is_loaded   (RlOutputViewer  *self);
/* The decode error, or NULL. */
const char     *rl_output_viewer_get_error   (RlOutputViewer  *self);
guint           rl_output_viewer_get_n_frames (RlOutputViewer *self);
guint           rl_output_viewer_get_frame   (RlOutputViewer  *self);
/* Shows frame @index (clamped) and pauses. */
void            rl_output_viewer_seek        (RlOutputViewer  *self,
                                              guint            index);
/* Moves @delta frames (wrapping when looping) and pauses. */
void            rl_output_viewer_step        (RlOutputViewer  *self,
                                              int              delta);
void            rl_output_viewer_set_playing (RlOutputViewer  *self,
                                              gboolean         playing);
gboolean        rl_output_viewer_get_playing (RlOutputViewer  *self);
void            rl_output_viewer_set_loop    (RlOutputViewer  *self,
                                              gboolean         loop);
void            rl_output_viewer_set_speed   (RlOutputViewer  *self,
                                              double           speed);
/* The picture of output @index (0, or 1 when comparing). */
GtkPicture     *rl_output_viewer_get_picture (RlOutputViewer  *self,
                                              guint            index);
/* The header's buttons: "show-in-files", "compare", "open-workflow",
 * "play", "previous", "next". */
GtkWidget      *rl_output_viewer_get_button  (RlOutputViewer  *self,
                                              const char      *name);

G_END_DECLS
