/* RlWorkflowPage: one open workflow — its canvas, its file and whether it
 * has unsaved edits. The window shows one page per tab. */
#pragma once

#include "engine/engine-types.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_WORKFLOW_PAGE (rl_workflow_page_get_type ())
G_DECLARE_FINAL_TYPE (RlWorkflowPage, rl_workflow_page, RL, WORKFLOW_PAGE, GtkWidget)

/* A page with an empty workflow called @title. */
RlWorkflowPage *rl_workflow_page_new            (RlRegistry      *registry,
                                                 const char      *title);
/* Opens @file: ComfyUI workflow JSON, or a PNG/WebP/MP4 carrying one.
 * FALSE with the engine's error naming the file when it holds no
 * workflow (an API prompt alone is refused: it has no layout). */
gboolean        rl_workflow_page_load_file      (RlWorkflowPage  *self,
                                                 GFile           *file,
                                                 GError         **error);
/* Loads workflow JSON @data without a file (templates); saving asks for
 * a name. */
gboolean        rl_workflow_page_load_data      (RlWorkflowPage  *self,
                                                 const char      *data,
                                                 const char      *title,
                                                 GError         **error);
/* Saves to @file, or to the page's own file when @file is NULL; the page
 * then belongs to that file and is unmodified. */
gboolean        rl_workflow_page_save           (RlWorkflowPage  *self,
                                                 GFile           *file,
                                                 GError         **error);
GFile          *rl_workflow_page_get_file       (RlWorkflowPage  *self);
const char     *rl_workflow_page_get_title      (RlWorkflowPage  *self);
gboolean        rl_workflow_page_get_modified   (RlWorkflowPage  *self);
RlCanvas       *rl_workflow_page_get_canvas     (RlWorkflowPage  *self);
/* Writes the page to its autosave when it has unsaved edits (see
 * rl-autosave.h); TRUE when nothing needed writing or it was written. */
gboolean        rl_workflow_page_autosave       (RlWorkflowPage  *self,
                                                 GError         **error);
/* Removes the page's autosave (its edits were saved or discarded). */
void            rl_workflow_page_forget_autosave (RlWorkflowPage *self);
/* Shows an autosaved workflow: its title and file come back, and the page
 * counts as modified (the edits are still unsaved). */
gboolean        rl_workflow_page_restore        (RlWorkflowPage  *self,
                                                 const char      *workflow_json,
                                                 const char      *title,
                                                 const char      *file_path,
                                                 GError         **error);
/* Node types the opened workflow uses that are not installed (owned array
 * of owned strings, sorted, no duplicates). */
GPtrArray      *rl_workflow_page_list_missing_types (RlWorkflowPage *self);

G_END_DECLS
