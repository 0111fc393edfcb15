#!/usr/bin/env python3
"""A scripted HTTPS origin for triaged's TLS tests, on Python's ssl module (OpenSSL).

Listens on 127.0.0.1:0, prints "listening 127.0.0.1:PORT" once ready, and serves HTTP/1.1
keep-alive over TLS: every request gets 200 with its TLS facts in headers (X-Tls-Version,
X-Session-Reused, X-Client-Cert). Modes for the failures triaged must name:

  tls          a TLS server (--cert/--key; --client-ca requires a client certificate signed by it;
               --max-version/--ciphers narrow what it accepts)
  plain        a plain HTTP server that answers anything that is not HTTP with 400, as most do
               when a TLS ClientHello reaches them
  tls-alert    a TLS server that answers plain text with a fatal protocol_version alert, as
               Java's and GnuTLS's do (OpenSSL's closes without a byte)
  silent       accepts TCP and never answers: a handshake that does not end

Runs until SIGTERM (the harness also sets PR_SET_PDEATHSIG). Loopback only.
"""

import argparse
import os
import signal
import socket
import ssl
import threading

ALERT_PROTOCOL_VERSION = b"\x15\x03\x03\x00\x02\x02\x46"


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, data
        data += chunk
        if len(data) > 1 << 20:
            return None, data
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def serve_http(conn, facts, close_after):
    while True:
        head, _ = read_head(conn)
        if head is None:
            return
        body = b"hello over tls\n"
        lines = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body)]
        for name, value in facts().items():
            lines.append(name.encode() + b": " + value.encode())
        if close_after:
            lines.append(b"Connection: close")
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        if close_after:
            return


def tls_facts(tls):
    def facts():
        cert = tls.getpeercert()
        subject = "none"
        if cert:
            subject = ",".join("=".join(pair) for rdn in cert.get("subject", ()) for pair in rdn)
        return {
            "X-Tls-Version": tls.version() or "?",
            "X-Session-Reused": "true" if tls.session_reused else "false",
            "X-Client-Cert": subject,
        }
    return facts


def handle(raw, args, context):
    try:
        if args.mode == "silent":
            while raw.recv(65536):
                pass
            return
        if args.mode == "plain":
            first = raw.recv(65536, socket.MSG_PEEK)
            if first[:1].isalpha():
                serve_http(raw, lambda: {"X-Tls-Version": "none"}, args.close)
            else:
                raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
            return
        if args.mode == "tls-alert":
            first = raw.recv(65536, socket.MSG_PEEK)
            if first[:1] != b"\x16":
                raw.recv(65536)
                raw.sendall(ALERT_PROTOCOL_VERSION)
                return
        tls = context.wrap_socket(raw, server_side=True)
        serve_http(tls, tls_facts(tls), args.close)
        try:
            tls.unwrap()
        except (ssl.SSLError, OSError):
            pass
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            raw.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="tls", choices=["tls", "plain", "tls-alert", "silent"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    parser.add_argument("--max-version", choices=["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"])
    parser.add_argument("--ciphers")
    parser.add_argument("--close", action="store_true", help="Connection: close on every answer")
    args = parser.parse_args()

    context = None
    if args.mode in ("tls", "tls-alert"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.max_version:
            # Old versions need OpenSSL's security level 0 to be offered at all.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = getattr(ssl.TLSVersion, args.max_version)
        if args.ciphers:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(args.ciphers)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("listening 127.0.0.1:%d" % listener.getsockname()[1], flush=True)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=handle, args=(raw, args, context), daemon=True).start()


if __name__ == "__main__":
    main()
