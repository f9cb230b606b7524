#!/usr/bin/python3
"""test_admission_config — the [admission] and [capture] groups at start:
good configurations pass --check-config; bad ones exit 2 with one
`FILE: [GROUP] KEY: …` message, and no secret ever appears in it. `auth =
none` (the default) and open mode are refused on a non-loopback listen
address unless a second key insists. (--check-config opens no socket, and
a refused configuration fails before any socket is opened.)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402

tap = admtest.Tap()

SECRET = "Sup3r-Secret-Value-That-Must-Never-Be-Printed"
PUBLIC = "0.0.0.0:18099"


def cfg(admission=None, capture=None, listen="127.0.0.1:18098"):
    return admtest.config(18098, admission=admission, capture=capture, http={"listen": listen})


def good(tmp, desc, text):
    code, out = admtest.check_config(tmp, "good", text)
    tap.ok(code == 0, f"good: {desc}", out)


def bad(tmp, desc, text, group, key, fragment):
    code, out = admtest.check_config(tmp, "bad", text)
    shape = re.search(r"^aero-netd: .*bad\.ini: \[" + re.escape(group) + r"\] " +
                      re.escape(key) + r": ", out, re.M)
    tap.ok(code == 2 and shape and re.search(fragment, out) and SECRET not in out,
           f"bad: {desc} -> exit 2, [{group}] {key}: …{fragment}…", f"exit {code}: {out}")


def main():
    with aerotest.TempDir() as tmp:
        secret_file = tmp.file("secret.txt", SECRET + "\n")
        empty_file = tmp.file("empty.txt", "\n")
        missing = os.path.join(tmp.path, "no-such-secret")

        # ---- good ----
        good(tmp, "no [admission] on loopback (auth none, closed)", cfg())
        good(tmp, "auth none on a public address with allow-none-on-public",
             cfg({"allow-none-on-public": "true"}, listen=PUBLIC))
        good(tmp, "open mode on a public address with both second keys",
             cfg({"open": "true", "allow-open-on-public": "true", "allow-none-on-public": "true"},
                 listen=PUBLIC))
        good(tmp, "token on a public address", cfg({"auth": "token", "token": SECRET},
                                                   listen=PUBLIC))
        good(tmp, "token-file", cfg({"auth": "token", "token-file": secret_file}))
        good(tmp, "session with every session key",
             cfg({"auth": "session", "session-secret-file": secret_file,
                  "session-lifetime": "1h", "session-cookie-samesite": "strict",
                  "session-cookie-secure": "true"}))
        good(tmp, "jwt with audience and issuer",
             cfg({"auth": "jwt", "jwt-secret": SECRET, "jwt-audience": "a", "jwt-issuer": "i"}))
        good(tmp, "session_or_token, session_and_token, session_or_jwt",
             cfg({"auth": "session_or_token", "token": "t", "session-secret": SECRET}))
        good(tmp, "session_and_token", cfg({"auth": "session_and_token", "token": "t",
                                             "session-secret": SECRET}))
        good(tmp, "session_or_jwt", cfg({"auth": "session_or_jwt", "jwt-secret": SECRET,
                                          "session-secret": SECRET}))
        good(tmp, "origins list with *, null and normalisable origins",
             cfg({"origins": "HTTPS://App.Example.COM:443/, http://127.1:8080, *, null",
                  "allow-null-origin": "true"}))
        good(tmp, "quotas and rate limits",
             cfg({"max-tunnels": "100", "max-tunnels-per-session": "2",
                  "bytes-per-second": "1M", "bytes-burst": "2M", "frames-per-second": "1000",
                  "frames-burst": "2000"}))
        good(tmp, "capture with every key",
             cfg(capture={"enabled": "true", "directory": "caps", "file-size": "1M",
                          "total-size": "10M", "buffer-size": "256k", "snaplen": "1500",
                          "on-total-size": "stop"}))
        good(tmp, "capture disabled with a directory", cfg(capture={"enabled": "false",
                                                                    "directory": "caps"}))

        # ---- bad ----
        bad(tmp, "auth none (default) on a public address", cfg(listen=PUBLIC),
            "admission", "auth", r"non-loopback.*allow-none-on-public")
        bad(tmp, "explicit auth none on a public address", cfg({"auth": "none"}, listen=PUBLIC),
            "admission", "auth", r"allow-none-on-public")
        bad(tmp, "open mode on a public address",
            cfg({"open": "true", "auth": "token", "token": SECRET}, listen=PUBLIC),
            "admission", "open", r"allow-open-on-public")
        bad(tmp, "unknown auth mode", cfg({"auth": "password"}), "admission", "auth",
            r"expected one of .*got 'password'")
        bad(tmp, "token mode without a token", cfg({"auth": "token"}), "admission", "token",
            r"required")
        bad(tmp, "token and token-file together",
            cfg({"auth": "token", "token": SECRET, "token-file": secret_file}),
            "admission", "token-file", r"only one")
        bad(tmp, "token-file that does not exist",
            cfg({"auth": "token", "token-file": missing}), "admission", "token-file",
            re.escape(missing))
        bad(tmp, "token-file that is empty", cfg({"auth": "token", "token-file": empty_file}),
            "admission", "token-file", r"empty")
        bad(tmp, "token with a space", cfg({"auth": "token", "token": SECRET + " x"}),
            "admission", "token", r"printable ASCII")
        bad(tmp, "a session secret in token mode",
            cfg({"auth": "token", "token": "t", "session-secret": SECRET}),
            "admission", "session-secret", r"only used with auth = session")
        bad(tmp, "a jwt secret in session mode",
            cfg({"auth": "session", "session-secret": SECRET, "jwt-secret": SECRET}),
            "admission", "jwt-secret", r"only used with auth = jwt")
        bad(tmp, "a token with auth none", cfg({"token": SECRET}), "admission", "token",
            r"only used with auth = token")
        bad(tmp, "session mode without a secret", cfg({"auth": "session"}),
            "admission", "session-secret", r"required")
        bad(tmp, "SameSite=None without a Secure cookie",
            cfg({"auth": "session", "session-secret": SECRET,
                 "session-cookie-samesite": "none"}),
            "admission", "session-cookie-samesite", r"Secure")
        bad(tmp, "a session lifetime of 500 ms",
            cfg({"auth": "session", "session-secret": SECRET, "session-lifetime": "500ms"}),
            "admission", "session-lifetime", r"500")
        bad(tmp, "an origin with a path", cfg({"origins": "https://ok.example, https://x/path"}),
            "admission", "origins", r"https://x/path")
        bad(tmp, "bytes-burst below 2 KiB",
            cfg({"bytes-per-second": "10k", "bytes-burst": "1k"}), "admission", "bytes-burst",
            r"1k")
        bad(tmp, "frames-burst without frames-per-second", cfg({"frames-burst": "10"}),
            "admission", "frames-burst", r"frames-per-second")
        bad(tmp, "an unknown key (with a secret elsewhere)",
            cfg({"auth": "token", "token": SECRET, "tokn": "x"}), "admission", "tokn",
            r"unknown key")
        bad(tmp, "capture enabled without a directory", cfg(capture={"enabled": "true"}),
            "capture", "directory", r"required")
        bad(tmp, "capture total-size below file-size",
            cfg(capture={"enabled": "true", "directory": "c", "file-size": "2M",
                         "total-size": "1M"}),
            "capture", "total-size", r"at least file-size")
        bad(tmp, "capture on-total-size with an unknown action",
            cfg(capture={"enabled": "true", "directory": "c", "on-total-size": "rotate"}),
            "capture", "on-total-size", r"delete-oldest")
        bad(tmp, "capture unknown key", cfg(capture={"enabled": "true", "directory": "c",
                                                    "size": "1"}),
            "capture", "size", r"unknown key")

        # A real start (not --check-config) on a public address is refused
        # while reading the configuration, before any socket is opened.
        path = tmp.file("public.ini", cfg(listen=PUBLIC))
        code, out, err = aerotest.run_netd(["--config", path], timeout=20)
        tap.ok(code == 2 and "[admission] auth" in err,
               "starting with auth none on 0.0.0.0 exits 2 (no socket opened)", f"{code} {err}")
    tap.done()


if __name__ == "__main__":
    main()
