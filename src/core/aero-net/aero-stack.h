/* aero-stack.h — per-session networks behind a channel.
 *
 * A stack plugin's component is an AeroStackFactory; the core asks it for
 * one AeroStack per session. A stack takes frames from the guest as a sink
 * and emits frames to the guest as a source; on the host side it uses real
 * sockets. close() releases every socket and timer at once; the stack is
 * then unreffed. */
#pragma once

#include <aero-net/aero-component.h>
#include <aero-net/aero-frame.h>

G_BEGIN_DECLS

typedef struct _AeroSession AeroSession;

#define AERO_TYPE_STACK (aero_stack_get_type ())
G_DECLARE_INTERFACE (AeroStack, aero_stack, AERO, STACK, GObject)

/**
 * AeroStackInterface:
 * @close: optional; release every socket, timer and buffer now. After it,
 *   pushes answer %AERO_FLOW_CLOSED and nothing is emitted.
 *
 * A stack must also implement #AeroFrameSink and #AeroFrameSource.
 */
struct _AeroStackInterface
{
  GTypeInterface g_iface;

  void (*close) (AeroStack *self);

  gpointer padding[8];
};

/**
 * aero_stack_close:
 * @self: a stack
 *
 * Releases the stack's resources. Idempotent.
 */
void aero_stack_close (AeroStack *self);

#define AERO_TYPE_STACK_FACTORY (aero_stack_factory_get_type ())
G_DECLARE_INTERFACE (AeroStackFactory, aero_stack_factory, AERO, STACK_FACTORY, AeroComponent)

/**
 * AeroStackFactoryInterface:
 * @create_stack: make the stack of a new session.
 */
struct _AeroStackFactoryInterface
{
  GTypeInterface g_iface;

  AeroStack *(*create_stack) (AeroStackFactory *self, AeroSession *session, GError **error);

  gpointer padding[8];
};

/**
 * aero_stack_factory_create_stack:
 * @self: a stack factory
 * @session: the session the stack belongs to
 * @error: return location for a #GError
 *
 * Creates a stack for @session.
 *
 * Returns: (transfer full) (nullable): a stack implementing #AeroFrameSink
 *   and #AeroFrameSource, or %NULL with @error set.
 */
AeroStack *aero_stack_factory_create_stack (AeroStackFactory *self, AeroSession *session,
                                            GError **error);

G_END_DECLS
