/* slirp-loop.c — the GSource and timers that drive one Slirp (see
 * slirp-loop.h). Nothing here blocks: libslirp's sockets are non-blocking
 * and only touched when poll() reported them ready. */
#include "slirp-loop.h"

#include <aero-net/aero-watch.h>

typedef struct {
  AeroSlirpLoop *loop;
  int fd;
  AeroWatch *watch;     /* NULL if the fd could not be watched (logged) */
  GIOCondition events;
  GIOCondition revents; /* gathered since the last slirp_pollfds_poll() */
  guint generation;
  gboolean stale;       /* libslirp closed the fd (or opened a new one with its number),
                         * or watching it failed: the next fill watches it afresh */
  gboolean warned;
} PollEntry;

typedef struct {
  AeroSlirpLoop *loop;
  AeroWatch *watch;
  SlirpTimerId id;
  void *cb_opaque;
} Timer;

struct _AeroSlirpLoop
{
  GMainContext *context;
  GObject *owner; /* unowned; referenced while libslirp runs */
  Slirp *slirp;
  AeroWatch *main;   /* ready time: libslirp's timeout, or 0 when notified */
  GHashTable *fds;   /* fd → PollEntry, owned */
  GPtrArray *polled; /* index given to libslirp → PollEntry */
  GList *timers;     /* Timer, owned */
  guint generation;
  gint64 deadline;  /* libslirp's next timeout, monotonic µs, -1 for none */
  gboolean notified; /* a dispatch is asked for: the ready time is 0 */
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

/* libslirp 4.7 reads the clock into a process-wide `curtime` only in
 * slirp_pollfds_poll(), and slirp_input() stamps UDP and ICMP sockets'
 * expiry with it (udp_attach, sosendto, icmp_input: curtime + 240 s); the
 * next slirp_pollfds_fill() detaches expired sockets. Idle sessions run no
 * poll, possibly for hours, and a socket opened after such a pause would
 * be closed before its answer arrived. So the outermost entry into
 * libslirp first brings curtime up to date when no poll has run for a
 * while: slirp_pollfds_poll() with select_error set, which reads no
 * revents (libslirp then only runs its timers if due and sends what is
 * queued). The daemon runs all loops on one thread, as libslirp's own
 * globals require. */
#define CLOCK_STALE_US (100 * 1000)

static gint64 clock_synced = -1; /* monotonic µs of the last poll, -1 for none */

/* ---- polling ---------------------------------------------------------------- */

/* A socket is ready: its revents wait for the loop's next poll, which
 * runs later in this same dispatch of the context's watches (one poll for
 * all the sockets of this Slirp that were ready). */
static void
entry_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  PollEntry *entry = data;
  AeroSlirpLoop *loop = entry->loop;

  entry->revents |= revents;
  if (loop->main != NULL)
    aero_slirp_loop_notify (loop);
}

static void
entry_free (gpointer data)
{
  PollEntry *entry = data;

  aero_watch_free (entry->watch);
  g_free (entry);
}

/* Puts ENTRY's fd in the context's epoll set, afresh. */
static void
entry_watch (AeroSlirpLoop *loop, PollEntry *entry, GIOCondition cond)
{
  g_autoptr (GError) error = NULL;

  entry->stale = FALSE;
  entry->events = cond;
  entry->watch = aero_watch_new (loop->context, entry_cb, entry);
  if (!aero_watch_set_fd (entry->watch, entry->fd, cond, &error))
    {
      if (!entry->warned)
        g_warning ("libslirp socket %d cannot be polled: %s", entry->fd, error->message);
      entry->warned = TRUE;
      g_clear_pointer (&entry->watch, aero_watch_free);
      entry->stale = TRUE;
    }
}

static int
add_poll_cb (int fd, int events, void *opaque)
{
  AeroSlirpLoop *loop = opaque;
  GIOCondition cond = condition_from_slirp (events);
  PollEntry *entry = g_hash_table_lookup (loop->fds, GINT_TO_POINTER (fd));

  if (entry == NULL)
    {
      entry = g_new0 (PollEntry, 1);
      entry->loop = loop;
      entry->fd = fd;
      g_hash_table_insert (loop->fds, GINT_TO_POINTER (fd), entry);
      entry_watch (loop, entry, cond);
    }
  else if (entry->stale)
    entry_watch (loop, entry, cond);
  else
    {
      if (entry->generation == loop->generation)
        cond |= entry->events;
      if (cond != entry->events)
        {
          entry->events = cond;
          if (entry->watch && !aero_watch_set_fd (entry->watch, fd, cond, NULL))
            {
              g_clear_pointer (&entry->watch, aero_watch_free);
              entry->stale = TRUE;
            }
        }
    }
  entry->generation = loop->generation;
  g_ptr_array_add (loop->polled, entry);
  return (int) loop->polled->len - 1;
}

/* The revents gathered since the last poll, limited to what libslirp
 * asked for at the last fill (a timer's refill may have narrowed the
 * events since). */
static int
get_revents_cb (int idx, void *opaque)
{
  AeroSlirpLoop *loop = opaque;
  PollEntry *entry;

  if (idx < 0 || (guint) idx >= loop->polled->len)
    return 0;
  entry = g_ptr_array_index (loop->polled, idx);
  return condition_to_slirp (entry->revents & (entry->events | G_IO_ERR | G_IO_HUP | G_IO_NVAL));
}

static void
clear_revents (AeroSlirpLoop *loop)
{
  for (guint i = 0; i < loop->polled->len; i++)
    ((PollEntry *) g_ptr_array_index (loop->polled, i))->revents = 0;
}

/* Asks libslirp which sockets to poll and how soon it wants to run again,
 * after every call into it that can change either (slirp_pollfds_poll(),
 * slirp_handle_timer(), the start; slirp_input() is followed by a notify,
 * hence a poll). The source's unix fds follow the answer, added, modified
 * or removed only when they change; the ready time carries the timeout.
 * libslirp caps its timeout at 1000 ms even when nothing is pending, and
 * lowers it itself (2 ms for a delayed ACK, 499 ms while TCP sockets, IP
 * fragments or expiring UDP/ICMP sockets exist), so a capped timeout with
 * no socket to poll means "nothing time-driven": no ready time, and the
 * session costs nothing until a frame or a socket event arrives.
 *
 * POLLED: called right after slirp_pollfds_poll(), which ran whatever was
 * due. Called between aero_slirp_loop_enter() and aero_slirp_loop_leave(). */
static void
refill (AeroSlirpLoop *loop, gboolean polled)
{
  uint32_t slirp_timeout = UINT32_MAX;
  GHashTableIter iter;
  PollEntry *entry;

  if (loop->destroyed || loop->slirp == NULL)
    return;

  loop->generation++;
  g_ptr_array_set_size (loop->polled, 0);
  slirp_pollfds_fill (loop->slirp, &slirp_timeout, add_poll_cb, loop);
  if (loop->destroyed)
    return;

  g_hash_table_iter_init (&iter, loop->fds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->generation != loop->generation)
      g_hash_table_iter_remove (&iter);

  if (slirp_timeout >= 1000 && loop->polled->len == 0)
    loop->deadline = -1;
  else
    {
      gint64 now = g_get_monotonic_time ();
      gint64 wanted = now + (gint64) MIN (slirp_timeout, 1000u) * 1000;

      /* An earlier deadline still pending is kept (waking early is
       * harmless: libslirp checks its own timers' elapsed time), which
       * spares a g_source_set_ready_time() per fd-driven dispatch; one
       * that has passed was consumed by this poll. */
      if (loop->deadline < 0 || loop->deadline > wanted || (polled && loop->deadline <= now))
        loop->deadline = wanted;
    }
  aero_watch_set_ready_time (loop->main, loop->notified ? 0 : loop->deadline);
}

static Slirp *loop_enter (AeroSlirpLoop *loop, gboolean sync_clock);

/* The main watch: sockets were ready, a notify, or libslirp's timeout. */
static void
main_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  AeroSlirpLoop *loop = data;
  Slirp *slirp = loop_enter (loop, FALSE);

  if (slirp == NULL)
    return;
  /* A notify from here on (a frame the guest sends back at once, a
   * buffer drained) asks for another dispatch; refill() keeps it. */
  loop->notified = FALSE;
  clock_synced = g_get_monotonic_time ();
  slirp_pollfds_poll (slirp, 0, get_revents_cb, loop);
  if (!loop->destroyed)
    clear_revents (loop);
  refill (loop, TRUE);
  aero_slirp_loop_leave (loop);
}

/* ---- timers -------------------------------------------------------------------- */

static void
timer_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Timer *timer = data;
  AeroSlirpLoop *loop = timer->loop;
  Slirp *slirp = aero_slirp_loop_enter (loop);

  if (slirp != NULL)
    {
      slirp_handle_timer (slirp, timer->id, timer->cb_opaque);
      refill (loop, FALSE);
      aero_slirp_loop_leave (loop);
    }
}

void *
aero_slirp_loop_timer_new (AeroSlirpLoop *loop, SlirpTimerId id, void *cb_opaque)
{
  Timer *timer = g_new0 (Timer, 1);

  timer->loop = loop;
  timer->id = id;
  timer->cb_opaque = cb_opaque;
  timer->watch = aero_watch_new (loop->context, timer_cb, timer);
  loop->timers = g_list_prepend (loop->timers, timer);
  return timer;
}

void
aero_slirp_loop_timer_mod (void *timer, int64_t expire_ms)
{
  Timer *t = timer;

  aero_watch_set_ready_time (t->watch, MAX (expire_ms, 0) * 1000);
}

void
aero_slirp_loop_timer_free (void *timer)
{
  Timer *t = timer;

  t->loop->timers = g_list_remove (t->loop->timers, t);
  aero_watch_free (t->watch);
  g_free (t);
}

/* ---- lifetime ----------------------------------------------------------------------- */

AeroSlirpLoop *
aero_slirp_loop_new (GMainContext *context, GObject *owner)
{
  AeroSlirpLoop *loop = g_new0 (AeroSlirpLoop, 1);

  loop->context = g_main_context_ref (context);
  loop->owner = owner;
  loop->fds = g_hash_table_new_full (NULL, NULL, NULL, entry_free);
  loop->polled = g_ptr_array_new ();
  loop->deadline = -1;
  return loop;
}

void
aero_slirp_loop_start (AeroSlirpLoop *loop, Slirp *slirp)
{
  g_return_if_fail (loop->slirp == NULL && loop->main == NULL);

  loop->slirp = slirp;
  loop->main = aero_watch_new (loop->context, main_cb, loop);
  if (aero_slirp_loop_enter (loop) != NULL)
    {
      refill (loop, FALSE);
      aero_slirp_loop_leave (loop);
    }
}

/* Frees the Slirp (closing its sockets and freeing its timers through
 * the callbacks), then everything else. */
static void
loop_finalize (AeroSlirpLoop *loop)
{
  g_clear_pointer (&loop->slirp, slirp_cleanup);
  while (loop->timers != NULL)
    aero_slirp_loop_timer_free (loop->timers->data);
  g_clear_pointer (&loop->main, aero_watch_free);
  g_hash_table_unref (loop->fds);
  g_ptr_array_unref (loop->polled);
  g_main_context_unref (loop->context);
  g_free (loop);
}

static Slirp *
loop_enter (AeroSlirpLoop *loop, gboolean sync_clock)
{
  if (loop->destroyed || loop->slirp == NULL)
    return NULL;
  loop->depth++;
  g_object_ref (loop->owner);
  if (sync_clock && loop->depth == 1)
    {
      gint64 now = g_get_monotonic_time ();

      if (clock_synced < 0 || now - clock_synced >= CLOCK_STALE_US)
        {
          clock_synced = now;
          slirp_pollfds_poll (loop->slirp, 1, get_revents_cb, loop);
          if (loop->destroyed) /* by a frame sent from there */
            {
              aero_slirp_loop_leave (loop);
              return NULL;
            }
        }
    }
  return loop->slirp;
}

Slirp *
aero_slirp_loop_enter (AeroSlirpLoop *loop)
{
  return loop_enter (loop, TRUE);
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
  /* Nothing runs from here on; the fds go with the Slirp that owns them. */
  g_clear_pointer (&loop->main, aero_watch_free);
  for (GList *l = loop->timers; l != NULL; l = l->next)
    aero_watch_set_ready_time (((Timer *) l->data)->watch, -1);
  /* The entries stay until the end: libslirp may still be reading
   * revents through them (a destroy from one of its callbacks). */
  {
    GHashTableIter iter;
    PollEntry *entry;

    g_hash_table_iter_init (&iter, loop->fds);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
      g_clear_pointer (&entry->watch, aero_watch_free);
  }
  if (loop->depth == 0)
    loop_finalize (loop);
}

void
aero_slirp_loop_forget_fd (AeroSlirpLoop *loop, int fd)
{
  PollEntry *entry;

  if (loop == NULL || loop->destroyed)
    return;
  entry = g_hash_table_lookup (loop->fds, GINT_TO_POINTER (fd));
  if (entry == NULL)
    return;
  /* Out of the epoll set before libslirp closes it. The entry itself stays
   * until the next refill: libslirp may be in slirp_pollfds_poll(), which
   * reads revents by index. */
  g_clear_pointer (&entry->watch, aero_watch_free);
  entry->stale = TRUE;
  entry->events = 0;
  entry->revents = 0;
}

void
aero_slirp_loop_notify (AeroSlirpLoop *loop)
{
  if (loop->destroyed || loop->main == NULL)
    return;
  loop->notified = TRUE;
  aero_watch_set_ready_time (loop->main, 0);
}
