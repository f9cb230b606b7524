/* rtc-budget-input-stream.h — an input stream that stops after a byte budget.
 *
 * libsoup 3.2 reassembles a fragmented WebSocket message without any
 * bound. A signalling WebSocket carries one offer and some candidates, so
 * the whole connection gets a budget instead: past signal-max-bytes every
 * read fails with G_IO_ERROR_MESSAGE_TOO_LARGE and libsoup closes the
 * connection. No message can grow beyond the budget. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RTC_TYPE_BUDGET_INPUT_STREAM (rtc_budget_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (RtcBudgetInputStream, rtc_budget_input_stream, RTC, BUDGET_INPUT_STREAM,
                      GFilterInputStream)

RtcBudgetInputStream *rtc_budget_input_stream_new (GInputStream *base, guint64 budget);
gboolean rtc_budget_input_stream_is_spent (RtcBudgetInputStream *self);

G_END_DECLS
