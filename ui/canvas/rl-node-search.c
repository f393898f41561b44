/* RlNodeSearch: a search entry above a list of node types, best fuzzy
 * match first. */
#include "engine/graph/registry.h"
#include "ui/canvas/rl-fuzzy.h"
#include "ui/canvas/rl-node-search.h"

#define MAX_RESULTS 40

struct _RlNodeSearch
{
  GtkPopover         parent_instance;
  RlRegistry        *registry;
  GtkWidget         *entry;
  GtkWidget         *list;
  char              *filter_type;
  RlSocketDirection  filter_from;
  GPtrArray         *results;      /* borrowed const RlNodeType * */
  char              *shown_query;  /* the query the results are for */
};

G_DEFINE_FINAL_TYPE (RlNodeSearch, rl_node_search, GTK_TYPE_POPOVER)

enum { SIGNAL_CHOSEN, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
  const RlNodeType *type;
  int               score;
} Ranked;

static gboolean
type_fits_filter (RlNodeSearch     *self,
                  const RlNodeType *type)
{
  if (self->filter_type == NULL)
    return TRUE;
  if (self->filter_from == RL_SOCKET_OUTPUT)
    {
      for (guint i = 0; i < type->n_inputs; i++)
        if (type->inputs[i].kind == RL_INPUT_LINK &&
            rl_socket_types_compatible (self->filter_type, type->inputs[i].type))
          return TRUE;
      return FALSE;
    }
  for (guint i = 0; i < type->n_outputs; i++)
    if (rl_socket_types_compatible (type->outputs[i].type, self->filter_type))
      return TRUE;
  return FALSE;
}

static int
score_type (const char       *query,
            const RlNodeType *type)
{
  /* The name counts most; category and description find the rest. */
  int best = MAX (rl_fuzzy_score (query, type->name), rl_fuzzy_score (query, type->display_name));

  if (best >= 0)
    return best + 100000;
  best = rl_fuzzy_score (query, type->category);
  if (best >= 0)
    return best + 50000;
  return rl_fuzzy_score (query, type->description);
}

static int
compare_ranked (gconstpointer a,
                gconstpointer b)
{
  const Ranked *ra = a, *rb = b;

  if (ra->score != rb->score)
    return rb->score - ra->score;
  return g_strcmp0 (ra->type->name, rb->type->name);
}

static GtkWidget *
new_result_row (const RlNodeType *type)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *name = gtk_label_new (type->display_name != NULL ? type->display_name : type->name);
  GtkWidget *category = gtk_label_new (type->category);

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_xalign (GTK_LABEL (category), 0);
  gtk_widget_add_css_class (category, "dim-label");
  gtk_widget_add_css_class (category, "caption");
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), category);
  gtk_widget_set_tooltip_text (box, type->description);
  return box;
}

static void
refresh_results (RlNodeSearch *self)
{
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->entry));
  g_autoptr(GPtrArray) types = rl_registry_list_types (self->registry);
  g_autoptr(GArray) ranked = g_array_new (FALSE, FALSE, sizeof (Ranked));
  GtkWidget *child;

  g_free (self->shown_query);
  self->shown_query = g_strdup (query);
  for (guint i = 0; i < types->len; i++)
    {
      const RlNodeType *type = g_ptr_array_index (types, i);
      Ranked r = { type, score_type (query, type) };

      if (r.score >= 0 && type_fits_filter (self, type))
        g_array_append_val (ranked, r);
    }
  g_array_sort (ranked, compare_ranked);
  while ((child = gtk_widget_get_first_child (self->list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->list), child);
  g_ptr_array_set_size (self->results, 0);
  for (guint i = 0; i < MIN (ranked->len, MAX_RESULTS); i++)
    {
      const RlNodeType *type = g_array_index (ranked, Ranked, i).type;

      g_ptr_array_add (self->results, (gpointer) type);
      gtk_list_box_append (GTK_LIST_BOX (self->list), new_result_row (type));
    }
  gtk_list_box_select_row (GTK_LIST_BOX (self->list),
                           gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->list), 0));
}

static void
choose_index (RlNodeSearch *self,
              int           index)
{
  const RlNodeType *type;

  if (index < 0 || (guint) index >= self->results->len)
    return;
  type = g_ptr_array_index (self->results, index);
  gtk_popover_popdown (GTK_POPOVER (self));
  g_signal_emit (self, signals[SIGNAL_CHOSEN], 0, type->name);
}

static void
on_entry_activate (GtkSearchEntry *entry,
                   RlNodeSearch   *self)
{
  GtkListBoxRow *row;

  /* search-changed comes after a delay; Enter typed before it must still
   * pick from results for what was typed. */
  if (g_strcmp0 (self->shown_query, gtk_editable_get_text (GTK_EDITABLE (self->entry))) != 0)
    refresh_results (self);
  row = gtk_list_box_get_selected_row (GTK_LIST_BOX (self->list));
  choose_index (self, row != NULL ? gtk_list_box_row_get_index (row) : 0);
}

static void
on_row_activated (GtkListBox    *list,
                  GtkListBoxRow *row,
                  RlNodeSearch  *self)
{
  choose_index (self, gtk_list_box_row_get_index (row));
}

static void
move_selection (RlNodeSearch *self,
                int           delta)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (GTK_LIST_BOX (self->list));
  int index = row != NULL ? gtk_list_box_row_get_index (row) + delta : 0;
  GtkListBoxRow *next = gtk_list_box_get_row_at_index (GTK_LIST_BOX (self->list), MAX (index, 0));

  if (next != NULL)
    gtk_list_box_select_row (GTK_LIST_BOX (self->list), next);
}

static void
on_next_match (GtkSearchEntry *entry,
               RlNodeSearch   *self)
{
  move_selection (self, 1);
}

static void
on_previous_match (GtkSearchEntry *entry,
                   RlNodeSearch   *self)
{
  move_selection (self, -1);
}

static void
rl_node_search_finalize (GObject *object)
{
  RlNodeSearch *self = RL_NODE_SEARCH (object);

  g_clear_pointer (&self->registry, rl_registry_unref);
  g_free (self->filter_type);
  g_free (self->shown_query);
  g_ptr_array_unref (self->results);
  G_OBJECT_CLASS (rl_node_search_parent_class)->finalize (object);
}

static void
rl_node_search_class_init (RlNodeSearchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rl_node_search_finalize;

  /**
   * RlNodeSearch::chosen:
   * @type_name: the class name of the chosen node type
   */
  signals[SIGNAL_CHOSEN] =
    g_signal_new ("chosen", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
focus_entry (RlNodeSearch *self)
{
  gtk_widget_grab_focus (self->entry);
}

static void
rl_node_search_init (RlNodeSearch *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *scroller = gtk_scrolled_window_new ();

  self->results = g_ptr_array_new ();
  self->entry = gtk_search_entry_new ();
  g_object_set (self->entry, "placeholder-text", "Add a node…", NULL);
  self->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->list), GTK_SELECTION_BROWSE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), self->list);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scroller), 280);
  gtk_scrolled_window_set_min_content_width (GTK_SCROLLED_WINDOW (scroller), 300);
  gtk_box_append (GTK_BOX (box), self->entry);
  gtk_box_append (GTK_BOX (box), scroller);
  gtk_popover_set_child (GTK_POPOVER (self), box);
  gtk_popover_set_has_arrow (GTK_POPOVER (self), FALSE);
  gtk_popover_set_position (GTK_POPOVER (self), GTK_POS_BOTTOM);
  gtk_widget_add_css_class (GTK_WIDGET (self), "node-search");
  g_signal_connect_swapped (self->entry, "search-changed", G_CALLBACK (refresh_results), self);
  g_signal_connect (self->entry, "activate", G_CALLBACK (on_entry_activate), self);
  g_signal_connect (self->entry, "next-match", G_CALLBACK (on_next_match), self);
  g_signal_connect (self->entry, "previous-match", G_CALLBACK (on_previous_match), self);
  g_signal_connect (self->list, "row-activated", G_CALLBACK (on_row_activated), self);
  gtk_search_entry_set_key_capture_widget (GTK_SEARCH_ENTRY (self->entry), NULL);
  /* The press that opened the search may still move the focus back to the
   * canvas; once the popover is on screen the typing is the entry's. */
  g_signal_connect (self, "map", G_CALLBACK (focus_entry), NULL);
}

GtkWidget *
rl_node_search_new (RlRegistry *registry)
{
  RlNodeSearch *self;

  g_return_val_if_fail (registry != NULL, NULL);
  self = g_object_new (RL_TYPE_NODE_SEARCH, NULL);
  self->registry = rl_registry_ref (registry);
  refresh_results (self);
  return GTK_WIDGET (self);
}

void
rl_node_search_set_filter (RlNodeSearch      *self,
                           const char        *type,
                           RlSocketDirection  from)
{
  g_return_if_fail (RL_IS_NODE_SEARCH (self));
  g_free (self->filter_type);
  self->filter_type = g_strdup (type);
  self->filter_from = from;
  refresh_results (self);
}

void
rl_node_search_reset (RlNodeSearch *self)
{
  g_return_if_fail (RL_IS_NODE_SEARCH (self));
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  refresh_results (self);
}

GtkWidget *
rl_node_search_get_entry (RlNodeSearch *self)
{
  g_return_val_if_fail (RL_IS_NODE_SEARCH (self), NULL);
  return self->entry;
}

GPtrArray *
rl_node_search_list_results (RlNodeSearch *self)
{
  GPtrArray *names = g_ptr_array_new ();

  g_return_val_if_fail (RL_IS_NODE_SEARCH (self), names);
  for (guint i = 0; i < self->results->len; i++)
    g_ptr_array_add (names, (gpointer) ((const RlNodeType *) g_ptr_array_index (self->results, i))->name);
  return names;
}
