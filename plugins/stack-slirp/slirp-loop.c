/* slirp-loop.c — the GSource and timers that drive one Slirp (see
 * slirp-loop.h). Nothing here blocks: libslirp's sockets are non-blocking
 * and only touched when poll() reported them ready. */
#include "slirp-loop.h"

typedef struct {
  int fd;
  gpointer tag;
  GIOCondition events;
  guint generation;
} PollEntry;

typedef struct {
  GSource source;
  AeroSlirpLoop *loop;
} PollSource;

typedef struct {
  GSource source;
  AeroSlirpLoop *loop;
  SlirpTimerId id;
  void *cb_opaque;
} TimerSource;

struct _AeroSlirpLoop
{
  GMainContext *context;
  GObject *owner; /* unowned; referenced while libslirp runs */
  Slirp *slirp;
  GSource *poll_source;
  GHashTable *fds;  /* fd → PollEntry, owned */
  GPtrArray *polled; /* index given to libslirp → PollEntry */
  GList *timers;    /* TimerSource, one reference each */
  guint generation;
  gint64 deadline;  /* monotonic µs, -1 for none */
  guint depth;
  gboolean destroyed;
};

int64_t
aero_slirp_loop_clock_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

static GIOCondition
condition_from_slirp (int events)
{
  GIOCondition cond = 0;

  if (events & SLIRP_POLL_IN)
    cond |= G_IO_IN;
  if (events & SLIRP_POLL_OUT)
    cond |= G_IO_OUT;
  if (events & SLIRP_POLL_PRI)
    cond |= G_IO_PRI;
  if (events & SLIRP_POLL_ERR)
    cond |= G_IO_ERR;
  if (events & SLIRP_POLL_HUP)
    cond |= G_IO_HUP;
  return cond;
}

static int
condition_to_slirp (GIOCondition cond)
{
  int events = 0;

  if (cond & G_IO_IN)
    events |= SLIRP_POLL_IN;
  if (cond & G_IO_OUT)
    events |= SLIRP_POLL_OUT;
  if (cond & G_IO_PRI)
    events |= SLIRP_POLL_PRI;
  if (cond & (G_IO_ERR | G_IO_NVAL))
    events |= SLIRP_POLL_ERR;
  if (cond & G_IO_HUP)
    events |= SLIRP_POLL_HUP;
  return events;
}

/* ---- polling ---------------------------------------------------------------- */

static int
add_poll_cb (int fd, int events, void *opaque)
{
  AeroSlirpLoop *loop = opaque;
  GIOCondition cond = condition_from_slirp (events);
  PollEntry *entry = g_hash_table_lookup (loop->fds, GINT_TO_POINTER (fd));

  if (entry == NULL)
    {
      entry = g_new0 (PollEntry, 1);
      entry->fd = fd;
      entry->events = cond;
      entry->tag = g_source_add_unix_fd (loop->poll_source, fd, cond);
      g_hash_table_insert (loop->fds, GINT_TO_POINTER (fd), entry);
    }
  else
    {
      if (entry->generation == loop->generation)
        cond |= entry->events;
      if (cond != entry->events)
        {
          g_source_modify_unix_fd (loop->poll_source, entry->tag, cond);
          entry->events = cond;
        }
    }
  entry->generation = loop->generation;
  g_ptr_array_add (loop->polled, entry);
  return (int) loop->polled->len - 1;
}

static int
get_revents_cb (int idx, void *opaque)
{
  AeroSlirpLoop *loop = opaque;
  PollEntry *entry;

  if (idx < 0 || (guint) idx >= loop->polled->len)
    return 0;
  entry = g_ptr_array_index (loop->polled, idx);
  return condition_to_slirp (g_source_query_unix_fd (loop->poll_source, entry->tag));
}

static gboolean
poll_source_prepare (GSource *source, gint *timeout)
{
  AeroSlirpLoop *loop = ((PollSource *) source)->loop;
  uint32_t slirp_timeout = UINT32_MAX;
  GHashTableIter iter;
  PollEntry *entry;

  *timeout = -1;
  if (loop->destroyed || loop->slirp == NULL)
    return FALSE;

  loop->generation++;
  g_ptr_array_set_size (loop->polled, 0);
  slirp_pollfds_fill (loop->slirp, &slirp_timeout, add_poll_cb, loop);

  g_hash_table_iter_init (&iter, loop->fds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->generation != loop->generation)
      {
        g_source_remove_unix_fd (source, entry->tag);
        g_hash_table_iter_remove (&iter);
      }

  if (slirp_timeout == UINT32_MAX)
    {
      loop->deadline = -1;
      return FALSE;
    }
  loop->deadline = g_source_get_time (source) + (gint64) slirp_timeout * 1000;
  *timeout = (gint) MIN (slirp_timeout, (uint32_t) G_MAXINT);
  return slirp_timeout == 0;
}

static gboolean
poll_source_check (GSource *source)
{
  AeroSlirpLoop *loop = ((PollSource *) source)->loop;

  if (loop->destroyed)
    return FALSE;
  if (loop->deadline >= 0 && g_source_get_time (source) >= loop->deadline)
    return TRUE;
  for (guint i = 0; i < loop->polled->len; i++)
    {
      PollEntry *entry = g_ptr_array_index (loop->polled, i);

      if (g_source_query_unix_fd (source, entry->tag) != 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
poll_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  AeroSlirpLoop *loop = ((PollSource *) source)->loop;
  Slirp *slirp;

  g_source_set_ready_time (source, -1);
  slirp = aero_slirp_loop_enter (loop);
  if (slirp != NULL)
    {
      slirp_pollfds_poll (slirp, 0, get_revents_cb, loop);
      aero_slirp_loop_leave (loop);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poll_source_funcs = {
  .prepare = poll_source_prepare,
  .check = poll_source_check,
  .dispatch = poll_source_dispatch,
};

/* ---- timers -------------------------------------------------------------------- */

static gboolean
timer_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  TimerSource *timer = (TimerSource *) source;
  AeroSlirpLoop *loop = timer->loop;
  Slirp *slirp;

  g_source_set_ready_time (source, -1);
  slirp = aero_slirp_loop_enter (loop);
  if (slirp != NULL)
    {
      slirp_handle_timer (slirp, timer->id, timer->cb_opaque);
      aero_slirp_loop_leave (loop);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_source_funcs = {
  .dispatch = timer_source_dispatch,
};

void *
aero_slirp_loop_timer_new (AeroSlirpLoop *loop, SlirpTimerId id, void *cb_opaque)
{
  GSource *source = g_source_new (&timer_source_funcs, sizeof (TimerSource));
  TimerSource *timer = (TimerSource *) source;

  timer->loop = loop;
  timer->id = id;
  timer->cb_opaque = cb_opaque;
  g_source_set_name (source, "slirp timer");
  g_source_set_ready_time (source, -1);
  g_source_attach (source, loop->context);
  loop->timers = g_list_prepend (loop->timers, timer);
  return timer;
}

void
aero_slirp_loop_timer_mod (void *timer, int64_t expire_ms)
{
  g_source_set_ready_time ((GSource *) timer, MAX (expire_ms, 0) * 1000);
}

void
aero_slirp_loop_timer_free (void *timer)
{
  TimerSource *t = timer;

  t->loop->timers = g_list_remove (t->loop->timers, t);
  g_source_destroy (&t->source);
  g_source_unref (&t->source);
}

/* ---- lifetime ----------------------------------------------------------------------- */

AeroSlirpLoop *
aero_slirp_loop_new (GMainContext *context, GObject *owner)
{
  AeroSlirpLoop *loop = g_new0 (AeroSlirpLoop, 1);

  loop->context = g_main_context_ref (context);
  loop->owner = owner;
  loop->fds = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  loop->polled = g_ptr_array_new ();
  loop->deadline = -1;
  return loop;
}

void
aero_slirp_loop_start (AeroSlirpLoop *loop, Slirp *slirp)
{
  g_return_if_fail (loop->slirp == NULL && loop->poll_source == NULL);

  loop->slirp = slirp;
  loop->poll_source = g_source_new (&poll_source_funcs, sizeof (PollSource));
  ((PollSource *) loop->poll_source)->loop = loop;
  g_source_set_name (loop->poll_source, "slirp sockets");
  g_source_attach (loop->poll_source, loop->context);
}

/* Frees the Slirp (closing its sockets and freeing its timers through
 * the callbacks), then everything else. */
static void
loop_finalize (AeroSlirpLoop *loop)
{
  g_clear_pointer (&loop->slirp, slirp_cleanup);
  while (loop->timers != NULL)
    aero_slirp_loop_timer_free (loop->timers->data);
  if (loop->poll_source != NULL)
    {
      g_source_destroy (loop->poll_source);
      g_clear_pointer (&loop->poll_source, g_source_unref);
    }
  g_hash_table_unref (loop->fds);
  g_ptr_array_unref (loop->polled);
  g_main_context_unref (loop->context);
  g_free (loop);
}

Slirp *
aero_slirp_loop_enter (AeroSlirpLoop *loop)
{
  if (loop->destroyed || loop->slirp == NULL)
    return NULL;
  loop->depth++;
  g_object_ref (loop->owner);
  return loop->slirp;
}

void
aero_slirp_loop_leave (AeroSlirpLoop *loop)
{
  GObject *owner = loop->owner;

  g_return_if_fail (loop->depth > 0);
  loop->depth--;
  if (loop->destroyed && loop->depth == 0)
    loop_finalize (loop);
  g_object_unref (owner);
}

void
aero_slirp_loop_destroy (AeroSlirpLoop *loop)
{
  if (loop == NULL || loop->destroyed)
    return;
  loop->destroyed = TRUE;
  if (loop->poll_source != NULL)
    g_source_destroy (loop->poll_source);
  for (GList *l = loop->timers; l != NULL; l = l->next)
    g_source_set_ready_time (l->data, -1);
  if (loop->depth == 0)
    loop_finalize (loop);
}

void
aero_slirp_loop_notify (AeroSlirpLoop *loop)
{
  if (!loop->destroyed && loop->poll_source != NULL)
    g_source_set_ready_time (loop->poll_source, 0);
}
