/* Forward declarations shared by the desktop app's headers, so headers
 * need not include each other. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

typedef struct _RlApplication   RlApplication;
typedef struct _RlWindow        RlWindow;
typedef struct _RlWorkflowPage  RlWorkflowPage;
typedef struct _RlCanvas        RlCanvas;
typedef struct _RlNodeWidget    RlNodeWidget;
typedef struct _RlSocket        RlSocket;
typedef struct _RlNodeSearch    RlNodeSearch;
typedef struct _RlHistory       RlHistory;
typedef struct _RlHistoryBrowser    RlHistoryBrowser;
typedef struct _RlPreferencesWindow RlPreferencesWindow;
typedef struct _RlPoolPanel         RlPoolPanel;
typedef struct _RlQueuePanel    RlQueuePanel;
typedef struct _RlRunService    RlRunService;

G_END_DECLS
