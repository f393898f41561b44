/* Values, image/latent payloads and socket types. */
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/graph/node-type.h"
#include "engine/graph/value.h"
#include "test-graph-nodes.h"

static void
count_destroy (gpointer data)
{
  (*(int *) data)++;
}

static void
test_value_scalars (void)
{
  gint64 i = (gint64) g_test_rand_int () * 4099 + 1;
  double f = g_test_rand_double_range (-1e6, 1e6);
  g_autoptr(RlValue) vi = rl_value_new_int (i);
  g_autoptr(RlValue) vf = rl_value_new_float (f);
  g_autoptr(RlValue) vs = rl_value_new_string ("a lighthouse");
  g_autoptr(RlValue) vb = rl_value_new_boolean (42);

  g_assert_cmpint (rl_value_get_kind (vi), ==, RL_VALUE_INT);
  g_assert_cmpint (rl_value_get_int (vi), ==, i);
  g_assert_cmpfloat (rl_value_get_float (vi), ==, (double) i);
  g_assert_cmpstr (rl_value_get_type_name (vi), ==, "INT");
  g_assert_cmpfloat (rl_value_get_float (vf), ==, f);
  g_assert_cmpstr (rl_value_get_type_name (vf), ==, "FLOAT");
  g_assert_cmpstr (rl_value_get_string (vs), ==, "a lighthouse");
  g_assert_cmpstr (rl_value_get_type_name (vs), ==, "STRING");
  g_assert_true (rl_value_get_boolean (vb) == TRUE);
  g_assert_cmpstr (rl_value_get_type_name (vb), ==, "BOOLEAN");
}

static void
test_value_object_refcount (void)
{
  int destroyed = 0;
  RlValue *value = rl_value_new_object ("MODEL", &destroyed, count_destroy);
  RlValue *second = rl_value_ref (value);

  g_assert_true (second == value);
  g_assert_cmpstr (rl_value_get_type_name (value), ==, "MODEL");
  g_assert_true (rl_value_get_object (value, "MODEL") == &destroyed);
  rl_value_unref (value);
  g_assert_cmpint (destroyed, ==, 0);
  rl_value_unref (second);
  g_assert_cmpint (destroyed, ==, 1);
}

static void
test_value_object_wrong_type (void)
{
  int destroyed = 0;
  g_autoptr(RlValue) value = rl_value_new_object ("LATENT", &destroyed, count_destroy);

  g_test_expect_message ("raylight", G_LOG_LEVEL_CRITICAL, "*strcmp*");
  g_assert_null (rl_value_get_object (value, "IMAGE"));
  g_test_assert_expected_messages ();
}

static void
test_image_new (void)
{
  guint frames = 1 + g_test_rand_int_range (0, 4);
  guint height = 1 + g_test_rand_int_range (0, 64);
  guint width = 1 + g_test_rand_int_range (0, 64);
  g_autoptr(GError) error = NULL;
  RlImage *image = rl_image_new (frames, height, width, &error);
  g_autoptr(RlValue) value = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (rl_image_n_floats (image), ==, (gsize) frames * height * width * 3);
  for (gsize k = 0; k < rl_image_n_floats (image); k++)
    g_assert_cmpfloat (image->pixels[k], ==, 0.0f);
  image->pixels[rl_image_n_floats (image) - 1] = 1.0f;   /* the whole buffer is ours */
  value = rl_value_new_image (image);
  g_assert_cmpstr (rl_value_get_type_name (value), ==, "IMAGE");
  g_assert_true (rl_value_get_object (value, "IMAGE") == image);
}

static void
test_latent_new (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlLatent) latent = rl_latent_new (2, 16, 5, 30, 52, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (rl_latent_n_floats (latent), ==, (gsize) 2 * 16 * 5 * 30 * 52);
  g_assert_cmpuint (latent->frames, ==, 5);
  latent->samples[rl_latent_n_floats (latent) - 1] = -1.0f;
}

static void
test_payload_limits (void)
{
  g_autoptr(GError) error = NULL;
  RlImage *image;
  RlLatent *latent;

  /* Overflows guint64 arithmetic in a naive product. */
  latent = rl_latent_new (G_MAXUINT, G_MAXUINT, G_MAXUINT, G_MAXUINT, G_MAXUINT, &error);
  g_assert_null (latent);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION);
  g_assert_nonnull (strstr (error->message, "GiB"));
  g_clear_error (&error);

  /* Fits in 64 bits but is far past the limit. */
  image = rl_image_new (1000, 16384, 16384, &error);
  g_assert_null (image);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION);
  g_assert_nonnull (strstr (error->message, "frames=1000"));
  g_clear_error (&error);

  image = rl_image_new (1, 0, 64, &error);
  g_assert_null (image);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION);
  g_assert_nonnull (strstr (error->message, "height"));
}

static void
test_socket_types (void)
{
  g_assert_true (rl_socket_types_compatible ("LATENT", "LATENT"));
  g_assert_false (rl_socket_types_compatible ("IMAGE", "LATENT"));
  g_assert_true (rl_socket_types_compatible ("*", "MODEL"));
  g_assert_true (rl_socket_types_compatible ("MODEL", "*"));
  g_assert_true (rl_socket_types_compatible ("IMAGE,MASK", "MASK"));
  g_assert_true (rl_socket_types_compatible ("MASK", "IMAGE, MASK"));
  g_assert_false (rl_socket_types_compatible ("IMAGE,MASK", "LATENT,VIDEO"));
  g_assert_false (rl_socket_types_compatible ("IMAGE", "IMAGES"));
}

static void
test_node_type_lookups (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  const RlNodeType *ksampler = rl_registry_lookup (registry, "KSampler");
  const RlNodeType *loader = rl_registry_lookup (registry, "CheckpointLoaderSimple");

  g_assert_nonnull (ksampler);
  g_assert_cmpstr (rl_node_type_find_input (ksampler, "steps")->name, ==, "steps");
  g_assert_null (rl_node_type_find_input (ksampler, "stepz"));
  g_assert_cmpint (rl_node_type_output_index (loader, "VAE"), ==, 2);
  g_assert_cmpint (rl_node_type_output_index (loader, "LATENT"), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/graph/value/scalars", test_value_scalars);
  g_test_add_func ("/graph/value/object-refcount", test_value_object_refcount);
  g_test_add_func ("/graph/value/object-wrong-type", test_value_object_wrong_type);
  g_test_add_func ("/graph/image/new", test_image_new);
  g_test_add_func ("/graph/latent/new", test_latent_new);
  g_test_add_func ("/graph/payload/limits", test_payload_limits);
  g_test_add_func ("/graph/socket-types/compatible", test_socket_types);
  g_test_add_func ("/graph/node-type/lookups", test_node_type_lookups);
  return g_test_run ();
}
