/* aero-net.h — the one header plugins and embedders include. */
#pragma once

#include <aero-net/aero-version.h>
#include <aero-net/aero-frame.h>
#include <aero-net/aero-config.h>
#include <aero-net/aero-log.h>
#include <aero-net/aero-metrics.h>
#include <aero-net/aero-component.h>
#include <aero-net/aero-plugin.h>
#include <aero-net/aero-channel.h>
#include <aero-net/aero-session.h>
#include <aero-net/aero-filter.h>
#include <aero-net/aero-policy.h>
#include <aero-net/aero-ratelimit.h>
#include <aero-net/aero-stack.h>
#include <aero-net/aero-transport.h>
#include <aero-net/aero-nic.h>
#include <aero-net/aero-host.h>
#include <aero-net/aero-l2-tunnel.h>
#include <aero-net/aero-http-upgrade.h>
#include <aero-net/aero-admission.h>
#include <aero-net/aero-watch.h>
#include <aero-net/aero-checksum.h>
#include <aero-net/aero-tcp-merge.h>
