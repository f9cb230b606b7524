/* aero-transport.h — components that bring clients in.
 *
 * A transport listens (on the core HTTP server or on its own sockets) or
 * connects out, and for every client creates an AeroChannel and calls
 * aero_host_open_session(). It refuses new clients once stop_accepting()
 * has been called. */
#pragma once

#include <aero-net/aero-component.h>
#include <aero-net/aero-channel.h>

G_BEGIN_DECLS

#define AERO_TYPE_TRANSPORT (aero_transport_get_type ())
G_DECLARE_INTERFACE (AeroTransport, aero_transport, AERO, TRANSPORT, AeroComponent)

/**
 * AeroTransportInterface:
 * @stop_accepting: refuse new clients from now on (shutdown has begun);
 *   existing channels stay open until the core closes them.
 */
struct _AeroTransportInterface
{
  GTypeInterface g_iface;

  void (*stop_accepting) (AeroTransport *self);

  gpointer padding[8];
};

/**
 * aero_transport_stop_accepting:
 * @self: a transport
 *
 * Makes the transport refuse new clients.
 */
void aero_transport_stop_accepting (AeroTransport *self);

G_END_DECLS
