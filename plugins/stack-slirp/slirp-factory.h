/* slirp-factory.h — the stack-slirp component: validates its group,
 * declares its metrics, owns the DNS cache and the DNS lookup limit its
 * sessions share, and makes one AeroSlirpStack per session. */
#pragma once

#include <aero-net/aero-net.h>

#include "dns-cache.h"
#include "slirp-dns.h"
#include "slirp-metrics.h"
#include "slirp-settings.h"

G_BEGIN_DECLS

#define AERO_TYPE_SLIRP_FACTORY (aero_slirp_factory_get_type ())
G_DECLARE_FINAL_TYPE (AeroSlirpFactory, aero_slirp_factory, AERO, SLIRP_FACTORY, GObject)

const char *aero_slirp_factory_get_instance (AeroSlirpFactory *self);

AeroSlirpSettings *aero_slirp_factory_get_settings (AeroSlirpFactory *self);

AeroDnsCache *aero_slirp_factory_get_dns_cache (AeroSlirpFactory *self);

AeroSlirpDnsLimit *aero_slirp_factory_get_dns_limit (AeroSlirpFactory *self);

AeroSlirpMetrics *aero_slirp_factory_get_metrics (AeroSlirpFactory *self);

/* The burst the instance's sessions share; NULL without merge or before
 * start(). Declared in slirp-stack.h. */
struct _AeroSlirpBurst *aero_slirp_factory_get_burst (AeroSlirpFactory *self);

G_END_DECLS
