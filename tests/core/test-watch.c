/* test-watch.c — AeroWatch: fds through the shared epoll set, ready times
 * through the shared heap, freeing and re-arming from callbacks, fd numbers
 * reused behind a watch's back, errors, and the context left clean. */
#define _GNU_SOURCE
#include <aero-net/aero-net.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct
{
  guint calls;
  GIOCondition last;
  gint64 at;
  guint order; /* position among all calls, from 1 */
  AeroWatch *free_other; /* freed by this watch's first callback */
  gboolean free_self;
  gboolean rearm;
  gboolean drain;
  int fd;
} Seen;

static guint calls_total;

static void
on_watch (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Seen *seen = data;

  seen->calls++;
  seen->last = revents;
  seen->at = g_get_monotonic_time ();
  seen->order = ++calls_total;
  if (seen->drain && (revents & G_IO_IN))
    {
      char buf[64];

      while (read (seen->fd, buf, sizeof buf) > 0)
        ;
    }
  if (seen->free_other)
    g_clear_pointer (&seen->free_other, aero_watch_free);
  if (seen->rearm)
    aero_watch_set_ready_time (watch, 0);
  if (seen->free_self)
    aero_watch_free (watch);
}

static void
pipe_nb (int fds[2])
{
  g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
}

/* Watches the reading end of a new pipe with W, then closes the pipe
 * behind its back; returns the now free number. */
static int
watched_then_closed (AeroWatch *w)
{
  int p[2];

  pipe_nb (p);
  g_assert_true (aero_watch_set_fd (w, p[0], G_IO_IN, NULL));
  close (p[0]);
  close (p[1]);
  return p[0];
}

/* A new pipe whose reading end has the number FD (free now). */
static void
pipe_at (int fds[2], int fd)
{
  pipe_nb (fds);
  if (fds[0] != fd)
    {
      g_assert_cmpint (dup2 (fds[0], fd), ==, fd);
      close (fds[0]);
      fds[0] = fd;
    }
}

/* Iterates the default context without blocking until it has nothing to do
 * (at most 100 times). */
static guint
iterate_idle (void)
{
  guint n = 0;

  while (n < 100 && g_main_context_iteration (NULL, FALSE))
    n++;
  return n;
}

static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (500);
}

static void
test_fd_level_triggered (void)
{
  Seen seen = { 0 };
  int fds[2];
  AeroWatch *w = aero_watch_new (NULL, on_watch, &seen);
  GError *error = NULL;

  pipe_nb (fds);
  g_assert_true (aero_watch_set_fd (w, fds[0], G_IO_IN, &error));
  g_assert_no_error (error);
  iterate_idle ();
  g_assert_cmpuint (seen.calls, ==, 0);

  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_cmpint (seen.last, ==, G_IO_IN);
  /* Not read: ready again, as with poll(). */
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 2);

  /* Events 0: the fd stays, nothing is reported. */
  g_assert_true (aero_watch_set_fd (w, fds[0], 0, NULL));
  iterate_idle ();
  g_assert_cmpuint (seen.calls, ==, 2);
  g_assert_true (aero_watch_set_fd (w, fds[0], G_IO_IN, NULL));
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 3);

  /* Drained: quiet. */
  seen.drain = TRUE;
  seen.fd = fds[0];
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 4);
  iterate_idle ();
  g_assert_cmpuint (seen.calls, ==, 4);

  /* Removed: a write wakes nothing. */
  g_assert_true (aero_watch_set_fd (w, -1, 0, NULL));
  g_assert_cmpint (write (fds[1], "y", 1), ==, 1);
  iterate_idle ();
  g_assert_cmpuint (seen.calls, ==, 4);

  aero_watch_free (w);
  close (fds[0]);
  close (fds[1]);
}

static void
test_fd_out_and_hup (void)
{
  Seen seen = { 0 };
  int fds[2];
  AeroWatch *w = aero_watch_new (NULL, on_watch, &seen);

  pipe_nb (fds);
  /* An empty pipe is writable. */
  g_assert_true (aero_watch_set_fd (w, fds[1], G_IO_OUT, NULL));
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_cmpint (seen.last, ==, G_IO_OUT);

  /* The reading end asks for G_IO_IN only and still hears the hang-up. */
  g_assert_true (aero_watch_set_fd (w, fds[0], G_IO_IN, NULL));
  close (fds[1]);
  seen.calls = 0;
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_true (seen.last & G_IO_HUP);
  aero_watch_free (w);
  close (fds[0]);
}

static void
test_ready_time_order (void)
{
  enum { N = 300 };
  Seen seen[N];
  AeroWatch *w[N];
  gint64 base = g_get_monotonic_time () + 20 * 1000;
  GRand *rand = g_rand_new_with_seed (7);
  gint64 when[N];

  memset (seen, 0, sizeof seen);
  calls_total = 0;
  for (int i = 0; i < N; i++)
    {
      w[i] = aero_watch_new (NULL, on_watch, &seen[i]);
      when[i] = base + g_rand_int_range (rand, 0, 60 * 1000);
      aero_watch_set_ready_time (w[i], when[i]);
    }
  /* Move some, clear a few, as timers do. */
  for (int i = 0; i < N; i += 7)
    {
      when[i] = base + g_rand_int_range (rand, 0, 60 * 1000);
      aero_watch_set_ready_time (w[i], when[i]);
    }
  for (int i = 3; i < N; i += 50)
    {
      aero_watch_set_ready_time (w[i], -1);
      when[i] = -1;
      g_assert_cmpint (aero_watch_get_ready_time (w[i]), ==, -1);
    }
  g_assert_cmpint (aero_watch_get_ready_time (w[1]), ==, when[1]);

  run_for (150);
  for (int i = 0; i < N; i++)
    {
      if (when[i] < 0)
        {
          g_assert_cmpuint (seen[i].calls, ==, 0);
          continue;
        }
      g_assert_cmpuint (seen[i].calls, ==, 1);
      g_assert_cmpint (seen[i].last, ==, 0);
      g_assert_cmpint (seen[i].at, >=, when[i]);
      /* One-shot: back to none. */
      g_assert_cmpint (aero_watch_get_ready_time (w[i]), ==, -1);
    }
  /* Earlier ready times ran first. */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (when[i] >= 0 && when[j] >= 0 && when[i] < when[j])
        g_assert_cmpuint (seen[i].order, <, seen[j].order);
  for (int i = 0; i < N; i++)
    aero_watch_free (w[i]);
  g_rand_free (rand);
}

static void
test_rearm_runs_next_dispatch (void)
{
  Seen seen = { .rearm = TRUE };
  AeroWatch *w = aero_watch_new (NULL, on_watch, &seen);

  aero_watch_set_ready_time (w, 0);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 2);
  seen.rearm = FALSE;
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.calls, ==, 3);
  iterate_idle ();
  g_assert_cmpuint (seen.calls, ==, 3);
  aero_watch_free (w);
}

/* The number of write() calls this process has made (/proc/self/io). */
static guint64
write_calls (void)
{
  g_autofree char *text = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/io", &text, NULL, NULL));
  line = strstr (text, "syscw: ");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + 7, NULL, 10);
}

typedef struct
{
  guint left;
  gint64 step;
} Ticker;

static void
on_tick (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Ticker *t = data;

  if (--t->left > 0)
    aero_watch_set_ready_time (watch, g_get_monotonic_time () + t->step);
}

/* Re-arming from callbacks, the earliest ready time moving each time, costs
 * the thread that runs the context no write: no wake-up of itself. */
static void
test_rearm_writes_nothing (void)
{
  Ticker t = { .left = 50, .step = 200 };
  AeroWatch *w = aero_watch_new (NULL, on_tick, &t);
  guint64 before;

  aero_watch_set_ready_time (w, g_get_monotonic_time () + t.step);
  before = write_calls ();
  while (t.left > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (write_calls () - before, ==, 0);
  aero_watch_free (w);
}

static gboolean
set_later (gpointer data)
{
  aero_watch_set_ready_time (data, g_get_monotonic_time () + 30 * 1000);
  return G_SOURCE_REMOVE;
}

static gboolean
flag_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* A ready time set from another source's callback is kept to: the loop
 * does not sleep past it. */
static void
test_ready_time_from_other_source (void)
{
  Seen seen = { 0 };
  AeroWatch *w = aero_watch_new (NULL, on_watch, &seen);
  gboolean timed_out = FALSE;
  guint guard = g_timeout_add_seconds (5, flag_timeout, &timed_out);
  gint64 start = g_get_monotonic_time ();

  g_idle_add (set_later, w);
  while (seen.calls == 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_cmpint (seen.at - start, >=, 30 * 1000);
  g_assert_cmpint (seen.at - start, <, 1000 * 1000);
  g_source_remove (guard);
  aero_watch_free (w);
}

static void
test_free_from_callbacks (void)
{
  Seen a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
  int fds[2];
  AeroWatch *wa = aero_watch_new (NULL, on_watch, &a);
  AeroWatch *wb = aero_watch_new (NULL, on_watch, &b);
  AeroWatch *wc = aero_watch_new (NULL, on_watch, &c);
  AeroWatch *wd = aero_watch_new (NULL, on_watch, &d);

  /* All four due in one dispatch; whichever runs first frees the other of
   * its pair, which then must not run; c and d free themselves. */
  a.free_other = wb;
  b.free_other = wa;
  c.free_self = TRUE;
  d.free_self = TRUE;
  aero_watch_set_ready_time (wa, 0);
  aero_watch_set_ready_time (wb, 0);
  aero_watch_set_ready_time (wc, 0);
  aero_watch_set_ready_time (wd, 0);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls + b.calls, ==, 1);
  g_assert_cmpuint (c.calls, ==, 1);
  g_assert_cmpuint (d.calls, ==, 1);
  iterate_idle ();
  aero_watch_free (a.calls ? wa : wb);

  /* The same with fds ready in one epoll batch. */
  pipe_nb (fds);
  memset (&a, 0, sizeof a);
  memset (&b, 0, sizeof b);
  wa = aero_watch_new (NULL, on_watch, &a);
  wb = aero_watch_new (NULL, on_watch, &b);
  a.free_other = wb;
  b.free_other = wa;
  g_assert_true (aero_watch_set_fd (wa, fds[1], G_IO_OUT, NULL));
  aero_watch_set_ready_time (wb, 0);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls + b.calls, ==, 1);
  aero_watch_free (a.calls ? wa : wb);
  close (fds[0]);
  close (fds[1]);
}

static void
test_fd_reused_behind_back (void)
{
  Seen a = { 0 }, b = { 0 };
  int p2[2], fd;
  AeroWatch *wa = aero_watch_new (NULL, on_watch, &a);
  AeroWatch *wb = aero_watch_new (NULL, on_watch, &b);
  GError *error = NULL;

  /* The fd is closed without telling the watch, and the number reused. */
  fd = watched_then_closed (wa);
  pipe_at (p2, fd);
  g_assert_true (aero_watch_set_fd (wb, fd, G_IO_IN, &error));
  g_assert_no_error (error);
  /* The stale watch lets go without touching the new registration. */
  aero_watch_set_fd (wa, -1, 0, NULL);
  aero_watch_free (wa);
  g_assert_cmpint (write (p2[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls, ==, 0);
  g_assert_cmpuint (b.calls, ==, 1);
  aero_watch_free (wb);
  close (p2[0]);
  close (p2[1]);
}

/* The fd is closed and its number reused while the watch still holds it:
 * the kernel dropped it from the set, and setting it again watches the new
 * file. */
static void
test_fd_reopened_under_watch (void)
{
  Seen a = { 0 };
  int p2[2], fd;
  AeroWatch *wa = aero_watch_new (NULL, on_watch, &a);
  GError *error = NULL;

  fd = watched_then_closed (wa);
  pipe_at (p2, fd);
  /* Not watched yet: the old registration went with the old file. */
  g_assert_cmpint (write (p2[1], "x", 1), ==, 1);
  iterate_idle ();
  g_assert_cmpuint (a.calls, ==, 0);
  g_assert_true (aero_watch_set_fd (wa, fd, G_IO_IN, &error));
  g_assert_no_error (error);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls, ==, 1);
  aero_watch_free (wa);
  close (p2[0]);
  close (p2[1]);
}

/* A failed change leaves nothing behind: after the watch whose closed fd
 * could not be changed is freed, another watch takes the number. */
static void
test_failed_change_forgotten (void)
{
  Seen a = { 0 }, b = { 0 };
  int q[2], fd;
  AeroWatch *wa = aero_watch_new (NULL, on_watch, &a);
  AeroWatch *wb = aero_watch_new (NULL, on_watch, &b);
  GError *error = NULL;

  fd = watched_then_closed (wa); /* the number is free */
  g_assert_false (aero_watch_set_fd (wa, fd, G_IO_IN | G_IO_OUT, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  aero_watch_free (wa);
  pipe_at (q, fd);
  g_assert_true (aero_watch_set_fd (wb, fd, G_IO_IN, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (q[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (b.calls, ==, 1);
  aero_watch_free (wb);
  close (q[0]);
  close (q[1]);
}

/* Watches due in one dispatch: setting the ready time of one that has not
 * run yet (to -1, or to later) replaces its run. */
typedef struct
{
  guint calls;
  AeroWatch *other;
  gint64 set_other_to;
} Canceller;

static void
on_cancel_other (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Canceller *c = data;

  c->calls++;
  if (c->other)
    aero_watch_set_ready_time (c->other, c->set_other_to);
}

static void
test_cancel_due_in_batch (void)
{
  for (int later = 0; later <= 1; later++)
    {
      Canceller a = { 0 }, b = { 0 };
      AeroWatch *wa = aero_watch_new (NULL, on_cancel_other, &a);
      AeroWatch *wb = aero_watch_new (NULL, on_cancel_other, &b);
      gint64 now = g_get_monotonic_time ();

      /* Both due; whichever runs first resets the other. */
      a.other = wb;
      b.other = wa;
      a.set_other_to = b.set_other_to = later ? now + 60 * G_USEC_PER_SEC : -1;
      aero_watch_set_ready_time (wa, now - 2);
      aero_watch_set_ready_time (wb, now - 1);
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpuint (a.calls + b.calls, ==, 1);
      iterate_idle ();
      g_assert_cmpuint (a.calls + b.calls, ==, 1);
      aero_watch_free (wa);
      aero_watch_free (wb);
    }
}

/* A watch moved to another fd by an earlier callback of the same epoll
 * batch does not get the old fd's event. */
typedef struct
{
  guint calls;
  AeroWatch *other;
  int new_fd;
} Mover;

static void
on_move_other (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Mover *m = data;

  m->calls++;
  if (m->other)
    {
      g_assert_true (aero_watch_set_fd (m->other, m->new_fd, G_IO_IN, NULL));
      m->other = NULL;
    }
}

static void
test_moved_in_batch (void)
{
  int p[2], q[2], r1[2], r2[2];
  Mover a = { 0 }, b = { 0 };
  AeroWatch *wa = aero_watch_new (NULL, on_move_other, &a);
  AeroWatch *wb = aero_watch_new (NULL, on_move_other, &b);

  pipe_nb (p);
  pipe_nb (q);
  pipe_nb (r1); /* never written */
  pipe_nb (r2);
  g_assert_true (aero_watch_set_fd (wa, p[0], G_IO_IN, NULL));
  g_assert_true (aero_watch_set_fd (wb, q[0], G_IO_IN, NULL));
  /* Whichever runs first moves the other to an empty pipe. */
  a.other = wb;
  a.new_fd = r2[0];
  b.other = wa;
  b.new_fd = r1[0];
  g_assert_cmpint (write (p[1], "x", 1), ==, 1);
  g_assert_cmpint (write (q[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls + b.calls, ==, 1);
  aero_watch_free (wa);
  aero_watch_free (wb);
  for (int i = 0; i < 2; i++)
    close (p[i]), close (q[i]), close (r1[i]), close (r2[i]);
}

/* The context's owner lets go of it first, the last watch after. */
static void
test_context_unreffed_first (void)
{
  Seen seen = { 0 };
  GMainContext *context = g_main_context_new ();
  AeroWatch *w = aero_watch_new (context, on_watch, &seen);
  GMainContext *other;
  AeroWatch *w2;

  aero_watch_set_ready_time (w, 0);
  g_main_context_unref (context);
  /* Setting it again wakes nothing and warns nothing: the context is gone. */
  aero_watch_set_ready_time (w, g_get_monotonic_time () + 1000);
  aero_watch_set_ready_time (w, -1);
  /* A new context, perhaps at the same address, gets a reactor of its own. */
  other = g_main_context_new ();
  w2 = aero_watch_new (other, on_watch, &seen);
  aero_watch_set_ready_time (w2, 0);
  g_assert_true (g_main_context_iteration (other, FALSE));
  g_assert_cmpuint (seen.calls, ==, 1);
  aero_watch_free (w);
  aero_watch_free (w2);
  g_main_context_unref (other);
}

static void
test_errors (void)
{
  Seen a = { 0 }, b = { 0 };
  int fds[2];
  AeroWatch *wa = aero_watch_new (NULL, on_watch, &a);
  AeroWatch *wb = aero_watch_new (NULL, on_watch, &b);
  GError *error = NULL;
  g_autofree char *path = NULL;
  int file = g_file_open_tmp ("aero-watch-XXXXXX", &path, NULL);

  /* Two watches cannot share one open fd. */
  pipe_nb (fds);
  g_assert_true (aero_watch_set_fd (wa, fds[0], G_IO_IN, NULL));
  g_assert_false (aero_watch_set_fd (wb, fds[0], G_IO_IN, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "another watch"));
  g_clear_error (&error);
  /* ... and the first still works. */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.calls, ==, 1);
  g_assert_cmpuint (b.calls, ==, 0);

  /* A regular file is not pollable by epoll. */
  g_assert_cmpint (file, >=, 0);
  g_assert_false (aero_watch_set_fd (wb, file, G_IO_IN, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* A closed fd. */
  g_assert_false (aero_watch_set_fd (wb, 1000, G_IO_IN, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  aero_watch_free (wa);
  aero_watch_free (wb);
  aero_watch_free (NULL);
  close (fds[0]);
  close (fds[1]);
  close (file);
  g_unlink (path);
}

static guint
count_epoll_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target && strstr (target, "eventpoll"))
        n++;
    }
  return n;
}

/* Many quiet watches beside one busy one: only the busy one runs, and
 * once all are freed the context has nothing left to dispatch. */
static void
test_many_quiet (void)
{
  enum { N = 500 };
  int socks[N][2];
  AeroWatch *w[N];
  Seen seen[N];

  memset (seen, 0, sizeof seen);
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, socks[i]), ==, 0);
      w[i] = aero_watch_new (NULL, on_watch, &seen[i]);
      seen[i].drain = TRUE;
      seen[i].fd = socks[i][0];
      g_assert_true (aero_watch_set_fd (w[i], socks[i][0], G_IO_IN, NULL));
    }
  for (int round = 0; round < 20; round++)
    {
      g_assert_cmpint (write (socks[round * 7][1], "x", 1), ==, 1);
      iterate_idle ();
    }
  for (int i = 0; i < N; i++)
    g_assert_cmpuint (seen[i].calls, ==, (i % 7 == 0 && i / 7 < 20) ? 1 : 0);
  for (int i = 0; i < N; i++)
    {
      aero_watch_free (w[i]);
      close (socks[i][0]);
      close (socks[i][1]);
    }
  g_assert_false (g_main_context_pending (NULL));
  /* The shared source and its epoll fd went with the last watch. */
  g_assert_cmpuint (count_epoll_fds (), ==, 0);
}

/* A watch on a context run by another thread. */
typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  Seen seen;
  int fd;
} ThreadCtx;

static void
on_thread_watch (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  ThreadCtx *t = data;

  t->seen.calls++;
  g_assert_true (g_main_context_is_owner (t->context));
  aero_watch_free (watch);
  g_main_loop_quit (t->loop);
}

static gpointer
thread_main (gpointer data)
{
  ThreadCtx *t = data;
  AeroWatch *w;

  g_main_context_push_thread_default (t->context);
  w = aero_watch_new (NULL, on_thread_watch, t);
  g_assert_true (aero_watch_set_fd (w, t->fd, G_IO_IN, NULL));
  g_main_loop_run (t->loop);
  g_main_context_pop_thread_default (t->context);
  return NULL;
}

static void
test_other_context (void)
{
  ThreadCtx t = { 0 };
  int fds[2];
  GThread *thread;

  pipe_nb (fds);
  t.context = g_main_context_new ();
  t.loop = g_main_loop_new (t.context, FALSE);
  t.fd = fds[0];
  thread = g_thread_new ("watch", thread_main, &t);
  g_usleep (20 * 1000);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_thread_join (thread);
  g_assert_cmpuint (t.seen.calls, ==, 1);
  /* Nothing of it was on the default context. */
  g_assert_false (g_main_context_pending (NULL));
  g_main_loop_unref (t.loop);
  g_main_context_unref (t.context);
  close (fds[0]);
  close (fds[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/watch/fd-level-triggered", test_fd_level_triggered);
  g_test_add_func ("/watch/fd-out-and-hup", test_fd_out_and_hup);
  g_test_add_func ("/watch/ready-time-order", test_ready_time_order);
  g_test_add_func ("/watch/rearm-runs-next-dispatch", test_rearm_runs_next_dispatch);
  g_test_add_func ("/watch/rearm-writes-nothing", test_rearm_writes_nothing);
  g_test_add_func ("/watch/ready-time-from-other-source", test_ready_time_from_other_source);
  g_test_add_func ("/watch/free-from-callbacks", test_free_from_callbacks);
  g_test_add_func ("/watch/fd-reused-behind-back", test_fd_reused_behind_back);
  g_test_add_func ("/watch/fd-reopened-under-watch", test_fd_reopened_under_watch);
  g_test_add_func ("/watch/failed-change-forgotten", test_failed_change_forgotten);
  g_test_add_func ("/watch/cancel-due-in-batch", test_cancel_due_in_batch);
  g_test_add_func ("/watch/moved-in-batch", test_moved_in_batch);
  g_test_add_func ("/watch/context-unreffed-first", test_context_unreffed_first);
  g_test_add_func ("/watch/errors", test_errors);
  g_test_add_func ("/watch/many-quiet", test_many_quiet);
  g_test_add_func ("/watch/other-context", test_other_context);
  return g_test_run ();
}
