/* aero-stack.c — the stack and stack factory interfaces. */
#include "aero-net/aero-stack.h"

G_DEFINE_INTERFACE (AeroStack, aero_stack, G_TYPE_OBJECT)

static void
aero_stack_default_init (AeroStackInterface *iface)
{
}

void
aero_stack_close (AeroStack *self)
{
  AeroStackInterface *iface;

  g_return_if_fail (AERO_IS_STACK (self));
  iface = AERO_STACK_GET_IFACE (self);
  if (iface->close)
    iface->close (self);
}

G_DEFINE_INTERFACE (AeroStackFactory, aero_stack_factory, AERO_TYPE_COMPONENT)

static void
aero_stack_factory_default_init (AeroStackFactoryInterface *iface)
{
}

AeroStack *
aero_stack_factory_create_stack (AeroStackFactory *self, AeroSession *session, GError **error)
{
  AeroStackFactoryInterface *iface;
  AeroStack *stack;

  g_return_val_if_fail (AERO_IS_STACK_FACTORY (self), NULL);
  iface = AERO_STACK_FACTORY_GET_IFACE (self);
  g_return_val_if_fail (iface->create_stack != NULL, NULL);

  stack = iface->create_stack (self, session, error);
  g_return_val_if_fail (stack == NULL || (AERO_IS_FRAME_SINK (stack) && AERO_IS_FRAME_SOURCE (stack)),
                        NULL);
  return stack;
}
