/* Finding widgets in a UI test. */
#include "tests/ui/ui-test-widgets.h"

GtkWidget *
ui_test_find_widget (GtkWidget         *root,
                     UiTestWidgetMatch  match,
                     gconstpointer      data)
{
  if (gtk_widget_get_mapped (root) && match (root, data))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find_widget (child, match, data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_label_with_text (GtkWidget     *widget,
                    gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

GtkWidget *
ui_test_find_label (GtkWidget  *root,
                    const char *text)
{
  return ui_test_find_widget (root, is_label_with_text, text);
}
