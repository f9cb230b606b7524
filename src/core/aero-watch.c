/* aero-watch.c — one GSource per main context for all its AeroWatches: an
 * epoll set for their fds and a binary heap of their ready times (see
 * aero-watch.h). */
#include "aero-net/aero-watch.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Events taken from epoll per dispatch; the rest stay ready (level-
 * triggered) for the next one, and epoll hands them out in turn. */
#define MAX_EVENTS 128

typedef struct
{
  GSource source;
  GMainContext *context; /* unowned: only a key (the context owns the source) */
  int epfd;
  gpointer epfd_tag;     /* the epoll fd among the source's unix fds */
  GHashTable *by_serial; /* &watch->serial → watch: the live watches */
  GHashTable *by_reg;    /* &watch->reg → watch: the registrations in the epoll set */
  GHashTable *by_fd;     /* fd → the watch whose fd is in the epoll set */
  GPtrArray *heap;       /* watches with a ready time, earliest first */
  guint64 next_serial;   /* for watches and registrations alike; never reused */
  guint watches;
  guint dispatching;
  gint64 polled_until; /* the ready time the last prepare slept towards; -1: none */
} Reactor;

struct _AeroWatch
{
  Reactor *reactor;
  guint64 serial; /* the watch, for the due list */
  guint64 reg;    /* its fd's registration (epoll events carry it); 0 for none */
  AeroWatchFunc func;
  gpointer user_data;
  int fd;
  GIOCondition events;
  gint64 ready_time;
  gint heap_index; /* -1 when not in the heap */
  gboolean due;    /* collected as due in the current dispatch */
};

static GMutex reactors_lock;
static GHashTable *reactors; /* GMainContext → Reactor */

/* ---- the heap of ready times ------------------------------------------------ */

static gboolean
earlier (Reactor *r, guint a, guint b)
{
  return ((AeroWatch *) r->heap->pdata[a])->ready_time
         < ((AeroWatch *) r->heap->pdata[b])->ready_time;
}

static void
heap_swap (Reactor *r, guint a, guint b)
{
  gpointer t = r->heap->pdata[a];

  r->heap->pdata[a] = r->heap->pdata[b];
  r->heap->pdata[b] = t;
  ((AeroWatch *) r->heap->pdata[a])->heap_index = (gint) a;
  ((AeroWatch *) r->heap->pdata[b])->heap_index = (gint) b;
}

static void
heap_up (Reactor *r, guint i)
{
  while (i > 0 && earlier (r, i, (i - 1) / 2))
    {
      heap_swap (r, i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
}

static void
heap_down (Reactor *r, guint i)
{
  for (;;)
    {
      guint l = 2 * i + 1, m = i;

      if (l < r->heap->len && earlier (r, l, m))
        m = l;
      if (l + 1 < r->heap->len && earlier (r, l + 1, m))
        m = l + 1;
      if (m == i)
        return;
      heap_swap (r, i, m);
      i = m;
    }
}

static void
heap_remove (Reactor *r, AeroWatch *w)
{
  guint i = (guint) w->heap_index, last = r->heap->len - 1;

  if (w->heap_index < 0)
    return;
  if (i != last)
    heap_swap (r, i, last);
  g_ptr_array_set_size (r->heap, last);
  w->heap_index = -1;
  if (i < r->heap->len)
    {
      heap_up (r, i);
      heap_down (r, (guint) ((AeroWatch *) r->heap->pdata[i])->heap_index);
    }
}

static gint64
heap_first (Reactor *r)
{
  return r->heap->len ? ((AeroWatch *) r->heap->pdata[0])->ready_time : -1;
}

/* The earliest ready time is read by the source's prepare and check, once
 * per iteration: no g_source_set_ready_time(), which in GLib 2.74 writes
 * the context's wake-up fd on every call (and the next poll() reads it
 * back), even from the thread that runs the context. Only a change outside
 * the thread that runs the context, which may be sleeping in poll() with an
 * older timeout, wakes it. */
static void
wake_if_needed (Reactor *r)
{
  gint64 want = heap_first (r);
  GMainContext *context;

  /* Destroyed: its context was freed with watches still out. */
  if (r->dispatching > 0 || want < 0 || (r->polled_until >= 0 && want >= r->polled_until)
      || g_source_is_destroyed (&r->source))
    return;
  context = g_source_get_context (&r->source);
  if (context != NULL && !g_main_context_is_owner (context))
    g_main_context_wakeup (context);
}

/* ---- the reactor ---------------------------------------------------------------- */

static guint32
to_epoll (GIOCondition events)
{
  return ((events & G_IO_IN) ? EPOLLIN : 0) | ((events & G_IO_OUT) ? EPOLLOUT : 0)
         | ((events & G_IO_PRI) ? EPOLLPRI : 0);
}

static GIOCondition
from_epoll (guint32 events)
{
  return ((events & EPOLLIN) ? G_IO_IN : 0) | ((events & EPOLLOUT) ? G_IO_OUT : 0)
         | ((events & EPOLLPRI) ? G_IO_PRI : 0) | ((events & EPOLLERR) ? G_IO_ERR : 0)
         | ((events & EPOLLHUP) ? G_IO_HUP : 0);
}

static AeroWatch *
lookup (GHashTable *table, guint64 key)
{
  return g_hash_table_lookup (table, &key);
}

static void reactor_release (Reactor *r);

static gboolean
reactor_prepare (GSource *source, gint *timeout)
{
  Reactor *r = (Reactor *) source;
  gint64 first = heap_first (r), now;

  r->polled_until = first;
  if (first < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  now = g_source_get_time (source);
  if (first <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Rounded up, as GLib does for ready times: never early. */
  *timeout = (gint) MIN ((first - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
reactor_check (GSource *source)
{
  Reactor *r = (Reactor *) source;
  gint64 first = heap_first (r);

  /* The epoll fd's readiness is GLib's to see (a unix fd of the source). */
  return first >= 0 && first <= g_source_get_time (source);
}

static gboolean
reactor_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  Reactor *r = (Reactor *) source;
  struct epoll_event events[MAX_EVENTS];
  g_autoptr (GArray) due = NULL;
  gint64 now;
  int n = 0;

  r->dispatching++;
  /* Only when poll() saw the set ready: a dispatch for a ready time alone
   * costs no epoll_wait(). */
  if (g_source_query_unix_fd (source, r->epfd_tag) & G_IO_IN)
    do
      n = epoll_wait (r->epfd, events, MAX_EVENTS, 0);
    while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++)
    {
      /* Freed, or its fd removed or changed, by an earlier callback: the
       * registration is gone. */
      AeroWatch *w = lookup (r->by_reg, events[i].data.u64);
      GIOCondition revents;

      if (w == NULL)
        continue;
      revents = from_epoll (events[i].events) & (w->events | G_IO_ERR | G_IO_HUP);
      if (revents)
        w->func (w, revents, w->user_data);
    }

  /* What is due now; what a callback sets due from here on waits for the
   * next dispatch. */
  now = g_get_monotonic_time ();
  while (r->heap->len && heap_first (r) <= now)
    {
      AeroWatch *w = r->heap->pdata[0];

      if (due == NULL)
        due = g_array_new (FALSE, FALSE, sizeof (guint64));
      g_array_append_val (due, w->serial);
      heap_remove (r, w);
      w->ready_time = -1;
      w->due = TRUE;
    }
  for (guint i = 0; due && i < due->len; i++)
    {
      AeroWatch *w = lookup (r->by_serial, g_array_index (due, guint64, i));

      /* Freed, or its ready time set again, by an earlier callback. */
      if (w == NULL || !w->due)
        continue;
      w->due = FALSE;
      w->func (w, 0, w->user_data);
    }

  r->dispatching--;
  if (r->watches == 0)
    reactor_release (r); /* the last watch went meanwhile */
  return G_SOURCE_CONTINUE;
}

static void
reactor_finalize (GSource *source)
{
  Reactor *r = (Reactor *) source;

  if (r->epfd >= 0)
    close (r->epfd);
  g_hash_table_unref (r->by_serial);
  g_hash_table_unref (r->by_reg);
  g_hash_table_unref (r->by_fd);
  g_ptr_array_unref (r->heap);
}

static GSourceFuncs reactor_funcs = {
  .prepare = reactor_prepare,
  .check = reactor_check,
  .dispatch = reactor_dispatch,
  .finalize = reactor_finalize,
};

/* The context's reactor, created with its first watch. */
static Reactor *
reactor_acquire (GMainContext *context)
{
  Reactor *r;

  g_mutex_lock (&reactors_lock);
  if (reactors == NULL)
    reactors = g_hash_table_new (NULL, NULL);
  r = g_hash_table_lookup (reactors, context);
  /* One whose context was freed (its watches still out) while another
   * context took the address is not this context's. */
  if (r != NULL && g_source_is_destroyed (&r->source))
    {
      g_hash_table_remove (reactors, context);
      r = NULL;
    }
  if (r == NULL)
    {
      int epfd = epoll_create1 (EPOLL_CLOEXEC);

      if (epfd < 0)
        g_error ("aero-watch: epoll_create1: %s", g_strerror (errno));
      r = (Reactor *) g_source_new (&reactor_funcs, sizeof (Reactor));
      r->context = context;
      r->epfd = epfd;
      r->by_serial = g_hash_table_new (g_int64_hash, g_int64_equal);
      r->by_reg = g_hash_table_new (g_int64_hash, g_int64_equal);
      r->by_fd = g_hash_table_new (NULL, NULL);
      r->heap = g_ptr_array_new ();
      r->polled_until = -1;
      g_source_set_static_name (&r->source, "aero watches");
      r->epfd_tag = g_source_add_unix_fd (&r->source, epfd, G_IO_IN);
      /* Nothing run from the dispatch iterates the context; without this
       * GLib would remove and re-add the epoll fd around every dispatch. */
      g_source_set_can_recurse (&r->source, TRUE);
      g_source_attach (&r->source, context);
      g_hash_table_insert (reactors, context, r);
    }
  r->watches++;
  g_mutex_unlock (&reactors_lock);
  return r;
}

/* Drops the reactor once it has no watch and is not dispatching. */
static void
reactor_release (Reactor *r)
{
  if (r->watches > 0 || r->dispatching > 0)
    return;
  g_mutex_lock (&reactors_lock);
  if (g_hash_table_lookup (reactors, r->context) == r)
    g_hash_table_remove (reactors, r->context);
  g_mutex_unlock (&reactors_lock);
  g_source_destroy (&r->source);
  g_source_unref (&r->source);
}

/* ---- watches ---------------------------------------------------------------------- */

AeroWatch *
aero_watch_new (GMainContext *context, AeroWatchFunc func, gpointer user_data)
{
  g_autoptr (GMainContext) ctx = context ? g_main_context_ref (context)
                                         : g_main_context_ref_thread_default ();
  AeroWatch *w;

  g_return_val_if_fail (func != NULL, NULL);
  w = g_new0 (AeroWatch, 1);
  w->reactor = reactor_acquire (ctx);
  w->serial = ++w->reactor->next_serial;
  w->func = func;
  w->user_data = user_data;
  w->fd = -1;
  w->ready_time = -1;
  w->heap_index = -1;
  g_hash_table_insert (w->reactor->by_serial, &w->serial, w);
  return w;
}

/* Forgets W's registration in the tables (not in the kernel's set). */
static void
forget_registration (AeroWatch *w)
{
  Reactor *r = w->reactor;

  if (w->reg == 0)
    return;
  g_hash_table_remove (r->by_reg, &w->reg);
  if (g_hash_table_lookup (r->by_fd, GINT_TO_POINTER (w->fd)) == w)
    g_hash_table_remove (r->by_fd, GINT_TO_POINTER (w->fd));
  w->reg = 0;
}

static void
remember_registration (AeroWatch *w, guint64 reg)
{
  Reactor *r = w->reactor;

  w->reg = reg;
  g_hash_table_insert (r->by_reg, &w->reg, w);
  g_hash_table_insert (r->by_fd, GINT_TO_POINTER (w->fd), w);
}

/* Takes the fd out of the epoll set. (A watch whose fd number another
 * watch has taken since has no registration left: see aero_watch_set_fd().) */
static void
unregister (AeroWatch *w)
{
  if (w->reg == 0)
    return;
  forget_registration (w);
  /* EBADF or ENOENT: closed already, hence out of the set. */
  (void) epoll_ctl (w->reactor->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

gboolean
aero_watch_set_fd (AeroWatch *w, int fd, GIOCondition events, GError **error)
{
  Reactor *r;
  struct epoll_event ev;
  AeroWatch *holder;
  guint64 holder_reg = 0, reg;
  int saved;

  g_return_val_if_fail (w != NULL, FALSE);
  r = w->reactor;
  if (fd < 0 || events == 0 || fd != w->fd)
    unregister (w);
  w->fd = fd < 0 ? -1 : fd;
  w->events = fd < 0 ? 0 : events & (G_IO_IN | G_IO_OUT | G_IO_PRI);
  if (w->fd < 0 || w->events == 0)
    return TRUE;

  memset (&ev, 0, sizeof ev);
  ev.events = to_epoll (w->events);
  if (w->reg != 0)
    {
      ev.data.u64 = w->reg;
      if (epoll_ctl (r->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return TRUE;
      saved = errno;
      /* ENOENT: the fd was closed since (the kernel dropped it from the
       * set) and its number names a new file now: add that, below. */
      unregister (w);
      if (saved != ENOENT)
        goto fail;
    }

  holder = g_hash_table_lookup (r->by_fd, GINT_TO_POINTER (fd));
  if (holder != NULL)
    {
      /* The holder's fd may have been closed and the number reused: then
       * the kernel dropped its registration and ADD succeeds. */
      holder_reg = holder->reg;
      forget_registration (holder);
    }
  reg = ++r->next_serial;
  ev.data.u64 = reg;
  if (epoll_ctl (r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
    {
      remember_registration (w, reg);
      return TRUE;
    }
  saved = errno;
  if (holder != NULL && saved == EEXIST)
    remember_registration (holder, holder_reg); /* still open: it keeps it */

fail:
  w->fd = -1;
  w->events = 0;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot watch fd %d: %s", fd,
               saved == EEXIST ? "another watch has it" : g_strerror (saved));
  return FALSE;
}

void
aero_watch_set_ready_time (AeroWatch *w, gint64 ready_time)
{
  Reactor *r;

  g_return_if_fail (w != NULL);
  r = w->reactor;
  /* Any setting replaces a run already due in the current dispatch. */
  w->due = FALSE;
  if (ready_time < -1)
    ready_time = -1;
  if (ready_time == w->ready_time)
    return;
  w->ready_time = ready_time;
  if (ready_time < 0)
    heap_remove (r, w);
  else if (w->heap_index < 0)
    {
      w->heap_index = (gint) r->heap->len;
      g_ptr_array_add (r->heap, w);
      heap_up (r, (guint) w->heap_index);
    }
  else
    {
      heap_up (r, (guint) w->heap_index);
      heap_down (r, (guint) w->heap_index);
    }
  wake_if_needed (r);
}

gint64
aero_watch_get_ready_time (AeroWatch *w)
{
  g_return_val_if_fail (w != NULL, -1);
  return w->ready_time;
}

void
aero_watch_free (AeroWatch *w)
{
  Reactor *r;

  if (w == NULL)
    return;
  r = w->reactor;
  unregister (w);
  heap_remove (r, w);
  g_hash_table_remove (r->by_serial, &w->serial);
  g_free (w);
  r->watches--;
  reactor_release (r);
}
