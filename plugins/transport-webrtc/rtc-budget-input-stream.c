/* rtc-budget-input-stream.c — a pollable input filter with a byte budget
 * (see the header). */
#include "rtc-budget-input-stream.h"

struct _RtcBudgetInputStream
{
  GFilterInputStream parent_instance;

  guint64 budget;
  guint64 consumed;
};

static void rtc_budget_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (RtcBudgetInputStream, rtc_budget_input_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      rtc_budget_input_stream_pollable_init))

static GInputStream *
base_of (gpointer self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* How much may be read now; FALSE (with @error set) once the budget is spent. */
static gboolean
allowance (RtcBudgetInputStream *self, gsize *count, GError **error)
{
  if (self->consumed >= self->budget)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "the signalling connection sent more than %" G_GUINT64_FORMAT " bytes",
                   self->budget);
      return FALSE;
    }
  *count = (gsize) MIN ((guint64) *count, self->budget - self->consumed);
  return TRUE;
}

static gssize
rtc_budget_input_stream_read (GInputStream *stream, void *buffer, gsize count,
                              GCancellable *cancellable, GError **error)
{
  RtcBudgetInputStream *self = RTC_BUDGET_INPUT_STREAM (stream);
  gssize n;

  if (!allowance (self, &count, error))
    return -1;
  n = g_input_stream_read (base_of (self), buffer, count, cancellable, error);
  if (n > 0)
    self->consumed += (guint64) n;
  return n;
}

static gboolean
rtc_budget_input_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_of (stream);

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
rtc_budget_input_stream_is_readable (GPollableInputStream *stream)
{
  /* A spent budget reads at once (as an error). */
  return RTC_BUDGET_INPUT_STREAM (stream)->consumed >= RTC_BUDGET_INPUT_STREAM (stream)->budget ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (stream)));
}

static GSource *
rtc_budget_input_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) base_source = NULL;

  base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of (stream)),
                                                       NULL);
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
rtc_budget_input_stream_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                                          GError **error)
{
  RtcBudgetInputStream *self = RTC_BUDGET_INPUT_STREAM (stream);
  gssize n;

  if (!allowance (self, &count, error))
    return -1;
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)), buffer,
                                                count, NULL, error);
  if (n > 0)
    self->consumed += (guint64) n;
  return n;
}

static void
rtc_budget_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = rtc_budget_input_stream_can_poll;
  iface->is_readable = rtc_budget_input_stream_is_readable;
  iface->create_source = rtc_budget_input_stream_create_source;
  iface->read_nonblocking = rtc_budget_input_stream_read_nonblocking;
}

static void
rtc_budget_input_stream_class_init (RtcBudgetInputStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = rtc_budget_input_stream_read;
}

static void
rtc_budget_input_stream_init (RtcBudgetInputStream *self)
{
}

/**
 * rtc_budget_input_stream_new:
 * @base: a pollable input stream (not closed with this one)
 * @budget: bytes that may be read in all
 *
 * Returns: (transfer full): the filter.
 */
RtcBudgetInputStream *
rtc_budget_input_stream_new (GInputStream *base, guint64 budget)
{
  RtcBudgetInputStream *self = g_object_new (RTC_TYPE_BUDGET_INPUT_STREAM, "base-stream", base,
                                             "close-base-stream", FALSE, NULL);

  self->budget = budget;
  return self;
}

gboolean
rtc_budget_input_stream_is_spent (RtcBudgetInputStream *self)
{
  return self->consumed >= self->budget;
}
