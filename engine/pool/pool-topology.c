/* Reading raylight-topology's JSON (format "raylight-topology", version 1;
 * workers/topology/topology.c writes it). */
#include "engine/pool/pool-topology.h"

#include <json-glib/json-glib.h>

#include "raylight-config.h"
#include "engine/engine-error.h"

#define FORMAT_NAME    "raylight-topology"
#define FORMAT_VERSION 1

struct _RlPoolTopology {
  gatomicrefcount  ref_count;
  GArray          *devices;     /* RlGpuInfo */
  GArray          *links;       /* RlGpuLink */
  gboolean         synthetic;
  char            *source;
  char            *notes;
};

static void
clear_device (gpointer data)
{
  RlGpuInfo *device = data;

  g_free (device->name);
  g_free (device->pci_bus_id);
}

static void
clear_link (gpointer data)
{
  RlGpuLink *link = data;

  g_free (link->type);
  g_free (link->note);
}

static RlPoolTopology *
topology_new (void)
{
  RlPoolTopology *self = g_new0 (RlPoolTopology, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->devices = g_array_new (FALSE, TRUE, sizeof (RlGpuInfo));
  g_array_set_clear_func (self->devices, clear_device);
  self->links = g_array_new (FALSE, TRUE, sizeof (RlGpuLink));
  g_array_set_clear_func (self->links, clear_link);
  return self;
}

RlPoolTopology *
rl_pool_topology_ref (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
rl_pool_topology_unref (RlPoolTopology *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_array_unref (self->devices);
  g_array_unref (self->links);
  g_free (self->source);
  g_free (self->notes);
  g_free (self);
}

static gint64
member_int (JsonObject *object,
            const char *name,
            gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return fallback;
  return json_node_get_int (node);
}

static double
member_double (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE ? json_node_get_double (node) : 0;
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return "";
  return json_node_get_string (node);
}

static gboolean
member_bool (JsonObject *object,
             const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_TYPE (node) == JSON_NODE_VALUE &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static gboolean
fail (GError    **error,
      const char *what)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
               "The GPU topology report is not usable: %s", what);
  return FALSE;
}

static gboolean
read_devices (RlPoolTopology  *self,
              JsonArray       *devices,
              GError         **error)
{
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonNode *node = json_array_get_element (devices, i);
      JsonObject *object;
      RlGpuInfo device = { 0 };

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return fail (error, "a device is not an object");
      object = json_node_get_object (node);
      device.cuda_index = (int) member_int (object, "cuda_index", -1);
      device.name = g_strdup (member_string (object, "name"));
      device.pci_bus_id = g_strdup (member_string (object, "pci_bus_id"));
      device.memory_total = (guint64) MAX (member_int (object, "memory_total", 0), 0);
      device.memory_used = (guint64) MAX (member_int (object, "memory_used", 0), 0);
      device.utilization_gpu = (int) member_int (object, "utilization_gpu", -1);
      device.temperature_c = (int) member_int (object, "temperature_c", -1);
      device.nvlinks_active = (int) member_int (object, "nvlinks_active", -1);
      g_array_append_val (self->devices, device);
    }
  return TRUE;
}

static gboolean
read_links (RlPoolTopology  *self,
            JsonArray       *links,
            GError         **error)
{
  guint n = self->devices->len;

  for (guint i = 0; i < json_array_get_length (links); i++)
    {
      JsonNode *node = json_array_get_element (links, i);
      JsonObject *object;
      RlGpuLink link = { 0 };

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return fail (error, "a link is not an object");
      object = json_node_get_object (node);
      link.from = (int) member_int (object, "from", -1);
      link.to = (int) member_int (object, "to", -1);
      if (link.from < 0 || link.to < 0 || (guint) link.from >= n || (guint) link.to >= n || link.from == link.to)
        return fail (error, "a link names a device that is not listed");
      link.type = g_strdup (member_string (object, "type"));
      link.nvlinks = (int) member_int (object, "nvlinks", 0);
      link.peer_access = member_bool (object, "peer_access");
      link.measured = member_bool (object, "measured");
      link.staged = member_bool (object, "staged");
      link.data_ok = member_bool (object, "data_ok");
      link.bandwidth_gbs = member_double (object, "bandwidth_gbs");
      link.note = g_strdup (member_string (object, "note"));
      g_array_append_val (self->links, link);
    }
  return TRUE;
}

static char *
join_notes (JsonObject *root)
{
  const char *nvml = member_string (root, "nvml_note");
  const char *cuda = member_string (root, "cuda_note");

  if (*nvml != '\0' && *cuda != '\0')
    return g_strdup_printf ("%s. %s.", nvml, cuda);
  if (*nvml != '\0' || *cuda != '\0')
    return g_strdup_printf ("%s.", *nvml != '\0' ? nvml : cuda);
  return g_strdup ("");
}

RlPoolTopology *
rl_pool_topology_parse (const char  *json,
                        gssize       length,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(RlPoolTopology) self = NULL;
  g_autoptr(GError) parse_error = NULL;
  JsonObject *root;
  JsonNode *devices, *links;
  const char *source;

  g_return_val_if_fail (json != NULL, NULL);
  if (!json_parser_load_from_data (parser, json, length, &parse_error))
    {
      fail (error, parse_error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      fail (error, "it is not a JSON object");
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (member_string (root, "format"), FORMAT_NAME) != 0 ||
      member_int (root, "version", 0) != FORMAT_VERSION)
    {
      fail (error, "it is not version 1 of raylight-topology's output");
      return NULL;
    }
  devices = json_object_get_member (root, "devices");
  links = json_object_get_member (root, "links");
  if (devices == NULL || !JSON_NODE_HOLDS_ARRAY (devices) || links == NULL || !JSON_NODE_HOLDS_ARRAY (links))
    {
      fail (error, "the devices or links list is missing");
      return NULL;
    }
  self = topology_new ();
  if (!read_devices (self, json_node_get_array (devices), error) ||
      !read_links (self, json_node_get_array (links), error))
    return NULL;
  self->synthetic = member_bool (root, "synthetic");
  source = member_string (root, "source");
  self->source = g_strdup (*source != '\0' ? source
                                           : self->synthetic ? "synthetic data" : "measured on this machine");
  self->notes = join_notes (root);
  return g_steal_pointer (&self);
}

RlPoolTopology *
rl_pool_topology_load_file (const char  *path,
                            GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;
  RlPoolTopology *self;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  self = rl_pool_topology_parse (contents, (gssize) length, &local);
  if (self == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL, "%s: %s", path, local->message);
      return NULL;
    }
  /* A report read from a file was measured elsewhere or earlier: the panel
   * must not call it this machine's. */
  if (!self->synthetic && g_str_equal (self->source, "measured on this machine"))
    {
      g_autofree char *name = g_path_get_basename (path);

      g_free (self->source);
      self->source = g_strdup_printf ("captured report %s", name);
    }
  return self;
}

char *
rl_pool_topology_find_tool (void)
{
  const char *env = g_getenv ("RAYLIGHT_TOPOLOGY_TOOL");
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  /* From the build tree: build/app/raylight or build/tests/x/test beside
   * build/workers/topology/raylight-topology. */
  {
    g_autofree char *in_build = g_build_filename (RAYLIGHT_BUILD_DIR, "workers", "topology",
                                                  "raylight-topology", NULL);
    if (exe != NULL && g_str_has_prefix (exe, RAYLIGHT_BUILD_DIR) &&
        g_file_test (in_build, G_FILE_TEST_IS_EXECUTABLE))
      return g_steal_pointer (&in_build);
  }
  return g_build_filename (RAYLIGHT_LIBEXEC_DIR, "raylight-topology", NULL);
}

RlPoolTopology *
rl_pool_topology_run (const char  *tool_path,
                      gboolean     measure,
                      guint        timeout_s,
                      GError     **error)
{
  g_autofree char *timeout = g_strdup_printf ("%u", MAX (timeout_s, 1));
  const char *argv[] = { "timeout", "--kill-after=5", timeout, tool_path, measure ? NULL : "--no-bandwidth", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) local = NULL;
  RlPoolTopology *self;

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  if (process == NULL || !g_subprocess_communicate (process, NULL, NULL, &out, &err, error))
    return NULL;
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    {
      g_autofree char *message = g_bytes_get_size (err) > 0
                                   ? g_strndup (g_bytes_get_data (err, NULL), MIN (g_bytes_get_size (err), 400))
                                   : g_strdup ("");
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
                   "The GPU self-test %s failed%s: %s", tool_path,
                   g_subprocess_get_if_exited (process) && g_subprocess_get_exit_status (process) == 124
                     ? " (it ran out of time: a GPU or its driver may be hung)" : "",
                   *g_strstrip (message) != '\0' ? message : "no message");
      return NULL;
    }
  self = rl_pool_topology_parse (g_bytes_get_data (out, NULL), (gssize) g_bytes_get_size (out), &local);
  if (self == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL, "%s printed %s", tool_path, local->message);
  return self;
}

guint
rl_pool_topology_get_n_devices (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->devices->len;
}

const RlGpuInfo *
rl_pool_topology_get_device (RlPoolTopology *self,
                             guint           index)
{
  g_return_val_if_fail (self != NULL, NULL);
  return index < self->devices->len ? &g_array_index (self->devices, RlGpuInfo, index) : NULL;
}

const RlGpuLink *
rl_pool_topology_get_link (RlPoolTopology *self,
                           guint           from,
                           guint           to)
{
  g_return_val_if_fail (self != NULL, NULL);
  for (guint i = 0; i < self->links->len; i++)
    {
      const RlGpuLink *link = &g_array_index (self->links, RlGpuLink, i);

      if ((guint) link->from == from && (guint) link->to == to)
        return link;
    }
  return NULL;
}

gboolean
rl_pool_topology_is_synthetic (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->synthetic;
}

const char *
rl_pool_topology_get_source (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->source;
}

const char *
rl_pool_topology_get_notes (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->notes;
}

gboolean
rl_pool_topology_p2p_broken (RlPoolTopology *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  for (guint i = 0; i < self->links->len; i++)
    {
      const RlGpuLink *link = &g_array_index (self->links, RlGpuLink, i);

      if (link->measured && !link->staged && !link->data_ok)
        return TRUE;
    }
  return FALSE;
}

char *
rl_gpu_link_describe (const RlGpuLink *link)
{
  static const struct { const char *type, *label; } labels[] = {
    { "pcie-switch", "PCIe switch" }, { "host-bridge", "Host bridge" }, { "numa-node", "NUMA node" },
    { "system", "Across CPUs" }, { "same-board", "Same board" },
  };

  if (g_strcmp0 (link->type, "nvlink") == 0)
    return link->nvlinks > 0 ? g_strdup_printf ("NVLink ×%d", link->nvlinks) : g_strdup ("NVLink");
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (link->type, labels[i].type) == 0)
      return g_strdup (labels[i].label);
  return g_strdup ("Unknown");
}

double
rl_gpu_link_cost (const RlGpuLink *link)
{
  static const struct { const char *type; double cost; } by_type[] = {
    { "same-board", 1 }, { "nvlink", 1 }, { "pcie-switch", 6 }, { "host-bridge", 8 },
    { "numa-node", 10 }, { "system", 16 },
  };

  /* 400 GB/s (NVLink 4 on H100) is cost 1; 25 GB/s (PCIe 4 staged) 16. */
  if (link->measured && link->data_ok && link->bandwidth_gbs > 0)
    return 400.0 / link->bandwidth_gbs;
  for (guint i = 0; i < G_N_ELEMENTS (by_type); i++)
    if (g_strcmp0 (link->type, by_type[i].type) == 0)
      return by_type[i].cost;
  return 16;
}
