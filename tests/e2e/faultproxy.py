"""A fault-injecting HTTP front for the province uplink tests (SPEC 5.3, 5.5).

    proxy = FaultProxy(upstream_port).start()      listens on 127.0.0.1:<proxy.port>
    proxy.set_mode("500")                          every request from now on
    proxy.set_mode("429", retry_after=3, times=2)  the next two, then pass-through again
    proxy.set_mode("stall", paths=("/v1/records",))  only requests for that path
    proxy.requests                                 what arrived (Seen objects, in order)
    proxy.count("stall"), proxy.count(path="/v1/reconcile")
    proxy.stop()

It sits between hall-agent and the reference receiver's nginx (https: upstream_ca names the
CA file its certificate is verified against; the agent talks plain http to the proxy on
loopback). Each connection carries one
request; every answer ends with the connection closed. Modes:

    pass          forward to the receiver, relay its answer byte for byte (delay=S: S
                  seconds after the receiver answered)
    500           500 Internal Server Error (text/plain)
    429, 503      that status with Retry-After: N (retry_after=N, default 3)
    portal        200 text/html: a captive portal's login page
    redirect      302 to a portal's login page
    json          200 application/json without the results envelope
    stall         forward, then send the headers and half the body of the receiver's
                  answer, and hang until the client gives up
    reset_mid     forward, send part of the answer, then close with RST (SO_LINGER 0)
    reset_before  forward (the receiver stores the batch), then RST without answering
    drop          accept and read the request, never forward, never answer
    cap           a front with a body limit (max_body=N bytes, as nginx's
                  client_max_body_size): a larger request gets 413, a smaller one passes

When the receiver cannot be reached in pass-through (or a forwarding mode), the client's
connection is reset, as a dead link would do. Python 3 standard library only.
"""

import socket
import ssl
import struct
import threading
import time

MODES = ("pass", "500", "429", "503", "portal", "redirect", "json", "stall", "reset_mid",
         "reset_before", "drop", "cap")

PORTAL_PAGE = (b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>\xe6\xac\xa2\xe8"
               b"\xbf\x8e\xe4\xbd\xbf\xe7\x94\xa8\xe5\x85\x8d\xe8\xb4\xb9 WiFi</title></head>"
               b"<body><form action=\"/portal/login\" method=\"post\"><input name=\"phone\">"
               b"<button>\xe7\x99\xbb\xe5\xbd\x95</button></form></body></html>\n")


class Seen:
    """One request the proxy read: when, which mode handled it, what it was, what came of it."""

    def __init__(self, t, mode, method, path, headers, body):
        self.t = t                  # time.monotonic() once the whole request was read
        self.mode = mode
        self.method = method
        self.path = path
        self.headers = headers      # lower-cased names -> value
        self.body = body            # the request body as sent (compressed if it was)
        self.upstream_status = None  # the receiver's status, when forwarded
        self.upstream_body = None
        self.sent = 0               # bytes of the answer the client got
        self.closed_by_client = None  # for stall and drop: when the client gave up

    def __repr__(self):
        return "<%s %s %s up=%s %.3f>" % (self.mode, self.method, self.path,
                                          self.upstream_status, self.t)


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1", hang_max=120.0,
                 upstream_ca=None):
        self.upstream = (upstream_host, upstream_port)
        self.upstream_ca = upstream_ca    # set: the receiver speaks https, verified with it
        self.hang_max = hang_max
        self._lock = threading.Lock()
        self._mode = "pass"
        self._opts = {}
        self._times = None
        self._then = "pass"
        self._paths = None
        self.requests = []
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self._acceptor = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # ---- control -------------------------------------------------------------------------
    def set_mode(self, mode, times=None, then="pass", paths=None, retry_after=3, delay=0.0,
                 max_body=None):
        """mode for the next `times` requests (None: until changed) whose path is in paths
        (None: every path); then `then`. Requests for other paths pass through. delay: in
        the forwarding modes, seconds between the receiver's answer and relaying it (a slow
        link on the way back: the receiver holds the batch, the sender does not know yet)."""
        if mode not in MODES or then not in MODES:
            raise ValueError("unknown mode %r" % (mode,))
        with self._lock:
            self._mode = mode
            self._times = times
            self._then = then
            self._paths = tuple(paths) if paths else None
            self._opts = {"retry_after": retry_after, "delay": delay, "max_body": max_body}

    @property
    def mode(self):
        with self._lock:
            return self._mode

    def _take_mode(self, path):
        with self._lock:
            if self._paths is not None and path not in self._paths:
                return "pass", {}
            mode, opts = self._mode, dict(self._opts)
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._mode, self._times, self._paths = self._then, None, None
            return mode, opts

    def count(self, mode=None, path=None, method=None, since=0):
        """Requests seen (from index `since`) that match mode, path and method."""
        with self._lock:
            reqs = self.requests[since:]
        return sum(1 for r in reqs if (mode is None or r.mode == mode) and
                   (path is None or r.path == path) and (method is None or r.method == method))

    def counts(self):
        """Requests per mode."""
        out = {}
        with self._lock:
            for r in self.requests:
                out[r.mode] = out.get(r.mode, 0) + 1
        return out

    def seen(self, path=None, since=0):
        with self._lock:
            return [r for r in self.requests[since:] if path is None or r.path == path]

    def mark(self):
        """An index for since= (the number of requests so far)."""
        with self._lock:
            return len(self.requests)

    # ---- life cycle ----------------------------------------------------------------------
    def start(self):
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy",
                                          daemon=True)
        self._acceptor.start()
        return self

    def stop(self):
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(None)
            with self._lock:
                self._conns.add(c)
                self._threads = [t for t in self._threads if t.is_alive()]
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self._threads.append(t)
            t.start()

    # ---- one connection ------------------------------------------------------------------
    def _serve(self, c):
        try:
            self._serve_one(c)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(c)
            try:
                c.close()
            except OSError:
                pass

    def _read_request(self, c):
        """(raw head bytes, method, path, headers, body) or None when the client went away."""
        c.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 1 << 20:
                return None
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 3:
            return None
        method, target = parts[0], parts[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = rest
        while len(body) < length:
            chunk = c.recv(min(1 << 20, length - len(body)))
            if not chunk:
                return None
            body += chunk
        c.settimeout(None)
        path = target.split("?", 1)[0]
        return head, method, path, headers, body[:length]

    def _forward(self, head, body):
        """The request sent to the receiver (Connection: close); its whole answer, or None."""
        lines = head.split(b"\r\n")
        out = [lines[0]]
        for line in lines[1:]:
            if line.lower().startswith((b"connection:", b"keep-alive:", b"proxy-connection:")):
                continue
            out.append(line)
        out.append(b"Connection: close")
        req = b"\r\n".join(out) + b"\r\n\r\n" + body
        try:
            u = socket.create_connection(self.upstream, timeout=30)
            if self.upstream_ca is not None:
                ctx = ssl.create_default_context(cafile=self.upstream_ca)
                u = ctx.wrap_socket(u, server_hostname=self.upstream[0])
        except OSError:
            return None
        try:
            u.sendall(req)
            answer = b""
            while True:
                try:
                    chunk = u.recv(65536)
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    break    # the receiver closed (with or without TLS's close_notify)
                if not chunk:
                    break
                answer += chunk
            return answer
        except OSError:
            return None
        finally:
            u.close()

    @staticmethod
    def _status_of(answer):
        try:
            return int(answer.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None

    @staticmethod
    def _rst(c):
        try:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        c.close()

    def _hang(self, c, seen):
        """Keeps the connection open, answering nothing, until the client closes it."""
        deadline = time.monotonic() + self.hang_max
        c.settimeout(0.2)
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
        seen.closed_by_client = time.monotonic()

    def _send(self, c, seen, data):
        c.sendall(data)
        seen.sent += len(data)

    @staticmethod
    def _answer(status, reason, ctype, body, extra=()):
        h = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: " + ctype,
             "Content-Length: %d" % len(body), "Connection: close"]
        h += list(extra)
        return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body

    def _serve_one(self, c):
        got = self._read_request(c)
        if got is None:
            return
        head, method, path, headers, body = got
        mode, opts = self._take_mode(path)
        seen = Seen(time.monotonic(), mode, method, path, headers, body)
        with self._lock:
            self.requests.append(seen)

        if mode == "drop":
            self._hang(c, seen)
            return
        if mode == "cap":
            if len(body) > opts["max_body"]:
                self._send(c, seen, self._answer(
                    413, "Request Entity Too Large", "text/html",
                    b"<html><head><title>413 Request Entity Too Large</title></head></html>\n"))
                c.shutdown(socket.SHUT_WR)
                return
            mode = "pass"
        if mode in ("pass", "stall", "reset_mid", "reset_before"):
            answer = self._forward(head, body)
            if answer is None:      # the receiver is down: the link looks dead
                self._rst(c)
                return
            seen.upstream_status = self._status_of(answer)
            seen.upstream_body = answer.partition(b"\r\n\r\n")[2]
            if opts.get("delay"):
                time.sleep(opts["delay"])
            if mode == "pass":
                self._send(c, seen, answer)
                c.shutdown(socket.SHUT_WR)
                return
            if mode == "reset_before":
                self._rst(c)
                return
            hlen = answer.find(b"\r\n\r\n") + 4
            part = answer[:hlen + max(1, (len(answer) - hlen) // 2)]
            self._send(c, seen, part)
            if mode == "stall":
                self._hang(c, seen)
                return
            time.sleep(0.3)         # reset_mid: the client has read the part by now
            self._rst(c)
            return
        if mode in ("429", "503"):
            ra = opts.get("retry_after", 3)
            msg = b'{"error":{"code":"busy","message":"try later"}}\n'
            reason = "Too Many Requests" if mode == "429" else "Service Unavailable"
            data = self._answer(int(mode), reason, "application/json", msg,
                                ["Retry-After: %d" % ra])
        elif mode == "500":
            data = self._answer(500, "Internal Server Error", "text/plain",
                                b"upstream exploded\n")
        elif mode == "portal":
            data = self._answer(200, "OK", "text/html; charset=utf-8", PORTAL_PAGE)
        elif mode == "redirect":
            data = self._answer(302, "Found", "text/html", b"<a href=\"/login\">login</a>\n",
                                ["Location: http://10.255.0.1/portal/login?from=" + path])
        elif mode == "json":
            data = self._answer(200, "OK", "application/json",
                                b'{"status":"ok","message":"welcome to the free WiFi"}\n')
        else:
            raise AssertionError("mode %r" % mode)
        self._send(c, seen, data)
        c.shutdown(socket.SHUT_WR)
