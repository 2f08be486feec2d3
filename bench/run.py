"""Glint against upstream Glance on this machine: same database kind, file store, worker
count and threads, no auth, the same workload interleaved A/B/A/B, and this machine's
limits measured in the same run. See bench/README.md.

Run it through `make bench` (which builds the venvs); it runs in .state/bench/venv-tools.
Benchmarks are never timed tests in CI.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import http.client
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / 'bench'
STATE = Path(os.environ.get('BENCH_STATE', ROOT / '.state' / 'bench'))
RESULTS = Path(os.environ.get('BENCH_RESULTS', BENCH / 'results'))
MB = 1_000_000
MIB = 1 << 20

QUICK = os.environ.get('BENCH_QUICK', '') not in ('', '0')


def _env_int(name: str, full: int, quick: int) -> int:
    return int(os.environ.get(name, quick if QUICK else full))


SIZE = _env_int('BENCH_SIZE_MIB', 1024, 256) * MIB          # the big image
PARALLEL = 8                                                  # parallel transfers
PIECE = SIZE // PARALLEL                                      # each parallel upload
N_CREATE = _env_int('BENCH_IMAGES', 1000, 200)                # created through the API
LIST_LIMIT = min(1000, N_CREATE)                              # the big page
N_SEED = _env_int('BENCH_SEED_IMAGES', 100_000, 20_000)       # + as many deleted rows
ROUNDS = _env_int('BENCH_ROUNDS', 4, 2)                       # A/B pairs for uploads
DOWNLOAD_ROUNDS = 3 * ROUNDS                                   # downloads take ~0.3 s
MIXED_SECONDS = float(os.environ.get('BENCH_MIXED_SECONDS', 3 if QUICK else 8))
MIXED_THREADS = 8
LATENCY_SAMPLES = _env_int('BENCH_LATENCY_SAMPLES', 20, 10)
WORKERS = _env_int('BENCH_WORKERS', os.cpu_count() or 2, os.cpu_count() or 2)
THREADS = _env_int('BENCH_THREADS', 16, 16)
DATABASES = [d for d in os.environ.get('BENCH_DATABASES', 'sqlite,postgresql').split(',') if d]
PROFILE = os.environ.get('BENCH_PROFILE', '1') not in ('', '0')
PG = os.environ.get('BENCH_PG', 'postgresql://postgres@127.0.0.1:5432')
GLINT_VENV = Path(os.environ.get('GLINT_VENV', ROOT / '.venv'))
UPSTREAM_VENV = Path(os.environ.get('UPSTREAM_VENV', STATE / 'venv-upstream'))
TOOLS_BIN = Path(sys.executable).parent
CHUNK = 4 * MIB
SYSTEMS = ('glint', 'upstream')
RUN_NAME = os.environ.get('BENCH_NAME') or (   # bench/results/<RUN_NAME>.{json,md,png}
    'quick' if QUICK else 'latest')


def log(msg: str) -> None:
    print('[%s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ---------------------------------------------------------------------------- data file

def data_file() -> tuple[Path, dict]:
    """The test file (urandom, made once) and the digests of it and of its 8 pieces."""
    STATE.mkdir(parents=True, exist_ok=True)
    path = STATE / ('data-%dm.bin' % (SIZE // MIB))
    meta_path = path.with_suffix('.json')
    if path.exists() and path.stat().st_size == SIZE and meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        log('making %s (%d MiB of urandom) and its digests' % (path, SIZE // MIB))
        whole_md5, whole_sha = hashlib.md5(), hashlib.sha512()
        pieces = []
        with open(path.with_suffix('.tmp'), 'wb') as f:
            for _ in range(PARALLEL):
                pm, ps = hashlib.md5(), hashlib.sha512()
                left = PIECE
                while left:
                    block = os.urandom(min(CHUNK, left))
                    f.write(block)
                    for h in (whole_md5, whole_sha, pm, ps):
                        h.update(block)
                    left -= len(block)
                pieces.append({'md5': pm.hexdigest(), 'sha512': ps.hexdigest()})
        os.replace(path.with_suffix('.tmp'), path)
        meta = {'size': SIZE, 'md5': whole_md5.hexdigest(), 'sha512': whole_sha.hexdigest(),
                'pieces': pieces}
        meta_path.write_text(json.dumps(meta))
    # into the page cache, so every upload reads it from memory
    with open(path, 'rb', buffering=0) as f:
        while f.read(64 * MIB):
            pass
    return path, meta


# ---------------------------------------------------------------------------- HTTP client

class Api:
    """JSON calls over one keep-alive connection per thread (http.client: light and fast)."""

    def __init__(self, port: int):
        self.port = port
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, 'conn', None)
        if c is None:
            c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=600)
            self._local.conn = c
        return c

    def call(self, method: str, path: str, body=None, ctype='application/json',
             headers: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {'Content-Type': ctype} if data is not None else {}
        hdrs.update(headers or {})
        for attempt in (1, 2):       # a keep-alive connection the server closed: once more
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=hdrs)
                r = c.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                c.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError

    def json(self, method, path, body=None, ctype='application/json', expect=(200, 201)):
        status, data = self.call(method, path, body, ctype)
        if status not in expect:
            raise RuntimeError('%s %s -> %d %s' % (method, path, status, data[:300]))
        return json.loads(data) if data else None

    def create(self, i: int) -> str:
        return self.json('POST', '/v2/images', {
            'name': 'bench-%d' % i, 'disk_format': 'raw', 'container_format': 'bare',
            'os_distro': 'debian', 'bench_index': str(i)})['id']

    def close(self) -> None:
        c = getattr(self._local, 'conn', None)
        if c is not None:
            c.close()
            self._local.conn = None


def upload(port: int, image_id: str, path: Path, offset: int, count: int,
           target: str | None = None) -> dict:
    """PUT count bytes of path from offset with sendfile: the client costs ~nothing."""
    t0 = time.perf_counter()
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(900)
    target = target or '/v2/images/%s/file' % image_id
    head = ('PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream'
            '\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % (target, port, count))
    send_error = None
    try:
        s.sendall(head.encode())
        with open(path, 'rb') as f:
            s.sendfile(f, offset, count)
    except OSError as e:              # the server answered early and closed
        send_error = repr(e)
    try:
        r = http.client.HTTPResponse(s)
        r.begin()
        status, body = r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        status, body = 0, repr(e).encode()
    finally:
        s.close()
    elapsed = time.perf_counter() - t0
    return {'status': status, 'seconds': elapsed, 'bytes': count,
            'mbps': count / elapsed / MB, 'body': body[:400].decode('utf-8', 'replace'),
            'send_error': send_error}


def download(port: int, path: str, range_: tuple[int, int] | None = None) -> dict:
    """GET into a reused 4 MiB buffer; nothing is kept."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=900)
    headers = {}
    if range_:
        headers['Range'] = 'bytes=%d-%d' % (range_[0], range_[0] + range_[1] - 1)
    c.request('GET', path, headers=headers)
    r = c.getresponse()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    n = 0
    while True:
        k = r.readinto(view)
        if not k:
            break
        n += k
    c.close()
    elapsed = time.perf_counter() - t0
    return {'status': r.status, 'seconds': elapsed, 'bytes': n, 'mbps': n / elapsed / MB}


def parallel(fn, args_list: list[tuple]) -> tuple[float, list]:
    out: list = [None] * len(args_list)

    def run(i, args):
        try:
            out[i] = fn(*args)
        except Exception as e:        # recorded, never hidden
            out[i] = {'status': 0, 'error': repr(e), 'bytes': 0, 'seconds': 0, 'mbps': 0}

    ts = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join(1800)
    return time.perf_counter() - t0, out


# ---------------------------------------------------------------------------- processes

def children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(('VmRSS', 'VmHWM')):
                    k, v = line.split(':')
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf('SC_CLK_TCK')
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


class RssSampler:
    """Samples VmRSS of the given worker pids every 20 ms; reads VmHWM at the end."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            for pid in self.pids:
                self.peak = max(self.peak, proc_status(pid).get('VmRSS', 0))

    def __enter__(self):
        self.before = max((proc_status(p).get('VmRSS', 0) for p in self.pids), default=0)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.hwm = max((proc_status(p).get('VmHWM', 0) for p in self.pids), default=0)


# ---------------------------------------------------------------------------- services

def _ini(sections: dict) -> str:
    lines = []
    for name, opts in sections.items():
        lines.append('[%s]' % name)
        lines += ['%s = %s' % (k, v) for k, v in opts.items()]
        lines.append('')
    return '\n'.join(lines)


def psql(sql: str, db: str = 'postgres', stdin: bytes | None = None) -> str:
    r = subprocess.run(['psql', PG + '/' + db, '-v', 'ON_ERROR_STOP=1', '-Atq', '-c', sql],
                       input=stdin, capture_output=True, check=False)
    if r.returncode:
        raise RuntimeError('psql %r: %s' % (sql[:80], r.stderr.decode()[-500:]))
    return r.stdout.decode()


class Service:
    """One glance-api (Glint's or upstream's) with its own dir, database and file store."""

    def __init__(self, system: str, database: str, tag: str, store: str = 'file',
                 store_options: dict | None = None):
        self.system, self.database, self.store = system, database, store
        self.dir = STATE / 'run' / ('%s-%s' % (database if store == 'file' else store,
                                               system))
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / 'images').mkdir(parents=True)
        self.port = free_port()
        self.api = Api(self.port)
        self.process: subprocess.Popen | None = None
        self.pgdb = None
        venv = GLINT_VENV if system == 'glint' else UPSTREAM_VENV
        self.bin = venv / 'bin'
        if database == 'sqlite':
            self.url = 'sqlite:///%s' % (self.dir / 'glance.sqlite')
        else:
            self.pgdb = 'bench_%s_%s' % (system, tag)
            psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.pgdb)
            psql('CREATE DATABASE %s' % self.pgdb)
            driver = 'postgresql+psycopg' if system == 'glint' else 'postgresql+psycopg2'
            self.url = PG.replace('postgresql', driver, 1) + '/' + self.pgdb
        sections = {
            'DEFAULT': {'bind_host': '127.0.0.1', 'bind_port': self.port,
                        'workers': WORKERS, 'worker_threads': THREADS,
                        'log_file': self.dir / 'glance-api.log'},
            'database': {'connection': self.url},
            'glance_store': {'stores': 'file', 'default_store': 'file',
                             'filesystem_store_datadir': self.dir / 'images'},
            'paste_deploy': {'flavor': ''},
            # no auth: Glance's unauthenticated context has no roles, so upstream needs the
            # pre-RBAC rules to let it through; both get the same section
            # an empty policy file of our own: never a /etc/glance/policy.yaml that another
            # process on this machine writes or removes while we run
            'oslo_policy': {'enforce_new_defaults': 'False', 'enforce_scope': 'False',
                            'policy_file': self.dir / 'policy.yaml'},
        }
        (self.dir / 'policy.yaml').write_text('{}\n')
        if store != 'file':
            # a Ceph store: the multi-store form for both, the backend named as its type
            sections['DEFAULT']['enabled_backends'] = '%s:%s' % (store, store)
            sections['glance_store'] = {'default_backend': store}
            sections[store] = dict(store_options or {})
            if system == 'upstream':
                for name in ('os_glance_staging_store', 'os_glance_tasks_store'):
                    sections[name] = {'filesystem_store_datadir': self.dir / name}
                sections['paste_deploy']['config_file'] = (
                    UPSTREAM_VENV / 'etc' / 'glance' / 'glance-api-paste.ini')
                del sections['DEFAULT']['worker_threads']
        elif system == 'upstream':
            del sections['DEFAULT']['worker_threads']
            # Glance 33 writes into /var/lib/glance/images whatever the legacy
            # [glance_store] filesystem_store_datadir says (seen here); its current
            # multi-store form is honoured, staging and tasks stores included
            images = sections['glance_store'].pop('filesystem_store_datadir')
            sections['DEFAULT']['enabled_backends'] = 'file:file'
            sections['glance_store'] = {'default_backend': 'file'}
            sections['file'] = {'filesystem_store_datadir': images}
            for store in ('os_glance_staging_store', 'os_glance_tasks_store'):
                sections[store] = {'filesystem_store_datadir': self.dir / store}
            sections['paste_deploy']['config_file'] = (
                UPSTREAM_VENV / 'etc' / 'glance' / 'glance-api-paste.ini')
        self.conf = self.dir / 'glance-api.conf'
        self.conf.write_text(_ini(sections))

    def start(self) -> Service:
        env = glint_env() if self.system == 'glint' else dict(os.environ)
        # oslo.config also reads the first <project>.conf.d and <prog>.conf.d it finds in
        # ~/.glance, ~, /etc/glance, /etc: this host's /etc/glance/glance-api.conf.d
        # (a deploy's glance_store drop-in) sent both systems' images into Ceph in a run
        # at 17:03 UTC on 2026-12-04. Empty ones under a HOME of our own come first.
        home = self.dir / 'home'
        for name in ('glance', 'glance-api', 'glance-manage'):
            (home / '.glance' / (name + '.conf.d')).mkdir(parents=True, exist_ok=True)
        env['HOME'] = str(home)
        sync = subprocess.run([str(self.bin / 'glance-manage'), '--config-file',
                               str(self.conf), 'db', 'sync'], capture_output=True, text=True,
                              env=env)
        if sync.returncode:
            raise RuntimeError('%s db sync failed:\n%s' % (self.system, sync.stderr[-2000:]))
        if self.system == 'glint':
            cmd = [str(self.bin / 'glance-api'), '--config-file', str(self.conf)]
        else:
            cmd = [str(self.bin / 'gunicorn'), '--workers', str(WORKERS),
                   '--worker-class', 'gthread', '--threads', str(THREADS),
                   '--bind', '127.0.0.1:%d' % self.port, '--timeout', '900',
                   '--keep-alive', '75', '--backlog', '4096', '--no-control-socket',
                   '--name', 'glance-api-upstream', 'glance.wsgi.api:application']
            env = dict(env, OS_GLANCE_CONFIG_DIR=str(self.dir))
        self.process = subprocess.Popen(cmd, env=env, cwd=self.dir,
                                        stdout=open(self.dir / 'server.out', 'wb'),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError, http.client.HTTPException):
                c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
                c.request('GET', '/healthcheck')
                if c.getresponse().status == 200 and len(self.workers()) >= WORKERS:
                    c.close()
                    return self
            time.sleep(0.2)
        out = (self.dir / 'server.out').read_text()[-3000:]
        self.stop()
        raise RuntimeError('%s did not start:\n%s' % (self.system, out))

    def workers(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def cpu(self) -> float:
        return cpu_seconds([self.process.pid] + self.workers())

    def stop(self) -> None:
        self.api.close()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        if self.pgdb:
            with contextlib.suppress(RuntimeError):
                psql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.pgdb)
        shutil.rmtree(self.dir / 'images', ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.dir / 'glance.sqlite').unlink()


# ---------------------------------------------------------------------------- Glint's code

SNAPSHOT = STATE / 'glint-snapshot'
USE_SNAPSHOT = os.environ.get('BENCH_SNAPSHOT', '1') not in ('', '0')


def snapshot_glint() -> dict:
    """Copy service/glint once per run and put it first on Glint's PYTHONPATH: every Glint
    process of the run then runs the same code, even while the work tree changes."""
    if not USE_SNAPSHOT:
        return {'snapshot': None}
    shutil.rmtree(SNAPSHOT, ignore_errors=True)
    shutil.copytree(ROOT / 'service' / 'glint', SNAPSHOT / 'glint',
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    h = hashlib.sha256()
    for f in sorted((SNAPSHOT / 'glint').rglob('*')):
        if f.is_file():
            h.update(str(f.relative_to(SNAPSHOT)).encode() + b'\0' + f.read_bytes())
    where = subprocess.run([str(GLINT_VENV / 'bin' / 'python'), '-c',
                            'import glint; print(glint.__file__)'], env=glint_env(),
                           capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(SNAPSHOT)):
        raise RuntimeError('glint imports from %r, not the snapshot' % where)
    return {'snapshot': os.path.relpath(SNAPSHOT, ROOT), 'sha256': h.hexdigest()[:16]}


def glint_env() -> dict:
    env = dict(os.environ)
    if USE_SNAPSHOT:
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (str(SNAPSHOT), os.environ.get('PYTHONPATH')) if p)
    return env


# ---------------------------------------------------------------------------- machine limits

def limit_dd(size: int) -> dict:
    out = STATE / 'dd.bin'
    t0 = time.perf_counter()
    r = subprocess.run(['dd', 'if=/dev/zero', 'of=%s' % out, 'bs=4M',
                        'count=%d' % (size // (4 * MIB)), 'conv=fsync'],
                       capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    out.unlink(missing_ok=True)
    return {'mbps': size / elapsed / MB, 'dd': r.stderr.strip().splitlines()[-1:]}


def limit_page_cache_write(size: int, keys=('page_cache_write_first_mbps',
                                             'page_cache_write_again_mbps')) -> dict:
    """os.write of 4 MiB blocks into a new file, no fsync, once per key, the file deleted
    after each pass (so the next pass reuses its pages)."""
    out = {}
    block = os.urandom(CHUNK)
    target = STATE / 'pagecache.bin'
    for key in keys:
        t0 = time.perf_counter()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(size // CHUNK):
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        out[key] = size / (time.perf_counter() - t0) / MB
        target.unlink()
    return out


WARM_FILE = STATE / 'warm.bin'
WARM_SPARE = 1 << 30


def fill_page_cache() -> float:
    """Fill this VM's free memory, but WARM_SPARE, with page cache that stays for the run
    (appended to WARM_FILE, synced, removed at the end). Returns the GiB written.

    This VM hands free memory back to the hypervisor (virtio-balloon free page
    reporting), and a page's first use after that is paid again: writing 1 GiB into
    page cache on such memory costs about 2 s of system time here, into recycled
    page-cache pages 0.2-0.5 s. A host that has served images for a while has its memory
    full of page cache, so uploads write into recycled pages; an idle VM with 20 GiB
    free, or memory just freed by deleting images, makes them pay for fresh ones,
    whichever service writes. Called before the limits and before each database (the
    previous database's images are deleted by then)."""
    with open('/proc/meminfo') as f:
        free = next(int(line.split()[1]) * 1024 for line in f if line.startswith('MemFree:'))
    # one database's images stay until its end: the big and the parallel uploads, both systems
    disk = shutil.disk_usage(STATE).free - 2 * 2 * ROUNDS * SIZE - 4 * WARM_SPARE
    size = max(0, min(free - WARM_SPARE, disk)) // CHUNK * CHUNK
    t0 = time.perf_counter()
    block = os.urandom(CHUNK)
    fd = os.open(WARM_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(size // CHUNK):
            os.write(fd, block)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    log('page cache: %.1f GiB more in %.1f s' % (size / (1 << 30), time.perf_counter() - t0))
    return round(size / (1 << 30), 1)


def limit_hash(name: str, total: int) -> float:
    """One core, 4 MiB updates over a 64 MiB random buffer (as the service hashes)."""
    buf = memoryview(os.urandom(64 * MIB))
    h = hashlib.new(name)
    t0 = time.perf_counter()
    done = 0
    while done < total:
        for off in range(0, len(buf), CHUNK):
            h.update(buf[off:off + CHUNK])
        done += len(buf)
    return done / (time.perf_counter() - t0) / MB


class Nginx:
    def __init__(self, root: Path):
        self.dir = STATE / 'nginx'
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = free_port()
        conf = self.dir / 'nginx.conf'
        tmp = {k: self.dir / k for k in ('body', 'proxy', 'fastcgi', 'uwsgi', 'scgi')}
        conf.write_text('''
worker_processes %(workers)d;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path %(body)s;
  proxy_temp_path %(proxy)s;
  fastcgi_temp_path %(fastcgi)s;
  uwsgi_temp_path %(uwsgi)s;
  scgi_temp_path %(scgi)s;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:%(port)d;
    root %(root)s;
    location / { }
  }
}
''' % dict(workers=WORKERS, dir=self.dir, port=self.port, root=root, **tmp))
        self.process = subprocess.Popen(['nginx', '-c', str(conf), '-p', str(self.dir)],
                                        stdout=open(self.dir / 'out', 'wb'),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return
            time.sleep(0.05)
        raise RuntimeError('nginx did not start: %s' % (self.dir / 'out').read_text())

    system = 'nginx'

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def cpu(self) -> float:
        return cpu_seconds([self.process.pid] + self.workers())

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


SINK = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16); print(s.getsockname()[1], flush=True)
buf = bytearray(4 << 20)
while True:
    c, _ = s.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        head += c.recv(65536)
    head, rest = head.split(b"\r\n\r\n", 1)
    n = int([h.split(b":")[1] for h in head.split(b"\r\n")
             if h.lower().startswith(b"content-length")][0])
    left = n - len(rest)
    while left > 0:
        k = c.recv_into(buf, min(len(buf), left))
        if not k: break
        left -= k
    c.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"); c.close()
'''


def measure_limits(path: Path) -> dict:
    log('machine limits: page cache and dd conv=fsync, hashlib, nginx sendfile, client sink')
    lim = limit_page_cache_write(SIZE, ('page_cache_write_before_filling_mbps',))
    lim['page_cache_filled_gib'] = fill_page_cache()
    lim.update(limit_page_cache_write(SIZE))
    lim['dd_fsync_write_mbps'] = limit_dd(SIZE)['mbps']
    for name in ('md5', 'sha512'):
        lim['%s_one_core_mbps' % name] = max(limit_hash(name, min(SIZE, 256 * MIB))
                                             for _ in range(3))
    nginx = Nginx(path.parent)
    try:
        url = '/' + path.name
        runs = [download(nginx.port, url) for _ in range(3)]
        assert all(r['status'] == 200 and r['bytes'] == SIZE for r in runs), runs
        lim['nginx_sendfile_download_mbps'] = max(r['mbps'] for r in runs)
        lim['nginx_sendfile_range_mbps'] = max(
            download(nginx.port, url, (SIZE // 4, SIZE // 2))['mbps'] for _ in range(3))
        best = 0
        for _ in range(2):
            wall, rs = parallel(download, [(nginx.port, url, (i * PIECE, PIECE))
                                           for i in range(PARALLEL)])
            assert all(r['status'] == 206 for r in rs), rs
            best = max(best, PARALLEL * PIECE / wall / MB)
        lim['nginx_sendfile_parallel8_mbps'] = best
        # the same client through curl: is ours the bottleneck?
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{speed_download}',
                            'http://127.0.0.1:%d%s' % (nginx.port, url)],
                           capture_output=True, text=True)
        lim['nginx_curl_download_mbps'] = float(r.stdout or 0) / MB
    finally:
        nginx.stop()
    sink = subprocess.Popen([sys.executable, '-c', SINK], stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        port = int(sink.stdout.readline())
        lim['client_upload_to_sink_mbps'] = max(
            upload(port, 'x', path, 0, SIZE, target='/sink')['mbps'] for _ in range(2))
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait()
    lim['gunicorn_wsgi_input_drain_mbps'] = limit_gunicorn_drain(path)
    return lim


def limit_gunicorn_drain(path: Path) -> float:
    """Glint's gunicorn (gthread, one worker) serving bench/drain_app.py: how fast
    wsgi.input.read(4 MiB) alone can go, with nothing else in the process."""
    port = free_port()
    p = subprocess.Popen([str(GLINT_VENV / 'bin' / 'gunicorn'), '--workers', '1',
                          '--worker-class', 'gthread', '--threads', '4',
                          '--no-control-socket', '--bind', '127.0.0.1:%d' % port,
                          '--chdir', str(BENCH), 'drain_app:application'],
                         stdout=open(STATE / 'drain.out', 'wb'), stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        for _ in range(150):
            with contextlib.suppress(OSError):
                socket.create_connection(('127.0.0.1', port), 1).close()
                break
            time.sleep(0.1)
        runs = [upload(port, 'x', path, 0, SIZE, target='/drain') for _ in range(2)]
        return max(r['mbps'] for r in runs if r['status'] == 204)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(20)


# ---------------------------------------------------------------------------- workload

def interleaved(services: dict, rounds: int, fn) -> dict:
    """fn(service, round) for A, B, B, A, A, B, ...: the order flips each round."""
    out = {s: [] for s in services}
    order = list(services)
    for r in range(rounds):
        for name in order:
            out[name].append(fn(services[name], r))
        order.reverse()
    return out


def check_image(svc: Service, image_id: str, md5: str, sha: str) -> str | None:
    img = svc.api.json('GET', '/v2/images/' + image_id)
    if img['status'] != 'active' or img['checksum'] != md5 or img['os_hash_value'] != sha:
        return 'status %s checksum %s os_hash_value %s...' % (
            img['status'], img['checksum'], (img.get('os_hash_value') or '')[:16])
    return None


def phase_create(svcs: dict) -> dict:
    per_round = N_CREATE // 4
    ids = {s: [] for s in svcs}

    def run(svc, r):
        cpu0 = svc.cpu()
        t0 = time.perf_counter()
        for i in range(per_round):
            ids[svc.system].append(svc.api.create(r * per_round + i))
        return per_round, time.perf_counter() - t0, svc.cpu() - cpu0

    res = interleaved(svcs, 4, run)
    out = {}
    for s, rows in res.items():
        n, t, cpu = (sum(x[i] for x in rows) for i in range(3))
        out[s] = {'images_per_s': n / t, 'ms_per_image': 1000 * t / n, 'server_cpu_s': cpu}
    return out, ids


def phase_latency(svcs: dict, path_of, samples: int, check=None) -> dict:
    times = {s: [] for s in svcs}
    for svc in svcs.values():           # warm up
        svc.api.call('GET', path_of(svc))

    def run(svc, r):
        t0 = time.perf_counter()
        status, body = svc.api.call('GET', path_of(svc))
        dt_ = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError('%s GET %s -> %d %s' % (svc.system, path_of(svc), status,
                                                      body[:200]))
        if check:
            check(svc, json.loads(body))
        times[svc.system].append(dt_ * 1000)

    interleaved(svcs, samples, run)
    return {s: {'median_ms': median(v), 'p90_ms': pct(v, 90), 'min_ms': min(v)}
            for s, v in times.items()}


def phase_big_transfers(svcs: dict, path: Path, meta: dict, nginx: Nginx) -> dict:
    """Uploads A/B; downloads A/B/nginx (the sendfile limit, interleaved the same way)."""
    out = {s: {} for s in svcs}
    big = {'nginx': None}

    def up(svc, r):
        image_id = svc.api.create(10_000 + r)
        pids = svc.workers()
        cpu0 = svc.cpu()
        with RssSampler(pids) as rss:
            res = upload(svc.port, image_id, path, 0, SIZE)
        res.update(server_cpu_s=svc.cpu() - cpu0, peak_rss=rss.peak, hwm=rss.hwm,
                   rss_before=rss.before)
        res['problem'] = (check_image(svc, image_id, meta['md5'], meta['sha512'])
                          if res['status'] == 204 else 'HTTP %d %s' % (res['status'],
                                                                        res['body'][:200]))
        big.setdefault(svc.system, image_id)
        return res

    def down(svc, r, range_=None):
        pids = svc.workers()
        cpu0 = svc.cpu()
        url = ('/' + path.name if svc.system == 'nginx' else
               '/v2/images/%s/file' % big[svc.system])
        with RssSampler(pids) as rss:
            res = download(svc.port, url, range_)
        want = (206, range_[1]) if range_ else (200, SIZE)
        problem = None
        if (res['status'], res['bytes']) != want:
            problem = 'HTTP %d, %d bytes' % (res['status'], res['bytes'])
        res.update(server_cpu_s=svc.cpu() - cpu0, peak_rss=rss.peak, hwm=rss.hwm,
                   rss_before=rss.before, problem=problem)
        return res

    log('  upload %d MiB x %d rounds' % (SIZE // MIB, ROUNDS))
    ups = interleaved(svcs, ROUNDS, up)
    log('  download whole and by Range, interleaved with nginx')
    targets = dict(svcs, nginx=nginx)
    downs = interleaved(targets, DOWNLOAD_ROUNDS, down)
    ranges = interleaved(targets, DOWNLOAD_ROUNDS,
                         lambda svc, r: down(svc, r, (SIZE // 4, SIZE // 2)))
    ups['nginx'] = []
    out['nginx'] = {}
    for s in targets:
        for key, rows in (('upload', ups[s]), ('download', downs[s]), ('range', ranges[s])):
            if not rows:
                continue
            ok = [x for x in rows if not x['problem']]
            out[s][key] = {
                'mbps': median([x['mbps'] for x in ok]) if ok else None,
                'runs_mbps': [round(x['mbps'], 1) for x in rows],
                'server_cpu_s_per_gib': median([x['server_cpu_s'] * (1 << 30) / x['bytes']
                                                for x in ok if x['bytes']]) if ok else None,
                'peak_worker_rss_mb': max(x['peak_rss'] for x in rows) / MB,
                'worker_rss_before_mb': max(x['rss_before'] for x in rows) / MB,
                'worker_vmhwm_mb': max(x['hwm'] for x in rows) / MB,
                'problems': [x['problem'] for x in rows if x['problem']],
            }
    return out


def phase_parallel(svcs: dict, path: Path, meta: dict, nginx: Nginx) -> dict:
    out = {s: {'upload_rounds': [], 'download_rounds': []} for s in svcs}
    out['nginx'] = {'download_rounds': []}

    def up(svc, r):
        ids = [svc.api.create(20_000 + r * PARALLEL + i) for i in range(PARALLEL)]
        cpu0 = svc.cpu()
        wall, res = parallel(upload, [(svc.port, ids[i], path, i * PIECE, PIECE)
                                      for i in range(PARALLEL)])
        cpu = svc.cpu() - cpu0
        ok, errors = [], []
        for i, x in enumerate(res):
            problem = None
            if x.get('status') != 204:
                problem = 'HTTP %s %s' % (x.get('status'), x.get('body') or x.get('error'))
            else:
                problem = check_image(svc, ids[i], meta['pieces'][i]['md5'],
                                      meta['pieces'][i]['sha512'])
            (errors if problem else ok).append(problem or ids[i])
        statuses = [svc.api.json('GET', '/v2/images/' + i)['status'] for i in ids]
        out[svc.system]['upload_rounds'].append({
            'wall_s': wall, 'aggregate_mbps': len(ok) * PIECE / wall / MB,
            'offered_mbps': PARALLEL * PIECE / wall / MB,
            'succeeded': len(ok), 'failed': len(errors), 'errors': errors[:8],
            'final_statuses': statuses, 'server_cpu_s': cpu})
        out[svc.system].setdefault('active_ids', []).extend(ok)

    def down(svc, r):
        if svc.system == 'nginx':       # the same 8 pieces as ranges of the data file
            wall, res = parallel(download, [(svc.port, '/' + path.name, (i * PIECE, PIECE))
                                            for i in range(PARALLEL)])
            targets = list(range(PARALLEL))
            good = [x for x in res if x.get('status') == 206 and x.get('bytes') == PIECE]
            out['nginx']['download_rounds'].append({
                'wall_s': wall, 'aggregate_mbps': sum(x['bytes'] for x in res) / wall / MB,
                'succeeded': len(good)})
            return
        ids = out[svc.system].get('active_ids') or []
        if not ids:
            out[svc.system]['download_rounds'].append({'skipped': 'no active image'})
            return
        targets = [ids[i % len(ids)] for i in range(PARALLEL)]
        wall, res = parallel(download, [(svc.port, '/v2/images/%s/file' % t)
                                        for t in targets])
        good = [x for x in res if x.get('status') == 200 and x.get('bytes') == PIECE]
        out[svc.system]['download_rounds'].append({
            'wall_s': wall, 'aggregate_mbps': sum(x['bytes'] for x in res) / wall / MB,
            'succeeded': len(good), 'distinct_images': len(set(targets))})

    log('  %d parallel uploads of %d MiB x %d rounds' % (PARALLEL, PIECE // MIB, ROUNDS))
    interleaved(svcs, ROUNDS, up)
    log('  %d parallel downloads x %d rounds, interleaved with nginx' % (PARALLEL, DOWNLOAD_ROUNDS))
    interleaved(dict(svcs, nginx=nginx), DOWNLOAD_ROUNDS, down)
    out['nginx']['download_aggregate_mbps'] = median(
        [d['aggregate_mbps'] for d in out['nginx']['download_rounds']])
    for s in svcs:
        o = out[s]
        ups = o['upload_rounds']
        o['upload_aggregate_mbps'] = median([u['aggregate_mbps'] for u in ups])
        o['upload_all_succeeded'] = all(u['failed'] == 0 for u in ups)
        o['upload_failed_total'] = sum(u['failed'] for u in ups)
        downs = [d for d in o['download_rounds'] if 'skipped' not in d]
        o['download_aggregate_mbps'] = median([d['aggregate_mbps'] for d in downs])
        o['download_all_succeeded'] = bool(downs) and all(
            d['succeeded'] == PARALLEL for d in downs)
        o.pop('active_ids', None)
    return out


def phase_mixed(svcs: dict, pool: dict) -> dict:
    """8 threads of show 40% / list 25 20% / create 15% / patch 15% / delete 10%."""
    stats = {s: {'lat': {}, 'errors': [], 'ops': 0, 'wall': 0.0, 'cpu': 0.0, 'client_cpu': 0.0}
             for s in svcs}
    per_round = MIXED_SECONDS / 2

    def run(svc, r):
        st = stats[svc.system]
        ids = pool[svc.system]
        deadline = time.perf_counter() + per_round
        lock = threading.Lock()

        def worker(seed):
            rng = random.Random(seed)
            api = Api(svc.port)
            mine: list[str] = []
            lat: dict[str, list] = {}
            for n in range(100_000):             # bounded; the deadline ends it first
                if time.perf_counter() >= deadline:
                    break
                x = rng.random()
                t0 = time.perf_counter()
                try:
                    if x < 0.40:
                        op = 'show'
                        status, body = api.call('GET', '/v2/images/' + rng.choice(ids))
                    elif x < 0.60:
                        op = 'list25'
                        status, body = api.call('GET', '/v2/images?limit=25')
                    elif x < 0.75 or not mine:
                        op = 'create'
                        status, body = api.call('POST', '/v2/images', {
                            'name': 'mixed', 'disk_format': 'raw',
                            'container_format': 'bare', 'os_distro': 'debian'})
                        if status == 201:
                            mine.append(json.loads(body)['id'])
                    elif x < 0.90:
                        op = 'patch'
                        status, body = api.call(
                            'PATCH', '/v2/images/' + rng.choice(mine),
                            [{'op': 'add', 'path': '/bench_rev', 'value': str(n)}],
                            ctype='application/openstack-images-v2.1-json-patch')
                    else:
                        op = 'delete'
                        status, body = api.call('DELETE', '/v2/images/' + mine.pop())
                except Exception as e:
                    op, status, body = 'error', 0, repr(e).encode()
                lat.setdefault(op, []).append((time.perf_counter() - t0) * 1000)
                if status >= 400 or status == 0:
                    with lock:
                        if len(st['errors']) < 20:
                            st['errors'].append('%s %d %s' % (op, status, body[:150]))
                        st['error_count'] = st.get('error_count', 0) + 1
            api.close()
            with lock:
                for op, v in lat.items():
                    st['lat'].setdefault(op, []).extend(v)
                    st['ops'] += len(v)

        cpu0, ccpu0, t0 = svc.cpu(), time.process_time(), time.perf_counter()
        ts = [threading.Thread(target=worker, args=(r * 100 + i,))
              for i in range(MIXED_THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(per_round + 120)
        st['wall'] += time.perf_counter() - t0
        st['cpu'] += svc.cpu() - cpu0
        st['client_cpu'] += time.process_time() - ccpu0

    interleaved(svcs, 2, run)
    out = {}
    for s, st in stats.items():
        every = [x for v in st['lat'].values() for x in v]
        out[s] = {'ops_per_s': st['ops'] / st['wall'], 'ops': st['ops'],
                  'p50_ms': pct(every, 50), 'p95_ms': pct(every, 95),
                  'per_op_p50_ms': {op: pct(v, 50) for op, v in st['lat'].items()},
                  'errors': st.get('error_count', 0), 'error_samples': st['errors'][:5],
                  'server_cpu_share': st['cpu'] / st['wall'],
                  'client_cpu_share': st['client_cpu'] / st['wall']}
    return out


# ---------------------------------------------------------------------------- seeding

def _columns(svc: Service, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, not-null-without-default) of a table."""
    if svc.database == 'sqlite':
        with sqlite3.connect(svc.dir / 'glance.sqlite') as db:
            return [(r[1], r[2].upper(), bool(r[3]) and r[4] is None and not r[5])
                    for r in db.execute('PRAGMA table_info(%s)' % table)]
    rows = psql("SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS "
                "NULL FROM information_schema.columns WHERE table_name = '%s' "
                "ORDER BY ordinal_position" % table, svc.pgdb)
    return [(a, b.upper(), c == 't') for a, b, c in
            (line.split('|') for line in rows.splitlines())]


def _value(col: str, i: int, deleted: bool, ts: str, image_id: str, pg: bool):
    values = {
        'id': image_id, 'image_id': image_id, 'name': 'seed-%d' % i,
        'status': 'deleted' if deleted else 'active', 'visibility': 'public',
        'owner': 'seed-project', 'size': 1024, 'virtual_size': None,
        'disk_format': 'raw', 'container_format': 'bare',
        'checksum': '%032x' % i, 'os_hash_algo': 'sha512', 'os_hash_value': '%0128x' % i,
        'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False,
        'created_at': ts, 'updated_at': ts, 'deleted_at': ts if deleted else None,
        'deleted': deleted, 'value': 'debian',
    }
    v = values.get(col)
    if isinstance(v, bool):
        return ('t' if v else 'f') if pg else int(v)
    return v


def seed(svc: Service, n: int) -> dict:
    """n active images (one property each) and n deleted ones, newest first interleaved,
    written straight into the service's own schema."""
    pg = svc.database != 'sqlite'
    t0 = time.perf_counter()
    img_cols = _columns(svc, 'images')
    prop_cols = [c for c in _columns(svc, 'image_properties') if c[0] != 'id']
    base = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)

    def rows():
        for i in range(2 * n):
            deleted = bool(i % 2)
            ts = (base + dt.timedelta(milliseconds=i)).strftime('%Y-%m-%d %H:%M:%S.%f')
            image_id = str(uuid.UUID(int=random.getrandbits(128), version=4))
            img = [_value(c, i, deleted, ts, image_id, pg) for c, _, _ in img_cols]
            prop = [_value(c, i, deleted, ts, image_id, pg) if c != 'name' else 'os_distro'
                    for c, _, _ in prop_cols]
            yield img, prop

    if svc.database == 'sqlite':
        with sqlite3.connect(svc.dir / 'glance.sqlite', timeout=60) as db:
            imgs, props = zip(*rows(), strict=True)
            db.executemany('INSERT INTO images (%s) VALUES (%s)' % (
                ','.join(c for c, _, _ in img_cols), ','.join('?' * len(img_cols))), imgs)
            db.executemany('INSERT INTO image_properties (%s) VALUES (%s)' % (
                ','.join(c for c, _, _ in prop_cols), ','.join('?' * len(prop_cols))), props)
    else:
        bufs = io.StringIO(), io.StringIO()
        w = csv.writer(bufs[0]), csv.writer(bufs[1])
        for img, prop in rows():
            w[0].writerow(['' if v is None else v for v in img])
            w[1].writerow(['' if v is None else v for v in prop])
        tables = (('images', img_cols), ('image_properties', prop_cols))
        for (table, cols), buf in zip(tables, bufs, strict=True):
            psql("\\copy %s (%s) FROM STDIN WITH (FORMAT csv, NULL '')" % (
                table, ','.join(c for c, _, _ in cols)), svc.pgdb,
                stdin=buf.getvalue().encode())
        # what autovacuum does after a bulk load anyway; done here so that it does not run
        # (and set hint bits) in the middle of the measurement
        psql('VACUUM ANALYZE', svc.pgdb)
    return {'seconds': time.perf_counter() - t0, 'images': n, 'deleted_rows': n}


def phase_big_db(svcs: dict) -> dict:
    out = {}
    for s, svc in svcs.items():
        log('  seeding %s: %d images + %d deleted rows' % (s, N_SEED, N_SEED))
        try:
            out[s] = {'seed': seed(svc, N_SEED)}
        except Exception as e:         # recorded: a schema we could not fill
            out[s] = {'seed_error': repr(e)[:500]}
    ok = {s: v for s, v in svcs.items() if 'seed' in out[s]}
    if not ok:
        return out

    def first(svc, doc):
        if len(doc['images']) != 25:
            raise RuntimeError('%s: page of %d' % (svc.system, len(doc['images'])))
    page = phase_latency(ok, lambda svc: '/v2/images?limit=25', LATENCY_SAMPLES, first)
    markers = {}
    for s, svc in ok.items():          # a marker half-way down: keyset pagination
        doc = svc.api.json('GET', '/v2/images?limit=1000')
        markers[s] = doc['images'][-1]['id']
    deep = phase_latency(ok, lambda svc: '/v2/images?limit=25&marker=' + markers[svc.system],
                         LATENCY_SAMPLES, first)
    for s in ok:
        out[s]['page25'] = page[s]
        out[s]['page25_after_1000'] = deep[s]
    return out


# ---------------------------------------------------------------------------- one database

def run_database(database: str, path: Path, meta: dict) -> dict:
    tag = '%d' % os.getpid()
    svcs = {}
    filled = fill_page_cache()
    try:
        for s in SYSTEMS:
            log('%s: starting %s' % (database, s))
            svcs[s] = Service(s, database, tag).start()
        res = {'ports': {s: v.port for s, v in svcs.items()}, 'page_cache_filled_gib': filled,
               'worker_rss_idle_mb': {s: [proc_status(p).get('VmRSS', 0) / MB
                                          for p in v.workers()] for s, v in svcs.items()}}
        log('%s: create %d images (4 interleaved rounds)' % (database, N_CREATE))
        res['create'], ids = phase_create(svcs)

        def full_page(svc, doc):
            if len(doc['images']) != LIST_LIMIT:
                raise RuntimeError('%s: list gave %d' % (svc.system, len(doc['images'])))
        log('%s: list a %d-image page, show one image' % (database, LIST_LIMIT))
        res['list_page'] = phase_latency(svcs, lambda svc: '/v2/images?limit=%d' % LIST_LIMIT,
                                         LATENCY_SAMPLES, full_page)
        res['show'] = phase_latency(svcs, lambda svc: '/v2/images/' + ids[svc.system][0],
                                    LATENCY_SAMPLES * 3)
        log('%s: big transfers' % database)
        nginx = Nginx(path.parent)
        try:
            res['transfer'] = phase_big_transfers(svcs, path, meta, nginx)
            res['parallel'] = phase_parallel(svcs, path, meta, nginx)
        finally:
            nginx.stop()
        log('%s: mixed metadata load, %d threads, %.0f s each' % (database, MIXED_THREADS,
                                                                   MIXED_SECONDS))
        res['mixed'] = phase_mixed(svcs, ids)
        # free the store before seeding
        for svc in svcs.values():
            for f in (svc.dir / 'images').iterdir():
                f.unlink()
        log('%s: page of 25 with %d images and %d deleted rows' % (database, N_SEED, N_SEED))
        res['big_db'] = phase_big_db(svcs)
        res['worker_rss_at_end_mb'] = {
            s: [proc_status(p).get('VmRSS', 0) / MB for p in svc.workers()]
            for s, svc in svcs.items()}
        res['server_log'] = {s: scan_log(svc) for s, svc in svcs.items()}
        res['pressure_end'] = pressure()
        return res
    finally:
        for svc in svcs.values():
            svc.cleanup()


def scan_log(svc: Service) -> dict:
    """What the service logged: 'database is locked' lines and error/exception kinds."""
    text = ''
    for name in ('glance-api.log', 'server.out'):
        with contextlib.suppress(OSError):
            text += (svc.dir / name).read_text(errors='replace')
    kinds: dict[str, int] = {}
    for m in re.finditer(r'\b[\w.]+(?:Error|Exception): [^\n]{0,100}', text):
        key = re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', m.group(0))[:120]
        kinds[key] = kinds.get(key, 0) + 1
    return {'database_is_locked_lines': text.count('database is locked'),
            'error_lines': len(re.findall(r' ERROR ', text)),
            'exceptions': dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:8])}


def pressure() -> dict:
    """Load average and PSI: how contended this machine was (others' processes too)."""
    out = {'loadavg': os.getloadavg()}
    for res in ('cpu', 'io'):
        with contextlib.suppress(OSError):
            line = Path('/proc/pressure/' + res).read_text().splitlines()[0]
            out['%s_some_avg60' % res] = float(line.split('avg60=')[1].split()[0])
    return out


# ---------------------------------------------------------------------------- Ceph stores

STORES = [s for s in os.environ.get('BENCH_STORES', 'rbd,s3').split(',') if s]
STORE_ROUNDS = _env_int('BENCH_STORE_ROUNDS', 4, 2)     # uploads per system and driver
STORE_DOWNLOAD_ROUNDS = 2 * STORE_ROUNDS
CEPH_SH = ROOT / 'tests' / 'infra' / 'ceph.sh'
S3_CLIENT = BENCH / 's3_client.py'
CEPH_DAEMONS = ('osd.0', 'client.rgw.a', 'mon.a', 'mgr.a')


def ceph_settings() -> dict:
    """The GLINT_TEST_* values `ceph.sh env` prints (the cluster tests/infra runs)."""
    r = subprocess.run(['bash', str(CEPH_SH), 'env'], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError('ceph.sh env: %s' % r.stderr[-500:])
    out = {}
    for line in r.stdout.splitlines():
        name, _, value = line.removeprefix('export ').partition('=')
        out[name] = value.strip("'\"")
    return out


def ceph_pids(conf: str) -> dict[str, int]:
    run_dir = Path(conf).parent / 'run'
    out = {}
    for name in CEPH_DAEMONS:
        with contextlib.suppress(OSError, ValueError):
            out[name] = int((run_dir / (name + '.pid')).read_text().strip())
    return out


class Native:
    """The store's own client on the same file: `rbd import` / `rbd export` (Ceph's CLI,
    its defaults), or boto3's upload_file / download_fileobj with its default transfer
    settings (bench/s3_client.py in Glint's venv). Quacks like a Service for
    interleaved(): system 'native'."""
    system = 'native'

    def __init__(self, store: str, ceph: dict, tag: str):
        self.store, self.ceph, self.tag = store, ceph, tag
        self.bucket = 'bench-native-%s' % tag
        self.env = dict(os.environ, CEPH_CONF=ceph['GLINT_TEST_CEPH_CONF'],
                        S3_URL=ceph['GLINT_TEST_S3_URL'],
                        S3_ACCESS_KEY=ceph['GLINT_TEST_S3_ACCESS_KEY'],
                        S3_SECRET_KEY=ceph['GLINT_TEST_S3_SECRET_KEY'])
        self.names: list[str] = []

    def _rbd(self, *args, stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:
        return subprocess.run(['rbd', '--id', self.ceph['GLINT_TEST_RBD_USER'], *args],
                              env=self.env, stdout=stdout,
                              stderr=subprocess.PIPE, text=True)

    def _timed(self, cmd: list[str], json_out: bool = False) -> dict:
        """Run cmd; wall seconds (or the script's own), client CPU from rusage."""
        ru0 = os.times()
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE if json_out else
                           subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        ru1 = os.times()
        cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system -
                                                         ru0.children_system)
        if r.returncode:
            return {'error': r.stderr[-400:], 'seconds': wall, 'client_cpu_s': cpu}
        if json_out:
            doc = json.loads(r.stdout.strip().splitlines()[-1])
            return {'seconds': doc['seconds'], 'client_cpu_s': doc['cpu_s'],
                    'bytes': doc.get('bytes'), 'process_seconds': wall}
        return {'seconds': wall, 'client_cpu_s': cpu}

    def name(self, r: int) -> str:
        return 'bench-native-%s-%d' % (self.tag, r)

    def upload(self, path: Path, r: int) -> dict:
        name = self.name(r)
        self.names.append(name)
        if self.store == 'rbd':
            return self._timed(['rbd', '--id', self.ceph['GLINT_TEST_RBD_USER'],
                                '--no-progress', 'import', str(path),
                                '%s/%s' % (self.ceph['GLINT_TEST_RBD_POOL'], name)])
        return self._timed([str(GLINT_VENV / 'bin' / 'python'), str(S3_CLIENT), 'upload',
                            str(path), self.bucket, name], json_out=True)

    def download(self, r: int) -> dict:
        name = self.name(0)
        if self.store == 'rbd':
            return self._timed(['rbd', '--id', self.ceph['GLINT_TEST_RBD_USER'],
                                '--no-progress', 'export',
                                '%s/%s' % (self.ceph['GLINT_TEST_RBD_POOL'], name), '-'])
        return self._timed([str(GLINT_VENV / 'bin' / 'python'), str(S3_CLIENT), 'download',
                            self.bucket, name], json_out=True)

    def delete(self, r: int) -> None:
        name = self.name(r)
        if self.store == 'rbd':
            self._rbd('rm', '--no-progress', '%s/%s' % (self.ceph['GLINT_TEST_RBD_POOL'], name))
        else:
            subprocess.run([str(GLINT_VENV / 'bin' / 'python'), str(S3_CLIENT), 'delete',
                            self.bucket, name], env=self.env, capture_output=True)
        with contextlib.suppress(ValueError):
            self.names.remove(name)


def ceph_used_bytes(ceph: dict) -> int | None:
    r = subprocess.run(['ceph', '--id', ceph['GLINT_TEST_RBD_USER'], 'df', '-f', 'json'],
                       env=dict(os.environ, CEPH_CONF=ceph['GLINT_TEST_CEPH_CONF']),
                       capture_output=True, text=True, timeout=60)
    with contextlib.suppress(ValueError, KeyError):
        return int(json.loads(r.stdout)['stats']['total_used_raw_bytes'])
    return None


def wait_for_osd_space(ceph: dict, need: int) -> float:
    """The OSD is a 20 GiB sparse file and radosgw frees deleted objects' data 30-60 s
    after the delete: wait (at most 180 s) until `need` more bytes fit in 60 % of it."""
    t0 = time.perf_counter()
    limit = int(0.6 * (20 << 30))
    while time.perf_counter() - t0 < 180:
        used = ceph_used_bytes(ceph)
        if used is None or used + need < limit:
            break
        time.sleep(5)
    return time.perf_counter() - t0


def store_options(store: str, ceph: dict, bucket: str) -> dict:
    if store == 'rbd':
        return {'rbd_store_pool': ceph['GLINT_TEST_RBD_POOL'],
                'rbd_store_user': ceph['GLINT_TEST_RBD_USER'],
                'rbd_store_ceph_conf': ceph['GLINT_TEST_CEPH_CONF'],
                'rbd_store_chunk_size': 8}
    # glance_store's defaults, written out: multipart from 100 MiB, 10 MiB parts, 10 threads
    return {'s3_store_host': ceph['GLINT_TEST_S3_URL'],
            's3_store_access_key': ceph['GLINT_TEST_S3_ACCESS_KEY'],
            's3_store_secret_key': ceph['GLINT_TEST_S3_SECRET_KEY'],
            's3_store_bucket': bucket, 's3_store_create_bucket_on_put': 'True',
            's3_store_bucket_url_format': 'path', 's3_store_large_object_size': 100,
            's3_store_large_object_chunk_size': 10, 's3_store_thread_pools': 10}


def run_store(store: str, ceph: dict, path: Path, meta: dict) -> dict:
    """1 GiB up and down through Glint's and upstream's driver and the native client,
    interleaved; every RBD image and S3 object of the run removed at the end."""
    tag = '%d' % os.getpid()
    svcs: dict = {}
    native = Native(store, ceph, tag)
    daemons = ceph_pids(ceph['GLINT_TEST_CEPH_CONF'])
    keep: dict[str, str] = {}            # system -> the image (round 0) downloads read
    made: dict[str, list[str]] = {s: [] for s in SYSTEMS}
    res: dict = {'daemons': list(daemons), 'waited_for_osd_space_s': 0.0}
    try:
        for s in SYSTEMS:
            log('%s: starting %s' % (store, s))
            svcs[s] = Service(s, 'sqlite', tag, store,
                              store_options(store, ceph, 'bench-%s-%s' % (s, tag))).start()
        targets = dict(svcs, native=native)

        def measured(svc, action):
            pids = svc.workers() if svc.system != 'native' else []
            cpu0 = svc.cpu() if pids else 0.0
            ceph0 = cpu_seconds(list(daemons.values()))
            with RssSampler(pids) as rss:
                out = action()
            out.update(ceph_cpu_s=cpu_seconds(list(daemons.values())) - ceph0,
                       server_cpu_s=(svc.cpu() - cpu0) if pids else None,
                       peak_rss=rss.peak, hwm=rss.hwm, rss_before=rss.before)
            return out

        def up(svc, r):
            res['waited_for_osd_space_s'] += wait_for_osd_space(ceph, 2 * SIZE)
            if svc.system == 'native':
                out = measured(svc, lambda: native.upload(path, r))
                out['problem'] = out.pop('error', None)
            else:
                image_id = svc.api.create(30_000 + r)
                made[svc.system].append(image_id)
                out = measured(svc, lambda: upload(svc.port, image_id, path, 0, SIZE))
                out['problem'] = (check_image(svc, image_id, meta['md5'], meta['sha512'])
                                  if out['status'] == 204 else
                                  'HTTP %d %s' % (out['status'], out['body'][:200]))
                stores = svc.api.json('GET', '/v2/images/' + image_id).get('stores')
                if stores != store:        # in the backend we configured, nowhere else
                    out['problem'] = 'stored in %r, not %r' % (stores, store)
            out.setdefault('bytes', SIZE)
            if r == 0:
                keep[svc.system] = image_id if svc.system != 'native' else native.name(0)
            elif svc.system == 'native':
                native.delete(r)
            else:
                svc.api.call('DELETE', '/v2/images/' + image_id)
            return out

        def down(svc, r):
            if svc.system == 'native':
                out = measured(svc, lambda: native.download(r))
                out['problem'] = out.pop('error', None)
                if out.get('bytes') not in (None, SIZE):
                    out['problem'] = '%s bytes' % out['bytes']
            else:
                out = measured(svc, lambda: download(
                    svc.port, '/v2/images/%s/file' % keep[svc.system]))
                if (out['status'], out['bytes']) != (200, SIZE):
                    out['problem'] = 'HTTP %d, %d bytes' % (out['status'], out['bytes'])
            out['bytes'] = SIZE
            return out

        log('%s: upload %d MiB x %d rounds (glint, upstream, native interleaved)' % (
            store, SIZE // MIB, STORE_ROUNDS))
        ups = interleaved(targets, STORE_ROUNDS, up)
        log('%s: download it x %d rounds' % (store, STORE_DOWNLOAD_ROUNDS))
        downs = interleaved(targets, STORE_DOWNLOAD_ROUNDS, down)
        for s in targets:
            res[s] = {}
            for key, rows in (('upload', ups[s]), ('download', downs[s])):
                ok = [x for x in rows if not x.get('problem')]
                for x in rows:
                    x['mbps'] = x['bytes'] / x['seconds'] / MB
                def per_gib(k, ok=ok):
                    return median([x[k] * (1 << 30) / x['bytes'] for x in ok
                                   if x.get(k) is not None])
                res[s][key] = {
                    'mbps': median([x['mbps'] for x in ok]) if ok else None,
                    'runs_mbps': [round(x['mbps'], 1) for x in rows],
                    'server_cpu_s_per_gib': per_gib('server_cpu_s'),
                    'client_cpu_s_per_gib': per_gib('client_cpu_s'),
                    'ceph_cpu_s_per_gib': per_gib('ceph_cpu_s'),
                    'peak_worker_rss_mb': max(x['peak_rss'] for x in rows) / MB,
                    'worker_rss_before_mb': max(x['rss_before'] for x in rows) / MB,
                    'worker_vmhwm_mb': max(x['hwm'] for x in rows) / MB,
                    'problems': [x['problem'] for x in rows if x.get('problem')]}
        for s, svc in svcs.items():
            res.setdefault('server_log', {})[s] = scan_log(svc)
        res['pressure_end'] = pressure()
        return res
    finally:
        for s, svc in svcs.items():        # through the API first: as an operator would
            for image_id in made[s]:
                with contextlib.suppress(Exception):
                    svc.api.call('DELETE', '/v2/images/' + image_id)
            svc.cleanup()
        res['leftovers_removed'] = purge_store(store, ceph, native, made, tag)


def purge_store(store: str, ceph: dict, native: Native, made: dict, tag: str) -> list[str]:
    """Remove whatever of this run is still in Ceph: the RBD images named after our image
    ids or the native ones (never anyone else's), or our three S3 buckets."""
    removed = []
    if store == 'rbd':
        pool = ceph['GLINT_TEST_RBD_POOL']
        ours = {i for ids in made.values() for i in ids} | set(native.names)

        def left() -> list[str]:
            r = native._rbd('ls', pool, stdout=subprocess.PIPE)
            if r.returncode:
                return ['rbd ls failed: %s' % r.stderr[-300:]]
            return [n for n in r.stdout.split()
                    if n in ours or n.startswith('bench-native-%s-' % tag)]
        for name in left():
            spec = '%s/%s' % (pool, name)
            native._rbd('snap', 'unprotect', spec + '@snap')
            native._rbd('snap', 'purge', spec)
            native._rbd('rm', '--no-progress', spec)
            removed.append(name)
        removed += ['still there: %s' % n for n in left()]
    else:
        buckets = ['bench-%s-%s' % (s, tag) for s in SYSTEMS] + [native.bucket]
        r = subprocess.run([str(GLINT_VENV / 'bin' / 'python'), str(S3_CLIENT), 'purge',
                            *buckets], env=native.env, capture_output=True, text=True)
        with contextlib.suppress(ValueError, IndexError):
            removed = ['%s: %d objects' % kv for kv in
                       json.loads(r.stdout.splitlines()[-1])['deleted'].items()]
        if r.returncode:
            removed.append('purge failed: %s' % r.stderr[-300:])
    return removed


def run_stores(path: Path, meta: dict) -> dict:
    ceph = ceph_settings()
    out = {'rounds': STORE_ROUNDS, 'download_rounds': STORE_DOWNLOAD_ROUNDS}
    for store in STORES:
        out['load_before_%s' % store] = os.getloadavg()
        try:
            out[store] = run_store(store, ceph, path, meta)
        except Exception as e:           # recorded; the rest of the run stands
            out[store] = {'error': repr(e)[-2000:]}
            log('%s: failed: %r' % (store, e))
    return out


def store_rows(stores: dict) -> list[dict]:
    rows = []
    for store in STORES:
        r = stores.get(store) or {}
        if 'glint' not in r:
            continue
        g, u, n = r['glint'], r['upstream'], r['native']
        native_name = ('rbd import / export' if store == 'rbd' else
                       'boto3 upload_file / download_fileobj')

        def add(metric, unit, gv, uv, higher, limit=None, target=None, ok=None, note='',
                store=store):
            rows.append({'db': 'ceph %s' % store, 'metric': metric, 'unit': unit,
                         'glint': gv, 'upstream': uv, 'ratio': ratio(gv, uv, higher),
                         'limit': limit, 'target': target, 'met': ok, 'note': note,
                         'higher_is_better': higher})
        gu, uu, nu = g['upload']['mbps'], u['upload']['mbps'], n['upload']['mbps']
        add('upload %d MiB' % (SIZE // MIB), 'MB/s', gu, uu, True, limit=nu,
            target='>= 2x upstream and >= 70%% of %s (%.0f)' % (
                native_name.split(' / ')[0], 0.7 * (nu or 0)),
            ok=bool(gu and uu and nu and gu >= 2 * uu and gu >= 0.7 * nu),
            note='; '.join((['%.0f %% of native' % (100 * gu / nu)] if gu and nu else []) +
                           g['upload']['problems'] + u['upload']['problems'] +
                           n['upload']['problems']))
        for key, word in (('upload', 'uploaded'), ('download', 'downloaded')):
            add('  server CPU per GiB %s' % word, 'CPU s', g[key]['server_cpu_s_per_gib'],
                u[key]['server_cpu_s_per_gib'], False, limit=n[key]['client_cpu_s_per_gib'],
                note='limit column: the native client\'s CPU; Ceph daemons\' CPU per GiB '
                     'glint %.1f / upstream %.1f / native %.1f' % tuple(
                         x[key]['ceph_cpu_s_per_gib'] or 0 for x in (g, u, n)))
            if key == 'upload':
                gd, ud, nd = (x['download']['mbps'] for x in (g, u, n))
                add('download %d MiB' % (SIZE // MIB), 'MB/s', gd, ud, True, limit=nd,
                    target='>= 1.5x upstream', ok=bool(gd and ud and gd >= 1.5 * ud),
                    note='; '.join((['%.0f %% of native' % (100 * gd / nd)] if gd and nd
                                    else []) + g['download']['problems'] +
                                   u['download']['problems'] + n['download']['problems']))
        rss = {s: max(x['upload']['peak_worker_rss_mb'], x['download']['peak_worker_rss_mb'])
               for s, x in (('glint', g), ('upstream', u))}
        add('peak worker RSS, %d MiB up/down' % (SIZE // MIB), 'MB', rss['glint'],
            rss['upstream'], False, target='< 150 MB', ok=rss['glint'] < 150,
            note='just before the upload %.0f / %.0f MB' % (
                g['upload']['worker_rss_before_mb'], u['upload']['worker_rss_before_mb']))
    return rows


# ---------------------------------------------------------------------------- profile

TASK_NAMES: dict[int, str] = {}      # tid -> its comm, as task_times() first saw it


def task_times(pids: list[int]) -> dict[int, tuple[float, float, float]]:
    """(user, system, run-queue wait) seconds of every thread of the given processes; the
    wait (schedstat) is time the thread was runnable but another task had the CPU."""
    tick = os.sysconf('SC_CLK_TCK')
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir('/proc/%d/task' % pid):
                with contextlib.suppress(OSError, ValueError):
                    base = '/proc/%d/task/%s/' % (pid, tid)
                    with open(base + 'stat') as f:
                        fields = f.read().rsplit(')', 1)[1].split()
                    with open(base + 'schedstat') as f:
                        wait = int(f.read().split()[1]) / 1e9
                    if int(tid) not in TASK_NAMES:
                        with open(base + 'comm') as f:
                            TASK_NAMES[int(tid)] = f.read().strip()
                    out[int(tid)] = (int(fields[11]) / tick, int(fields[12]) / tick, wait)
    return out


class TaskSampler:
    """Per-thread CPU of processes, sampled every 50 ms so that threads which start and
    end during the measurement (Glint's hash threads) are counted too."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.first = task_times(pids)
        self.last = dict(self.first)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.05):
            self.last.update(task_times(self.pids))

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.last.update(task_times(self.pids))

    def deltas(self) -> dict[int, tuple[float, float, float]]:
        zero = (0.0, 0.0, 0.0)
        return {tid: tuple(a - b for a, b in zip(v, self.first.get(tid, zero), strict=True))
                for tid, v in self.last.items()}


def minor_faults(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open('/proc/%d/stat' % pid) as f:
            total += int(f.read().rsplit(')', 1)[1].split()[7])
    return total


PROFILE_RATE = 200


def profile_upload(path: Path, meta: dict) -> dict:
    """One Glint upload (SQLite) under py-spy, twice: on-CPU samples per thread, then only
    the thread holding the GIL; with each thread's CPU time from /proc for the upload."""
    pyspy = TOOLS_BIN / 'py-spy'
    if not pyspy.exists():
        return {'skipped': 'py-spy not installed'}
    svc = Service('glint', 'sqlite', 'profile').start()
    out = {}
    try:
        for mode, flags in (('cpu', []), ('gil', ['--gil'])):
            image_id = svc.api.create(99)
            raw = RESULTS / ('%s-profile-upload-%s.txt' % (RUN_NAME, mode))
            spy = subprocess.Popen(
                [str(pyspy), 'record', '--pid', str(svc.process.pid), '--subprocesses',
                 '--threads', '--nonblocking', '--rate', str(PROFILE_RATE), '--format', 'raw',
                 '--output', str(raw), *flags],
                stdout=subprocess.DEVNULL, stderr=open(STATE / 'py-spy.err', 'wb'),
                start_new_session=True)
            time.sleep(2)
            workers = svc.workers()
            faults0 = minor_faults(workers)
            with TaskSampler(workers) as tasks:
                res = upload(svc.port, image_id, path, 0, SIZE)
            faults = minor_faults(workers) - faults0
            time.sleep(0.3)
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
            summary = summarize_profile(raw, res['seconds'])
            names = summary.pop('names', {})
            threads = []
            for tid, (du, ds, dw) in tasks.deltas().items():
                if du + ds > 0.02 * res['seconds']:
                    threads.append({'tid': tid, 'name': names.get(tid, '?'),
                                    'user_s': round(du, 2), 'sys_s': round(ds, 2),
                                    'runqueue_wait_s': round(dw, 2),
                                    'busy_pct_of_upload': round(100 * (du + ds) /
                                                                res['seconds']),
                                    'waiting_for_cpu_pct_of_upload': round(
                                        100 * dw / res['seconds'])})
            out[mode] = {'upload_mbps_under_profiler': res['mbps'],
                         'upload_seconds': res['seconds'], 'status': res['status'],
                         'worker_minor_page_faults': faults,
                         'raw': os.path.relpath(raw, ROOT),
                         'thread_cpu': sorted(threads, key=lambda t: -t['user_s'] - t['sys_s']),
                         'summary': summary}
            svc.api.call('DELETE', '/v2/images/' + image_id)
    finally:
        svc.cleanup()
    return out


CATEGORIES = (   # leaf frame -> where the time goes
    ('gunicorn request body reader (wsgi.input.read)', ('gunicorn/http/',)),
    ('request body recv_into (glint/common/body.py)', ('glint/common/body.py',)),
    ('hashing (md5/sha512 threads)', ('glint/common/hashing.py', 'hashlib')),
    ('store write (FileStore.add, os.write)', ('glint/store/file.py',)),
    ('thread hand-off / waiting (queue, threading)', ('queue.py', 'threading.py')),
    ('database (sqlalchemy)', ('sqlalchemy/',)),
    ('gunicorn event loop / arbiter', ('selectors.py', 'gunicorn/arbiter.py',
                                       'gunicorn/workers/', 'concurrent/futures')),
)


def summarize_profile(raw: Path, seconds: float) -> dict:
    """Collapsed stacks -> samples per thread, the heaviest frames (self and total), and the
    self samples by category; 'share_of_upload' = samples / (rate x upload seconds)."""
    if not raw.exists():
        return {'error': 'no output'}
    threads, leaf, total, cats, names = {}, {}, {}, {}, {}
    grand = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(' ')
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(';')
        thread = next((f for f in frames if f.startswith('thread')), 'thread (0)')
        m = re.match(r'thread \((\d+)\)(?::\s*(.*))?', thread)
        if m and m.group(2):
            names[int(m.group(1))] = m.group(2)
        code = [f for f in frames if not f.startswith(('process', 'thread'))]
        if not code:
            continue
        grand += n
        threads[thread] = threads.get(thread, 0) + n
        leaf[code[-1]] = leaf.get(code[-1], 0) + n
        for f in set(code):
            total[f] = total.get(f, 0) + n
        cat = next((c for c, keys in CATEGORIES if any(k in code[-1] for k in keys)), 'other')
        cats[cat] = cats.get(cat, 0) + n
    expected = PROFILE_RATE * seconds

    def top(d, k):
        return [[f, n, round(100 * n / grand, 1), round(100 * n / expected)]
                for f, n in sorted(d.items(), key=lambda kv: -kv[1])[:k]]
    return {'samples': grand, 'columns': ['frame', 'samples', 'pct_of_samples',
                                          'pct_of_upload_wall_time'],
            'threads': top(threads, 12), 'categories': top(cats, 10), 'self': top(leaf, 20),
            'total': top(total, 30), 'names': names}


# ---------------------------------------------------------------------------- report

def machine() -> dict:
    cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                if line.startswith('model name')), platform.processor())
    mem = next(int(line.split()[1]) for line in open('/proc/meminfo')
               if line.startswith('MemTotal'))
    df = subprocess.run(['df', '-hT', str(STATE)], capture_output=True, text=True).stdout
    dev = df.splitlines()[-1].split()[0] if df else '?'
    rot = None
    name = os.path.basename(os.path.realpath(dev)) if dev.startswith('/dev/') else None
    if name:
        with contextlib.suppress(OSError):
            rot = Path('/sys/block/%s/queue/rotational' % name).read_text().strip()
    return {'nproc': os.cpu_count(), 'cpu': cpu, 'mem_gib': round(mem / (1 << 20), 1),
            'kernel': platform.release(), 'python': platform.python_version(),
            'disk': ' '.join(df.splitlines()[-1].split()[:3]) if df else '?',
            'disk_rotational': rot, 'pressure_start': pressure()}


def versions() -> dict:
    def v(venv, pkg):
        r = subprocess.run([str(venv / 'bin' / 'python'), '-c',
                            'import importlib.metadata as m; print(m.version(%r))' % pkg],
                           capture_output=True, text=True)
        return r.stdout.strip() or None
    sha = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(['git', '-C', str(ROOT), 'status', '--porcelain', 'service'],
                           capture_output=True, text=True).stdout.strip()
    return {'glint': '%s (git %s%s)' % (v(GLINT_VENV, 'glint'), sha,
                                        ', service/ modified' if dirty else ''),
            'glance': v(UPSTREAM_VENV, 'glance'), 'gunicorn': v(GLINT_VENV, 'gunicorn'),
            'gunicorn_upstream': v(UPSTREAM_VENV, 'gunicorn'),
            'nginx': subprocess.run(['nginx', '-v'], capture_output=True,
                                    text=True).stderr.strip()}


def ratio(a, b, higher_better=True):
    if not a or not b:
        return None
    return a / b if higher_better else b / a


def rows_for(db: str, r: dict, lim: dict) -> list[dict]:
    """Table rows: metric, unit, glint, upstream, ratio (>1: Glint better), limit, target."""
    g, u = 'glint', 'upstream'
    t, p = r['transfer'], r['parallel']
    rows = []

    def add(metric, unit, gv, uv, higher, limit=None, target=None, ok=None, note=''):
        rows.append({'db': db, 'metric': metric, 'unit': unit, 'glint': gv, 'upstream': uv,
                     'ratio': ratio(gv, uv, higher), 'limit': limit, 'target': target,
                     'met': ok, 'note': note, 'higher_is_better': higher})

    c = r['create']
    add('create image', 'images/s', c[g]['images_per_s'], c[u]['images_per_s'], True,
        target='>= 5x upstream',
        ok=c[g]['images_per_s'] >= 5 * c[u]['images_per_s'])
    lp, sh = r['list_page'], r['show']
    def mins(d):
        return 'min %.1f / %.1f ms' % (d[g]['min_ms'], d[u]['min_ms'])
    add('list %d-image page' % LIST_LIMIT, 'ms', lp[g]['median_ms'], lp[u]['median_ms'], False,
        target='<= 1/3 upstream', ok=lp[g]['median_ms'] * 3 <= lp[u]['median_ms'],
        note=mins(lp))
    add('show image', 'ms', sh[g]['median_ms'], sh[u]['median_ms'], False,
        target='<= 1/3 upstream', ok=sh[g]['median_ms'] * 3 <= sh[u]['median_ms'],
        note=mins(sh))
    sha = lim['sha512_one_core_mbps']
    gu, uu = t[g]['upload']['mbps'], t[u]['upload']['mbps']
    add('upload %d MiB' % (SIZE // MIB), 'MB/s', gu, uu, True,
        limit=min(sha, lim['md5_one_core_mbps'], lim['client_upload_to_sink_mbps'],
                  lim.get('gunicorn_wsgi_input_drain_mbps') or sha,
                  lim.get('page_cache_write_first_mbps') or sha),
        target='>= 3x upstream and >= sha512/2 (%.0f)' % (sha / 2),
        ok=bool(gu and uu and gu >= 3 * uu and gu >= sha / 2),
        note='; '.join(t[g]['upload']['problems'] + t[u]['upload']['problems']))
    add('  server CPU per GiB uploaded', 'CPU s', t[g]['upload']['server_cpu_s_per_gib'],
        t[u]['upload']['server_cpu_s_per_gib'], False)
    ngx = t['nginx']['download']['mbps']
    gd, ud = t[g]['download']['mbps'], t[u]['download']['mbps']
    add('download %d MiB' % (SIZE // MIB), 'MB/s', gd, ud, True, limit=ngx,
        target='>= 1.1x upstream and >= 85%% nginx (%.0f)' % (0.85 * ngx),
        ok=bool(gd and ud and gd >= 1.1 * ud and gd >= 0.85 * ngx))
    add('download Range (half)', 'MB/s', t[g]['range']['mbps'], t[u]['range']['mbps'], True,
        limit=t['nginx']['range']['mbps'])
    pu = p[g]['upload_aggregate_mbps'], p[u]['upload_aggregate_mbps']
    fails = {s: p[s]['upload_failed_total'] for s in (g, u)}
    note = 'failed uploads: glint %d, upstream %d of %d' % (fails[g], fails[u],
                                                            PARALLEL * ROUNDS)
    add('8 parallel uploads (aggregate)', 'MB/s', pu[0], pu[1], True,
        target='all succeed, >= one upload' if db == 'sqlite' else None,
        ok=(p[g]['upload_all_succeeded'] and pu[0] >= (gu or 0)) if db == 'sqlite' else None,
        note=note)
    add('8 parallel downloads (aggregate)', 'MB/s', p[g]['download_aggregate_mbps'],
        p[u]['download_aggregate_mbps'], True, limit=p['nginx']['download_aggregate_mbps'])
    m = r['mixed']
    add('mixed metadata load, 8 threads', 'ops/s', m[g]['ops_per_s'], m[u]['ops_per_s'], True,
        note='p95 %.0f / %.0f ms; errors %d / %d' % (m[g]['p95_ms'] or 0, m[u]['p95_ms'] or 0,
                                                    m[g]['errors'], m[u]['errors']))
    b = r['big_db']
    pg_ = b.get(g, {}).get('page25', {}).get('median_ms')
    pu_ = b.get(u, {}).get('page25', {}).get('median_ms')
    notes = [v['seed_error'] for v in b.values() if 'seed_error' in v]
    if pg_ is not None and pu_ is not None:
        notes.insert(0, mins({s: b[s]['page25'] for s in (g, u)}))
    add('25-image page, %dk images + %dk deleted' % (N_SEED // 1000, N_SEED // 1000), 'ms',
        pg_, pu_, False, target='< 20 ms', ok=bool(pg_ is not None and pg_ < 20),
        note='; '.join(notes))
    dg = b.get(g, {}).get('page25_after_1000', {}).get('median_ms')
    du = b.get(u, {}).get('page25_after_1000', {}).get('median_ms')
    add('  same, after a marker 1000 deep', 'ms', dg, du, False)
    rss = {s: max(t[s]['upload']['peak_worker_rss_mb'], t[s]['download']['peak_worker_rss_mb'])
           for s in (g, u)}
    before = {s: t[s]['upload']['worker_rss_before_mb'] for s in (g, u)}
    add('peak worker RSS, %d MiB up/down' % (SIZE // MIB), 'MB', rss[g], rss[u], False,
        target='< 150 MB', ok=rss[g] < 150,
        note='VmHWM %.0f / %.0f MB; just before the upload %.0f / %.0f MB; idle after start '
             '%.0f / %.0f MB' % (
                 max(t[g]['upload']['worker_vmhwm_mb'], t[g]['download']['worker_vmhwm_mb']),
                 max(t[u]['upload']['worker_vmhwm_mb'], t[u]['download']['worker_vmhwm_mb']),
                 before[g], before[u], max(r['worker_rss_idle_mb'][g]),
                 max(r['worker_rss_idle_mb'][u])))
    return rows


def fmt(v, unit=''):
    if v is None:
        return '-'
    if isinstance(v, float):
        return ('%.1f' % v) if v < 100 else ('%.0f' % v)
    return str(v)


def markdown(rows: list[dict], lim: dict) -> str:
    out = ['| db | metric | unit | Glint | upstream | Glint vs upstream | limit | target | met |',
           '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |']
    for r in rows:
        met = {True: 'yes', False: '**no**', None: ''}[r['met']]
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['db'], r['metric'], r['unit'], fmt(r['glint']), fmt(r['upstream']),
            ('%.2fx' % r['ratio']) if r['ratio'] else '-', fmt(r['limit']),
            r['target'] or '', met + (' (%s)' % r['note'] if r['note'] else '')))
    if lim:
        out += ['', 'Machine limits measured in the same run (MB/s = 10^6 bytes/s):', '']
    for k, v in lim.items():
        out.append('- %s: %.0f' % (k, v))
    return '\n'.join(out)


def chart(rows: list[dict], lim: dict, png: Path, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    order = DATABASES + ['ceph %s' % s for s in STORES]
    dbs = sorted({r['db'] for r in rows}, key=lambda d: order.index(d) if d in order else 99)
    groups = [('MB/s (higher is better)', lambda r: r['unit'] == 'MB/s' and 'RSS' not in
               r['metric']),
              ('ms (lower is better)', lambda r: r['unit'] == 'ms'),
              ('per second (higher is better)', lambda r: r['unit'] in ('images/s', 'ops/s'))]
    fig, axes = plt.subplots(len(dbs), len(groups), figsize=(18, 5.2 * len(dbs)),
                             squeeze=False)
    colors = {'Glint': '#2b7bba', 'upstream': '#e07b39', 'limit': '#9a9a9a'}
    for i, db in enumerate(dbs):
        for j, (label, pick) in enumerate(groups):
            ax = axes[i][j]
            sel = [r for r in rows if r['db'] == db and pick(r)]
            names = [r['metric'].strip() for r in sel]
            xs = range(len(sel))
            w = 0.27
            for k, (name, key) in enumerate((('Glint', 'glint'), ('upstream', 'upstream'),
                                             ('limit', 'limit'))):
                vals = [r[key] or 0 for r in sel]
                if key == 'limit' and not any(vals):
                    continue
                bars = ax.bar([x + (k - 1) * w for x in xs], vals, w, label=name,
                              color=colors[name])
                for bar, v in zip(bars, vals, strict=True):
                    if v:
                        ax.annotate(fmt(v), (bar.get_x() + bar.get_width() / 2,
                                             bar.get_height()), ha='center', va='bottom',
                                    fontsize=7)
            ax.set_xticks(list(xs))
            ax.set_xticklabels(names, rotation=20, ha='right', fontsize=8)
            ax.set_title('%s: %s' % (db, label), fontsize=10)
            if label.startswith('ms'):
                ax.set_yscale('log')
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def print_profile(prof: dict) -> None:
    for mode in ('cpu', 'gil'):
        if mode not in prof:
            continue
        p = prof[mode]
        print('\nGlint upload under py-spy (%s samples; %.0f MB/s, %.1f s while profiled; %s)'
              % (mode, p['upload_mbps_under_profiler'], p['upload_seconds'], p['raw']))
        print('  worker minor page faults: %d; thread CPU from /proc during the upload:'
              % p.get('worker_minor_page_faults', -1))
        for t in p['thread_cpu']:
            print('    %-24s user %5.2f s  sys %5.2f s  on CPU %3d%%, runnable but waiting '
                  'for a CPU %3d%% of the upload' % (
                      t['name'][:24], t['user_s'], t['sys_s'], t['busy_pct_of_upload'],
                      t['waiting_for_cpu_pct_of_upload']))
        print('  (%% of samples / %% of upload wall time)')
        for key, k in (('categories', 8), ('self', 10)):
            for f, _n, share, wall in p['summary'].get(key, [])[:k]:
                print('  %-10s %5.1f%% %4d%%  %s' % (key, share, wall, f[:140]))


def main(argv: list[str]) -> int:
    if argv[:1] == ['profile']:          # only the py-spy profile of one Glint upload
        RESULTS.mkdir(parents=True, exist_ok=True)
        snapshot_glint()
        path, meta = data_file()
        prof = profile_upload(path, meta)
        (RESULTS / (RUN_NAME + '-profile-upload.json')).write_text(json.dumps(prof, indent=1))
        print_profile(prof)
        return 0
    if not (GLINT_VENV / 'bin' / 'glance-api').exists():
        sys.exit('no Glint in %s (make venv, or GLINT_VENV=...)' % GLINT_VENV)
    if not (UPSTREAM_VENV / 'bin' / 'gunicorn').exists():
        sys.exit('no upstream Glance in %s (make bench builds it)' % UPSTREAM_VENV)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    name = RUN_NAME
    doc = {'date': dt.datetime.now(dt.UTC).isoformat(timespec='seconds'),
           'quick': QUICK, 'machine': machine(), 'versions': versions(),
           'glint_code': snapshot_glint(),
           'config': {'image_mib': SIZE // MIB, 'parallel': PARALLEL,
                      'parallel_piece_mib': PIECE // MIB, 'created_images': N_CREATE,
                      'list_limit': LIST_LIMIT, 'seed_images': N_SEED, 'rounds': ROUNDS,
                      'download_rounds': DOWNLOAD_ROUNDS,
                      'mixed_seconds_per_system': MIXED_SECONDS, 'workers': WORKERS,
                      'threads': THREADS, 'databases': DATABASES},
           'results': {}}
    path, meta = data_file()
    doc['limits'] = measure_limits(path) if DATABASES else {}
    log('limits: ' + ', '.join('%s %.0f' % kv for kv in doc['limits'].items()))
    rows = []
    doc['table'] = rows

    def write() -> str:
        doc['machine']['pressure_end'] = pressure()
        doc['seconds'] = round(time.time() - started)
        (RESULTS / (name + '.json')).write_text(json.dumps(doc, indent=1, default=str))
        md = markdown(rows, doc['limits'])
        (RESULTS / (name + '.md')).write_text(md + '\n')
        m = doc['machine']
        chart(rows, doc['limits'], RESULTS / (name + '.png'),
              'Glint %s vs Glance %s, %s, %d x %s, %s' % (
                  doc['versions']['glint'], doc['versions']['glance'], doc['date'][:10],
                  m['nproc'], m['cpu'], 'quick' if QUICK else 'full'))
        return md

    for db in DATABASES:
        doc['results'][db] = run_database(db, path, meta)
        rows += rows_for(db, doc['results'][db], doc['limits'])
        print(markdown([r for r in rows if r['db'] == db], {}), flush=True)
        write()                          # a later failure keeps what was measured
    if STORES:
        log('Ceph stores %s: load average %s' % (','.join(STORES), os.getloadavg()))
        doc['config'].update(stores=STORES, store_rounds=STORE_ROUNDS,
                             store_download_rounds=STORE_DOWNLOAD_ROUNDS)
        doc['stores'] = run_stores(path, meta)
        store_table = store_rows(doc['stores'])
        rows += store_table
        print(markdown(store_table, {}), flush=True)
        write()
    if PROFILE and DATABASES:
        log('profiling one Glint upload with py-spy')
        try:
            doc['profile'] = profile_upload(path, meta)
        except Exception as e:           # recorded; the comparison stands without it
            doc['profile'] = {'error': repr(e)[-2000:]}
    md = write()
    print()
    print(md)
    if PROFILE:
        print_profile(doc.get('profile', {}))
    log('wrote %s, %s, %s in %d s' % (RESULTS / (name + '.json'), RESULTS / (name + '.md'),
                                       RESULTS / (name + '.png'), doc['seconds']))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    finally:
        WARM_FILE.unlink(missing_ok=True)      # fill_page_cache()'s
