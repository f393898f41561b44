/* Forward typedefs shared by the engine's modules, so headers need not
 * include each other. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RlValue        RlValue;
typedef struct _RlImage        RlImage;
typedef struct _RlLatent       RlLatent;
typedef struct _RlNodeType     RlNodeType;
typedef struct _RlInputSpec    RlInputSpec;
typedef struct _RlOutputSpec   RlOutputSpec;
typedef struct _RlNodeContext  RlNodeContext;
typedef struct _RlRegistry     RlRegistry;
typedef struct _RlGraph        RlGraph;
typedef struct _RlWorkflow     RlWorkflow;
typedef struct _RlExecutor     RlExecutor;
typedef struct _RlEvent        RlEvent;
typedef struct _RlJobQueue     RlJobQueue;
typedef struct _RlHistory      RlHistory;
typedef struct _RlModelPaths   RlModelPaths;
typedef struct _RlPoolService  RlPoolService;

G_END_DECLS
