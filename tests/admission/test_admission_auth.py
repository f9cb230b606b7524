#!/usr/bin/python3
"""test_admission_auth — every `[admission] auth` mode against a real
aero-netd with transport-ws: the right credential, in each place
../shared/PROTOCOLS.md §5 lists, opens a tunnel (101 and a frame reflected);
a wrong, expired, malformed or missing one is refused with 401 before the
upgrade, with the reason in the access log and in
aero_admission_refused_total. Secrets never reach the log.

Every request carries an Origin of the daemon's own host, which the
default (empty) `origins` allows.
"""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402
import wsclient  # noqa: E402

tap = admtest.Tap()

TOKEN = "tok-Q8xVb3-secret-token-value"
SESSION_SECRET = "session-secret-for-the-admission-tests-1234"
JWT_SECRET = "jwt-secret-for-the-admission-tests-5678"
SECRETS = (TOKEN, SESSION_SECRET, JWT_SECRET)


class Client:
    """Upgrade requests to one daemon, with its own Origin."""

    def __init__(self, port):
        self.port = port
        self.origin = admtest.same_origin(port)

    def status(self, path="/l2", protocols=(admtest.SUBPROTOCOL,), headers=None, origin=None):
        status, hdrs, _ = admtest.upgrade(self.port, path=path, origin=origin or self.origin,
                                          protocols=protocols, headers=headers)
        return status, hdrs

    def opens(self, path="/l2", protocols=(admtest.SUBPROTOCOL,), headers=None):
        """True when a tunnel opens and test-reflect answers through it."""
        try:
            with admtest.open_tunnel(self.port, path=path, origin=self.origin,
                                     protocols=protocols, headers=headers) as t:
                return t.protocol == admtest.SUBPROTOCOL and admtest.reflect_roundtrip(t)
        except wsclient.Refused as e:
            tap.diag(f"refused: {e.status} {e.body!r}")
            return False

    def cookie(self):
        status, _, _, cookie = admtest.post_session(self.port, self.origin)
        if status != 201 or cookie is None:
            raise RuntimeError(f"POST /session answered {status}")
        return cookie


def sub(credential):
    return (admtest.SUBPROTOCOL, admtest.TOKEN_PREFIX + credential)


def cookie_header(value):
    return [("Cookie", f"theme=dark; aero_session={value}")]


def bearer(value):
    return [("Authorization", f"Bearer {value}")]


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


def refused(c, desc, reason, **kw):
    status, hdrs = c.status(**kw)
    tap.ok(status == 401 and "www-authenticate" in hdrs and "upgrade" not in hdrs,
           f"{desc}: 401 before the upgrade", f"status {status} {hdrs}")
    return reason


def check_refusals(d, counts, mode):
    for reason, n in counts.items():
        got = admtest.m(d, "aero_admission_refused_total", reason=reason)
        tap.ok(got == n, f"{mode}: aero_admission_refused_total{{reason={reason}}} is {n}",
               f"got {got}")


def check_log(d, mode, n_refused):
    lines = admtest.access_lines(d)
    refused_lines = [ln for ln in lines if ln.get("verdict") == "refused"]
    tap.ok(len(refused_lines) == n_refused and
           all(ln.get("status") == "401" and ln.get("reason", "").startswith("auth_")
               for ln in refused_lines),
           f"{mode}: one access line per refusal, status 401 and an auth_* reason",
           f"{len(refused_lines)} lines, want {n_refused}")
    log = d.stderr()
    leaked = [s for s in SECRETS if s in log]
    tap.ok(not leaked, f"{mode}: no secret in the log", str(leaked))


def start(tmp, mode, extra=None):
    port = aerotest.free_port()
    adm = {"auth": mode}
    adm.update(extra or {})
    d = admtest.start(tmp, mode, admtest.config(port, admission=adm), port)
    return d, Client(port)


def run_none(tmp):
    d, c = start(tmp, "none")
    with d:
        tap.ok(c.opens(), "none: a tunnel opens without credentials")
        tap.ok("NO AUTHENTICATION" in d.stderr(), "none: logged loudly at start")
        lines = admtest.access_lines(d)
        tap.ok(lines and lines[-1].get("principal") == "-", "none: principal '-' in the access log")
        tap.ok(d.stop() == 0, "none: exits 0")


def run_token(tmp):
    secret_file = tmp.file("token.secret", TOKEN + "\n")
    d, c = start(tmp, "token", {"token-file": secret_file})
    with d:
        tap.ok(c.opens(protocols=sub(TOKEN)), "token: right token as aero-l2-token.<t> opens")
        tap.ok(c.opens(path=q("/l2", token=TOKEN)), "token: right token as ?token= opens")
        tap.ok(c.opens(path=q("/l2", apiKey=TOKEN)), "token: right token as ?apiKey= opens")
        tap.ok(c.opens(protocols=sub("wrong-guess") + (admtest.TOKEN_PREFIX + TOKEN,)),
               "token: the right token among two offered opens")
        counts = {"auth_invalid": 0, "auth_missing": 0, "auth_malformed": 0}
        for desc, kw in (
                ("wrong token (subprotocol)", {"protocols": sub(TOKEN + "x")}),
                ("wrong token (?token=)", {"path": q("/l2", token=TOKEN[:-1])}),
                ("wrong token (?apiKey=)", {"path": q("/l2", apiKey="nope")}),
                ("the token in Authorization: Bearer (not a token place)",
                 {"headers": bearer(TOKEN)})):
            counts[refused(c, f"token: {desc}", "auth_invalid" if "Bearer" not in desc
                           else "auth_missing", **kw)] += 1
        counts[refused(c, "token: missing", "auth_missing")] += 1
        too_many = tuple(admtest.TOKEN_PREFIX + f"guess{i}" for i in range(9))
        counts[refused(c, "token: malformed (9 credentials offered)", "auth_malformed",
                       protocols=(admtest.SUBPROTOCOL,) + too_many)] += 1
        tap.ok(True, "token: an expired token cannot exist (shared secrets do not expire)")
        check_refusals(d, counts, "token")
        check_log(d, "token", sum(counts.values()))
        principals = {ln.get("principal") for ln in admtest.access_lines(d)
                      if ln.get("verdict") == "admitted"}
        tap.ok(principals == {"token"}, "token: principal 'token'", str(principals))
        tap.ok(d.stop() == 0, "token: exits 0")


def run_session(tmp):
    d, c = start(tmp, "session", {"session-secret": SESSION_SECRET, "session-lifetime": "3s"})
    with d:
        issued = c.cookie()
        tap.ok(c.opens(headers=cookie_header(issued)), "session: the cookie of POST /session opens")
        minted = admtest.mint_cookie(SESSION_SECRET, "sid-minted", int(time.time()) + 60)
        tap.ok(c.opens(headers=cookie_header(minted)), "session: a cookie signed with the secret opens")
        counts = {"auth_invalid": 0, "auth_expired": 0, "auth_malformed": 0, "auth_missing": 0}
        wrong = admtest.mint_cookie("another-secret", "sid-x", int(time.time()) + 60)
        counts[refused(c, "session: wrong secret", "auth_invalid", headers=cookie_header(wrong))] += 1
        v2 = admtest.mint_cookie(SESSION_SECRET, "sid-x", int(time.time()) + 60, version=2)
        counts[refused(c, "session: wrong version", "auth_invalid", headers=cookie_header(v2))] += 1
        old = admtest.mint_cookie(SESSION_SECRET, "sid-x", int(time.time()) - 1)
        counts[refused(c, "session: expired", "auth_expired", headers=cookie_header(old))] += 1
        for bad in ("not-a-cookie", issued + "=", issued.replace(".", ".."), "a.b.c"):
            counts[refused(c, f"session: malformed {bad[:20]!r}", "auth_malformed",
                           headers=cookie_header(bad))] += 1
        counts[refused(c, "session: missing", "auth_missing")] += 1
        counts[refused(c, "session: the cookie value as a token does not count", "auth_missing",
                       protocols=sub(issued))] += 1
        # The issued cookie lives session-lifetime (3 s).
        time.sleep(3.2)
        counts[refused(c, "session: the POST /session cookie after session-lifetime",
                       "auth_expired", headers=cookie_header(issued))] += 1
        check_refusals(d, counts, "session")
        check_log(d, "session", sum(counts.values()))
        principals = sorted(ln.get("principal") for ln in admtest.access_lines(d)
                            if ln.get("verdict") == "admitted" and ln.get("path") == "/l2")
        tap.ok(len(principals) == 2 and all(p.startswith("session:") for p in principals)
               and "session:sid-minted" in principals,
               "session: principal session:<sid>", str(principals))
        tap.ok(d.stop() == 0, "session: exits 0")


def run_jwt(tmp):
    d, c = start(tmp, "jwt", {"jwt-secret": JWT_SECRET, "jwt-audience": "aero-l2",
                              "jwt-issuer": "aero-gateway"})
    with d:
        good = admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims("sid-j1", aud="aero-l2",
                                                               iss="aero-gateway"))
        tap.ok(c.opens(headers=bearer(good)), "jwt: right JWT in Authorization: Bearer opens")
        tap.ok(c.opens(protocols=sub(good)), "jwt: right JWT as aero-l2-token.<jwt> opens")
        tap.ok(c.opens(path=q("/l2", token=good)), "jwt: right JWT as ?token= opens")
        bound = admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims("sid-j2", aud=["x", "aero-l2"],
                                                                iss="aero-gateway",
                                                                origin=c.origin))
        tap.ok(c.opens(headers=bearer(bound)), "jwt: an origin claim matching the Origin opens")
        counts = {"auth_invalid": 0, "auth_expired": 0, "auth_malformed": 0, "auth_missing": 0}
        cases = [
            ("wrong secret", "auth_invalid",
             admtest.mint_jwt("other", admtest.jwt_claims(aud="aero-l2", iss="aero-gateway"))),
            ("wrong audience", "auth_invalid",
             admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims(aud="other", iss="aero-gateway"))),
            ("no issuer", "auth_invalid",
             admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims(aud="aero-l2"))),
            ("alg HS512", "auth_invalid",
             admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims(aud="aero-l2", iss="aero-gateway"),
                              {"alg": "HS512"})),
            ("another origin", "auth_invalid",
             admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims(aud="aero-l2", iss="aero-gateway",
                                                             origin="https://evil.example"))),
            ("expired", "auth_expired",
             admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims(ttl=-5, aud="aero-l2",
                                                             iss="aero-gateway"))),
            ("malformed (two parts)", "auth_malformed", good.rsplit(".", 1)[0]),
            ("malformed (bad base64url)", "auth_malformed", good[:-1] + "!"),
        ]
        for desc, reason, token in cases:
            counts[refused(c, f"jwt: {desc}", reason, headers=bearer(token))] += 1
        counts[refused(c, "jwt: missing", "auth_missing")] += 1
        check_refusals(d, counts, "jwt")
        check_log(d, "jwt", sum(counts.values()))
        principals = {ln.get("principal") for ln in admtest.access_lines(d)
                      if ln.get("verdict") == "admitted"}
        tap.ok(principals == {"jwt:sid-j1", "jwt:sid-j2"}, "jwt: principal jwt:<sid>",
               str(principals))
        tap.ok(d.stop() == 0, "jwt: exits 0")


def run_session_or_token(tmp):
    d, c = start(tmp, "session_or_token", {"token": TOKEN, "session-secret": SESSION_SECRET})
    with d:
        cookie = c.cookie()
        tap.ok(c.opens(headers=cookie_header(cookie)), "session_or_token: the cookie alone opens")
        tap.ok(c.opens(protocols=sub(TOKEN)), "session_or_token: the token alone opens")
        bad = admtest.mint_cookie("x", "s", int(time.time()) + 60)
        tap.ok(c.opens(protocols=sub(TOKEN), headers=cookie_header(bad)),
               "session_or_token: a bad cookie with the right token opens")
        counts = {"auth_missing": 0, "auth_invalid": 0, "auth_expired": 0, "auth_malformed": 0}
        counts[refused(c, "session_or_token: neither", "auth_missing")] += 1
        counts[refused(c, "session_or_token: wrong token", "auth_invalid",
                       protocols=sub("nope"))] += 1
        counts[refused(c, "session_or_token: bad cookie, no token", "auth_invalid",
                       headers=cookie_header(bad))] += 1
        old = admtest.mint_cookie(SESSION_SECRET, "s", int(time.time()) - 10)
        counts[refused(c, "session_or_token: expired cookie, no token", "auth_expired",
                       headers=cookie_header(old))] += 1
        counts[refused(c, "session_or_token: malformed cookie, no token", "auth_malformed",
                       headers=cookie_header("garbage"))] += 1
        check_refusals(d, counts, "session_or_token")
        check_log(d, "session_or_token", sum(counts.values()))
        tap.ok(d.stop() == 0, "session_or_token: exits 0")


def run_session_and_token(tmp):
    d, c = start(tmp, "session_and_token", {"token": TOKEN, "session-secret": SESSION_SECRET})
    with d:
        cookie = c.cookie()
        tap.ok(c.opens(protocols=sub(TOKEN), headers=cookie_header(cookie)),
               "session_and_token: cookie and token together open")
        counts = {"auth_missing": 0, "auth_invalid": 0, "auth_expired": 0, "auth_malformed": 0}
        counts[refused(c, "session_and_token: the cookie alone", "auth_missing",
                       headers=cookie_header(cookie))] += 1
        counts[refused(c, "session_and_token: the token alone", "auth_missing",
                       protocols=sub(TOKEN))] += 1
        counts[refused(c, "session_and_token: cookie and a wrong token", "auth_invalid",
                       protocols=sub("nope"), headers=cookie_header(cookie))] += 1
        old = admtest.mint_cookie(SESSION_SECRET, "s", int(time.time()) - 10)
        counts[refused(c, "session_and_token: expired cookie and the token", "auth_expired",
                       protocols=sub(TOKEN), headers=cookie_header(old))] += 1
        counts[refused(c, "session_and_token: malformed cookie and the token", "auth_malformed",
                       protocols=sub(TOKEN), headers=cookie_header("x.y"))] += 1
        check_refusals(d, counts, "session_and_token")
        check_log(d, "session_and_token", sum(counts.values()))
        tap.ok(d.stop() == 0, "session_and_token: exits 0")


def run_session_or_jwt(tmp):
    d, c = start(tmp, "session_or_jwt", {"jwt-secret": JWT_SECRET,
                                         "session-secret": SESSION_SECRET})
    with d:
        cookie = c.cookie()
        jwt = admtest.mint_jwt(JWT_SECRET, admtest.jwt_claims("sid-or-jwt"))
        tap.ok(c.opens(headers=cookie_header(cookie)), "session_or_jwt: the cookie alone opens")
        tap.ok(c.opens(headers=bearer(jwt)), "session_or_jwt: the JWT alone opens")
        counts = {"auth_missing": 0, "auth_invalid": 0, "auth_expired": 0, "auth_malformed": 0}
        counts[refused(c, "session_or_jwt: neither", "auth_missing")] += 1
        counts[refused(c, "session_or_jwt: a JWT signed with the session secret", "auth_invalid",
                       headers=bearer(admtest.mint_jwt(SESSION_SECRET,
                                                       admtest.jwt_claims())))] += 1
        counts[refused(c, "session_or_jwt: an expired JWT", "auth_expired",
                       headers=bearer(admtest.mint_jwt(JWT_SECRET,
                                                       admtest.jwt_claims(ttl=-1))))] += 1
        counts[refused(c, "session_or_jwt: a malformed JWT", "auth_malformed",
                       headers=bearer("abc.def"))] += 1
        check_refusals(d, counts, "session_or_jwt")
        check_log(d, "session_or_jwt", sum(counts.values()))
        tap.ok(d.stop() == 0, "session_or_jwt: exits 0")


def main():
    with aerotest.TempDir() as tmp:
        for func in (run_none, run_token, run_session, run_jwt, run_session_or_token,
                     run_session_and_token, run_session_or_jwt):
            try:
                func(tmp)
            except Exception:  # noqa: BLE001 - reported, then the next part runs
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
