/* aero-filter.h — per-session frame filters between channel and stack.
 *
 * A filter sees every frame of its session, in both directions, and says
 * whether it passes. It may answer the guest itself through
 * aero_session_send_to_guest() (a TCP RST for a refused flow, say). A
 * filter plugin's component is an AeroFilterFactory that makes one filter
 * per session. */
#pragma once

#include <aero-net/aero-component.h>
#include <aero-net/aero-frame.h>

G_BEGIN_DECLS

typedef struct _AeroSession AeroSession;

/**
 * AeroFilterVerdict:
 * @AERO_FILTER_PASS: the frame goes on.
 * @AERO_FILTER_DROP: the frame is dropped and counted as a drop.
 * @AERO_FILTER_CONSUMED: the filter handled the frame itself (answered it);
 *   it goes no further and is not counted as a drop.
 */
typedef enum {
  AERO_FILTER_PASS,
  AERO_FILTER_DROP,
  AERO_FILTER_CONSUMED,
} AeroFilterVerdict;

#define AERO_TYPE_FILTER (aero_filter_get_type ())
G_DECLARE_INTERFACE (AeroFilter, aero_filter, AERO, FILTER, GObject)

/**
 * AeroFilterInterface:
 * @from_guest: judge a frame on its way from the guest to the stack.
 * @to_guest: judge a frame on its way from the stack to the guest.
 */
struct _AeroFilterInterface
{
  GTypeInterface g_iface;

  AeroFilterVerdict (*from_guest) (AeroFilter *self, GBytes *frame);
  AeroFilterVerdict (*to_guest) (AeroFilter *self, GBytes *frame);

  gpointer padding[8];
};

/**
 * aero_filter_from_guest:
 * @self: a filter
 * @frame: (transfer none): the frame
 *
 * Returns: the verdict for a frame from the guest (PASS when unimplemented).
 */
AeroFilterVerdict aero_filter_from_guest (AeroFilter *self, GBytes *frame);

/**
 * aero_filter_to_guest:
 * @self: a filter
 * @frame: (transfer none): the frame
 *
 * Returns: the verdict for a frame to the guest (PASS when unimplemented).
 */
AeroFilterVerdict aero_filter_to_guest (AeroFilter *self, GBytes *frame);

#define AERO_TYPE_FILTER_FACTORY (aero_filter_factory_get_type ())
G_DECLARE_INTERFACE (AeroFilterFactory, aero_filter_factory, AERO, FILTER_FACTORY, AeroComponent)

/**
 * AeroFilterFactoryInterface:
 * @create_filter: make the filter of a new session.
 */
struct _AeroFilterFactoryInterface
{
  GTypeInterface g_iface;

  AeroFilter *(*create_filter) (AeroFilterFactory *self, AeroSession *session, GError **error);

  gpointer padding[8];
};

/**
 * aero_filter_factory_create_filter:
 * @self: a filter factory
 * @session: the new session
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a filter, or %NULL with @error set.
 */
AeroFilter *aero_filter_factory_create_filter (AeroFilterFactory *self, AeroSession *session,
                                               GError **error);

G_END_DECLS
