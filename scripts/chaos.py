#!/usr/bin/env python3
"""The chaos soak (issue 22), driven by scripts/chaos.sh, which builds Fitroom and starts
PostgreSQL and s3s-fs. Standard library only.

Two `fitroom serve` processes share one PostgreSQL database and one s3s-fs bucket, each reached
through a TCP fault proxy of our own, and use a Replicate-compatible provider fake (also behind
a proxy) that delays, fails, duplicates and loses its signed webhooks. Shoppers sign up, buy
credits with signed Stripe events (sometimes delivered twice), submit try-ons with an
`Idempotency-Key` (retried with the same key when an answer is lost), cancel and delete them.
Meanwhile faults chosen by the seed: a process SIGKILLed and restarted, every connection through
a proxy cut at once, a proxy refusing connections, stalling or adding latency for a while, and
PostgreSQL restarted. Then, with the faults off, everything must settle: every job final, no
open hold, each shopper's balance equal to the model's (grants − successes), every result
served, no stored object that nothing references once crash leftovers are swept and nothing
referenced missing, `fitroom ledger verify` clean. Prints jobs, faults by kind and violations;
exits 1 on any violation. A failing seed reproduces: `scripts/chaos.sh <seconds> <seed>`.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLICATE_TOKEN = "r8_chaos_token"
REPLICATE_SECRET = "whsec_" + base64.b64encode(b"chaos-soak-replicate-secret!").decode()
STRIPE_SECRET = "whsec_chaos_stripe"
SIGNUP_CREDITS = 5
STARTER_CREDITS = 10
LOG_LOCK = threading.Lock()


def log(*parts):
    with LOG_LOCK:
        print("   ", *parts, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png(width, height, seed):
    """A valid PNG of noise-free stripes: small, and an image by its bytes."""
    rng = random.Random(seed)
    colour = bytes(rng.randrange(256) for _ in range(3))
    row = b"\x00" + colour * width
    raw = row * height

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# --- the fault proxy ---------------------------------------------------------------------------

class Proxy:
    """A TCP proxy whose faults the scheduler turns on and off: `cut` closes every connection at
    once; `refuse`, `stall` and `latency` last until `clear`."""

    def __init__(self, name, upstream_port):
        self.name = name
        self.upstream = upstream_port
        self.port = free_port()
        self.mode = "ok"
        self.latency = 0.0
        self.lock = threading.Lock()
        self.sockets = set()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(256)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.mode == "stall":
                    time.sleep(0.05)
                if self.latency:
                    time.sleep(self.latency)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self.lock:
                self.sockets.discard(src)
                self.sockets.discard(dst)

    def cut(self):
        with self.lock:
            victims = list(self.sockets)
        for s in victims:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def clear(self):
        self.mode = "ok"
        self.latency = 0.0


# --- the provider fake -------------------------------------------------------------------------

class Provider:
    """Replicate's protocol (predictions, Bearer token, Standard Webhooks signatures), with the
    failures real providers have: slow, failing, duplicated and lost webhooks."""

    def __init__(self, rng, faults):
        self.rng = rng
        self.faults = faults
        self.lock = threading.Lock()
        self.predictions = {}
        self.outputs = {}
        self.key = base64.b64decode(REPLICATE_SECRET[len("whsec_"):])
        self.port = free_port()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body, kind="application/json"):
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                if self.headers.get("authorization") != f"Bearer {REPLICATE_TOKEN}":
                    return self._send(401, b'{"detail":"unauthenticated"}')
                if provider.rng.random() < 0.05:
                    provider.faults["provider_503"] += 1
                    return self._send(503, b'{"detail":"overloaded"}')
                self._send(201, json.dumps(provider.create(request["webhook"])).encode())

            def do_GET(self):
                if self.path.startswith("/outputs/"):
                    data = provider.outputs.get(self.path.rsplit("/", 1)[-1].removesuffix(".png"))
                    return self._send(200, data, "image/png") if data else self._send(404, b"{}")
                pid = self.path.rsplit("/", 1)[-1]
                with provider.lock:
                    prediction = provider.predictions.get(pid)
                if prediction is None:
                    return self._send(404, b'{"detail":"not found"}')
                self._send(200, json.dumps(prediction).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.proxy = None  # set by the caller: output URLs go through it

    def create(self, callback):
        pid = "pred_" + uuid.uuid4().hex[:16]
        prediction = {"id": pid, "status": "starting", "output": None, "error": None,
                      "metrics": {}, "input": {}, "logs": ""}
        with self.lock:
            self.predictions[pid] = prediction
        delay = self.rng.uniform(0.2, 3.0)
        succeed = self.rng.random() < 0.85
        threading.Thread(target=self._finish, args=(pid, callback, delay, succeed), daemon=True).start()
        return dict(prediction)

    def _finish(self, pid, callback, delay, succeed):
        time.sleep(delay)
        with self.lock:
            prediction = self.predictions[pid]
            if succeed:
                self.outputs[pid] = png(64, 96, pid)
                prediction["status"] = "succeeded"
                prediction["output"] = [f"http://127.0.0.1:{self.proxy.port}/outputs/{pid}.png"]
                prediction["metrics"] = {"predict_time": round(delay, 3)}
            else:
                prediction["status"] = "failed"
                prediction["error"] = "the chaos provider failed this prediction"
            body = json.dumps(prediction).encode()
        roll = self.rng.random()
        if roll < 0.1:
            self.faults["webhook_lost"] += 1
            return
        copies = 2 if roll > 0.9 else 1
        if copies == 2:
            self.faults["webhook_duplicated"] += 1
        for _ in range(copies):
            self._deliver(callback, body, pid)

    def _deliver(self, url, body, pid):
        """Retries like a provider does: a few times, then the webhook is lost."""
        for attempt in range(4):
            message = f"msg_{pid}"
            timestamp = int(time.time())
            mac = hmac.new(self.key, f"{message}.{timestamp}.".encode() + body, hashlib.sha256)
            headers = {"content-type": "application/json", "webhook-id": message,
                       "webhook-timestamp": str(timestamp),
                       "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()}
            status = request("POST", url, body, headers, timeout=10)[0]
            if status and status < 300:
                return
            time.sleep(0.5 * 2 ** attempt)


# --- HTTP --------------------------------------------------------------------------------------

def request(method, url, body=None, headers=None, timeout=15):
    """(status, headers, body) or (None, {}, b"") when the connection failed."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    address, port = host.split(":")
    try:
        conn = http.client.HTTPConnection(address, int(port), timeout=timeout)
        conn.request(method, "/" + path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), data
    except (OSError, http.client.HTTPException):
        return None, {}, b""


def multipart(fields):
    boundary = "chaos" + uuid.uuid4().hex
    parts = []
    for name, (filename, kind, data) in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if filename:
            head += f'; filename="{filename}"\r\nContent-Type: {kind}'
        parts.append(head.encode() + b"\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- Fitroom processes -------------------------------------------------------------------------

class Fitroom:
    def __init__(self, index, binary, env):
        self.index = index
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env, FITROOM_ADDR=f"127.0.0.1:{self.port}", FITROOM_PUBLIC_URL=self.url,
                        FITROOM_DATA_DIR=env["CHAOS_DIR"] + f"/fitroom-{index}")
        self.log = open(env["CHAOS_DIR"] + f"/fitroom-{index}.log", "ab")
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def ready(self, within=60):
        end = time.time() + within
        while time.time() < end:
            if request("GET", self.url + "/healthz", timeout=2)[0] == 200:
                return True
            time.sleep(0.2)
        return False

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


# --- shoppers ----------------------------------------------------------------------------------

class Shopper:
    def __init__(self, number, rng, fitrooms, model):
        self.email = f"shopper{number}-{uuid.uuid4().hex[:6]}@chaos.example"
        self.rng = rng
        self.fitrooms = fitrooms
        self.model = model
        self.cookie = None
        self.user = None
        self.jobs = set()
        self.unknown = 0

    def site(self):
        return self.rng.choice(self.fitrooms).url

    def call(self, method, path, body=None, headers=None, tries=8):
        """Retries a request that got no answer or a 5xx, as a browser's user would."""
        headers = dict(headers or {})
        if self.cookie:
            headers["cookie"] = self.cookie
        for _ in range(tries):
            status, answer_headers, data = request(method, self.site() + path, body, headers)
            if status is not None and status < 500:
                return status, answer_headers, data
            time.sleep(0.3 + self.rng.random())
        return None, {}, b""

    def sign_up(self):
        body = json.dumps({"email": self.email, "password": "chaos soak password"}).encode()
        for _ in range(30):
            status, headers, data = self.call("POST", "/api/auth/register", body,
                                              {"content-type": "application/json"})
            if status in (200, 201):
                self.cookie = headers.get("set-cookie", headers.get("Set-Cookie", "")).split(";")[0]
                break
            if status == 409:  # the first attempt's answer was lost: sign in instead
                status, headers, _ = self.call("POST", "/api/auth/login", body,
                                               {"content-type": "application/json"})
                if status == 200:
                    self.cookie = headers.get("set-cookie", headers.get("Set-Cookie", "")).split(";")[0]
                    break
        else:
            raise RuntimeError(f"{self.email} could not sign up")
        status, _, data = self.call("GET", "/api/me")
        self.user = json.loads(data)["id"]
        self.model.granted(self.user, SIGNUP_CREDITS)

    def buy(self):
        session = "cs_chaos_" + uuid.uuid4().hex[:12]
        event = json.dumps({
            "id": f"evt_{session}", "type": "checkout.session.completed",
            "data": {"object": {
                "id": session, "object": "checkout.session", "payment_status": "paid",
                "payment_intent": f"pi_{session}", "amount_total": 500, "currency": "usd",
                "client_reference_id": self.user, "metadata": {"package_id": "starter"}}}})
        granted = False
        deliveries = 2 if self.rng.random() < 0.3 else 1  # Stripe delivers at least once
        for _ in range(deliveries):
            for _ in range(30):
                t = int(time.time())
                mac = hmac.new(STRIPE_SECRET.encode(), f"{t}.{event}".encode(), hashlib.sha256)
                status, _, _ = request("POST", self.site() + "/webhooks/stripe", event.encode(),
                                       {"content-type": "application/json",
                                        "stripe-signature": f"t={t},v1={mac.hexdigest()}"})
                if status == 200:
                    granted = True
                    break
                time.sleep(0.5)
        if granted:
            self.model.granted(self.user, STARTER_CREDITS)
        else:
            self.model.note("purchase_unacknowledged")

    def submit(self):
        key = "chaos-" + uuid.uuid4().hex
        body, kind = multipart({
            "person_image": ("me.png", "image/png", png(48, 64, self.email)),
            "garment_image": ("shirt.png", "image/png", png(32, 32, key)),
        })
        status, _, data = self.call("POST", "/api/generations", body,
                                    {"content-type": kind, "idempotency-key": key}, tries=12)
        if status in (200, 201, 202):
            self.jobs.add(json.loads(data)["id"])
        elif status is None:
            self.unknown += 1
            self.model.note("submit_unanswered")
        elif status not in (402, 429, 503):
            self.model.violation(f"submit answered {status}: {data[:200]!r}")

    def cancel(self):
        if self.jobs:
            job = self.rng.choice(sorted(self.jobs))
            self.call("POST", f"/api/generations/{job}/cancel")

    def delete(self):
        if self.jobs:
            job = self.rng.choice(sorted(self.jobs))
            status, _, _ = self.call("DELETE", f"/api/generations/{job}")
            if status in (200, 204):
                self.jobs.discard(job)
                self.model.deleted.add(job)

    def run(self, until):
        while time.time() < until:
            roll = self.rng.random()
            if roll < 0.6:
                self.submit()
            elif roll < 0.72:
                self.cancel()
            elif roll < 0.82:
                self.delete()
            elif roll < 0.9:
                self.buy()
            else:
                self.call("GET", "/api/generations")
            time.sleep(self.rng.uniform(0.05, 0.4))


class Model:
    def __init__(self):
        self.lock = threading.Lock()
        self.grants = Counter()
        self.notes = Counter()
        self.violations = []
        self.deleted = set()

    def granted(self, user, credits):
        with self.lock:
            self.grants[user] += credits

    def note(self, kind):
        with self.lock:
            self.notes[kind] += 1

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
            log("VIOLATION:", text)


# --- faults ------------------------------------------------------------------------------------

def inject(rng, kind, proxies, fitrooms, faults, pg_restart):
    if kind == "kill":
        victim = rng.choice(fitrooms)
        victim.kill()
        time.sleep(rng.uniform(0.2, 2.0))
        victim.start()
    elif kind == "cut":
        proxy = rng.choice(proxies)
        proxy.cut()
        kind = f"cut_{proxy.name}"
    elif kind in ("refuse", "stall", "latency"):
        proxy = rng.choice(proxies)
        if kind == "latency":
            proxy.latency = rng.uniform(0.01, 0.2)
        else:
            proxy.mode = kind
        time.sleep(rng.uniform(0.5, 4.0))
        proxy.clear()
        kind = f"{kind}_{proxy.name}"
    elif kind == "pg_restart":
        pg_restart()
    faults[kind] += 1


def psql(url, sql):
    out = subprocess.run(["psql", url, "-AtX", "-c", sql], capture_output=True, text=True, check=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-restart", required=True, help="a command that restarts PostgreSQL")
    parser.add_argument("--s3-port", type=int, required=True)
    parser.add_argument("--s3-root", required=True)
    parser.add_argument("--shoppers", type=int, default=6)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    faults = Counter()
    model = Model()
    provider = Provider(random.Random(rng.random()), faults)
    proxies = [Proxy("postgres", args.pg_port), Proxy("s3", args.s3_port), Proxy("provider", provider.port)]
    provider.proxy = proxies[2]
    direct_db = f"postgres://fitroom@127.0.0.1:{args.pg_port}/chaos"
    env = dict(os.environ,
               CHAOS_DIR=args.dir,
               DATABASE_URL=f"postgres://fitroom@127.0.0.1:{proxies[0].port}/chaos",
               FITROOM_STORAGE="s3", S3_ENDPOINT=f"http://127.0.0.1:{proxies[1].port}",
               S3_BUCKET="chaos", S3_REGION="auto", S3_ACCESS_KEY_ID="chaos-key",
               S3_SECRET_ACCESS_KEY="chaos-secret", S3_TIMEOUT_SECS="10",
               FITROOM_PROVIDERS="replicate", REPLICATE_API_TOKEN=REPLICATE_TOKEN,
               REPLICATE_WEBHOOK_SECRET=REPLICATE_SECRET, REPLICATE_MODEL="chaos/try-on",
               REPLICATE_API_BASE=f"http://127.0.0.1:{proxies[2].port}/v1",
               STRIPE_SECRET_KEY="sk_test_chaos", STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
               FITROOM_SECRET="chaos-soak-signing-secret-0123456789abcdef",
               FITROOM_FETCH_ALLOW_PRIVATE="true", FITROOM_SIGNUP_CREDITS=str(SIGNUP_CREDITS),
               FITROOM_SIGNUPS_PER_HOUR="0", FITROOM_LOGINS_PER_MINUTE="0",
               FITROOM_SUBMITS_PER_MINUTE="0", FITROOM_MAX_ACTIVE_JOBS="0",
               FITROOM_RECONCILE_EVERY_SECS="1", FITROOM_POLL_AFTER_SECS="3",
               FITROOM_JOB_TIMEOUT_SECS="60", FITROOM_LOG_FORMAT="json", RUST_LOG="warn")
    fitrooms = [Fitroom(i, args.binary, env) for i in range(2)]
    for f in fitrooms:
        if not f.ready():
            sys.exit(f"fitroom {f.index} did not start; see {args.dir}/fitroom-{f.index}.log")
    log(f"seed {args.seed}: 2 processes, {args.shoppers} shoppers, {args.seconds} s of faults")

    shoppers = [Shopper(i, random.Random(rng.random()), fitrooms, model) for i in range(args.shoppers)]
    for s in shoppers:
        s.sign_up()
    until = time.time() + args.seconds
    threads = [threading.Thread(target=s.run, args=(until,)) for s in shoppers]
    for t in threads:
        t.start()

    pg_restart = lambda: subprocess.run(args.pg_restart, shell=True, check=False,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kinds = ["kill", "cut", "refuse", "stall", "latency", "pg_restart"]
    weights = [3, 4, 2, 2, 2, 1]
    while time.time() < until:
        time.sleep(rng.uniform(1.0, 6.0))
        if time.time() >= until:
            break
        inject(rng, rng.choices(kinds, weights)[0], proxies, fitrooms, faults, pg_restart)
    for t in threads:
        t.join()
    for p in proxies:
        p.clear()
    for f in fitrooms:
        if f.process.poll() is not None:
            f.start()
        f.ready()
    log("faults off: waiting for every job to end")

    # Settling: the reconciler finishes what the faults left (the job timeout bounds it).
    deadline = time.time() + 180
    open_jobs = None
    while time.time() < deadline:
        open_jobs = int(psql(direct_db, "SELECT COUNT(*) FROM jobs WHERE status NOT IN "
                                        "('succeeded', 'failed', 'canceled')")[0][0])
        open_holds = int(psql(direct_db, "SELECT COUNT(*) FROM holds WHERE state = 'open'")[0][0])
        if open_jobs == 0 and open_holds == 0:
            break
        time.sleep(2)
    else:
        model.violation(f"{open_jobs} jobs or their holds still open after 180 s")

    check(args, direct_db, shoppers, model, fitrooms)

    for f in fitrooms:
        f.stop()
    statuses = Counter(dict(psql(direct_db, "SELECT status, COUNT(*) FROM jobs GROUP BY status")))
    print()
    print(f"jobs: {sum(int(n) for n in statuses.values())} "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print("faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"))
    print("notes: " + (", ".join(f"{k} {v}" for k, v in sorted(model.notes.items())) or "none"))
    print(f"violations: {len(model.violations)}")
    for v in model.violations:
        print(f"  - {v}")
    sys.exit(1 if model.violations else 0)


def check(args, db, shoppers, model, fitrooms):
    """The invariants, with every fault off."""
    # Balances: what each shopper was granted, less one credit per success.
    succeeded = Counter({user: int(n) for user, n in psql(
        db, "SELECT user_id, COUNT(*) FROM jobs WHERE status = 'succeeded' GROUP BY user_id")})
    for s in shoppers:
        status, _, data = s.call("GET", "/api/me")
        if status != 200:
            model.violation(f"{s.email}: /api/me answered {status}")
            continue
        credits = json.loads(data)["credits"]
        expected = model.grants[s.user] - succeeded[s.user]
        if credits["held"] != 0 or credits["available"] != expected:
            model.violation(f"{s.email}: balance {credits}, the model says {expected} available")

    # Every result served to its owner.
    for s in shoppers:
        for job in sorted(s.jobs - model.deleted):
            status, _, data = s.call("GET", f"/api/generations/{job}")
            if status != 200:
                continue
            g = json.loads(data)
            if g["status"] != "succeeded":
                continue
            status, _, body = s.call("GET", f"/api/generations/{job}/result")
            if status != 200 or not body.startswith(b"\x89PNG"):
                model.violation(f"job {job}: result answered {status} ({len(body)} bytes)")

    # Storage: crash leftovers are swept (nothing references them), then every object is
    # referenced and every reference has its object.
    sweep = subprocess.run([args.binary, "storage", "sweep", "--older-than-secs", "0"],
                           env=fitrooms[0].env, capture_output=True, text=True)
    if sweep.returncode != 0:
        model.violation(f"storage sweep failed: {sweep.stderr.strip()}")
    else:
        swept = [line for line in sweep.stdout.splitlines() if line.startswith("deleted ")]
        model.notes["objects_left_by_crashes_swept"] += len(swept)
    stored = set()
    bucket = os.path.join(args.s3_root, "chaos")
    for root, _, files in os.walk(bucket):
        for name in files:
            key = os.path.relpath(os.path.join(root, name), bucket)
            if not key.startswith(".") and "/." not in key:
                stored.add(key)
    # A job the shopper deleted references nothing any more.
    referenced = {k for row in psql(db, "SELECT person_key, garment_key, result_key FROM jobs "
                                        "WHERE deleted_at IS NULL")
                  for k in row if k}
    referenced |= {row[0] for row in psql(db, "SELECT storage_key FROM saved_photos "
                                              "UNION ALL SELECT storage_key FROM garments")}
    for key in sorted(stored - referenced):
        model.violation(f"stored object {key} is referenced by nothing")
    for key in sorted(referenced - stored):
        model.violation(f"referenced object {key} is missing")

    verify = subprocess.run([args.binary, "ledger", "verify"], env=fitrooms[0].env,
                            capture_output=True, text=True)
    if verify.returncode != 0:
        model.violation(f"ledger verify: {verify.stdout.strip()} {verify.stderr.strip()}")


if __name__ == "__main__":
    main()
