/* Finding widgets in a UI test: depth-first searches of a widget tree for
 * the first mapped widget a predicate accepts. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Whether @widget is the one looked for; @data is the search's. */
typedef gboolean (*UiTestWidgetMatch) (GtkWidget     *widget,
                                       gconstpointer  data);

/* The first mapped widget under @root (itself included, depth first) that
 * @match accepts, or NULL. */
GtkWidget *ui_test_find_widget  (GtkWidget          *root,
                                 UiTestWidgetMatch   match,
                                 gconstpointer       data);
/* The first mapped GtkLabel under @root whose text is @text, or NULL. */
GtkWidget *ui_test_find_label   (GtkWidget          *root,
                                 const char         *text);

G_END_DECLS
