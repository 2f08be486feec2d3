"""py-spy of one Glint upload and one download of the bench's file (BENCH_SIZE_MIB, 1 GiB
in full mode) through a Ceph store, with each worker thread's CPU and run-queue wait from
/proc; not part of `make bench`:

    BENCH_SIZE_MIB=1024 .state/bench/venv-tools/bin/python bench/profile_store.py rbd|s3

Raw py-spy stacks go to /tmp/prof-<store>-<upload|download>.txt; the image (and for s3
its bucket) is deleted at the end.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault('BENCH_SNAPSHOT', '0')
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402 (bench/run.py, after its environment)


def profiled(svc: run.Service, raw: str, transfer) -> tuple[dict, dict]:
    spy = subprocess.Popen(
        [str(run.TOOLS_BIN / 'py-spy'), 'record', '--pid', str(svc.process.pid),
         '--subprocesses', '--threads', '--nonblocking', '--rate', '200', '--format', 'raw',
         '--output', raw], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    time.sleep(2)
    with run.TaskSampler(svc.workers()) as tasks:
        res = transfer()
    time.sleep(0.3)
    spy.send_signal(signal.SIGINT)
    spy.wait(60)
    return res, tasks.deltas()


def report(label: str, res: dict, deltas: dict, raw: str) -> None:
    summary = run.summarize_profile(Path(raw), res['seconds'])
    names = summary.pop('names', {})
    print('== %s: %.0f MB/s, HTTP %d, load %.1f' % (label, res['mbps'], res['status'],
                                                  os.getloadavg()[0]))
    for tid, (user, system, wait) in sorted(deltas.items(), key=lambda kv: -sum(kv[1][:2])):
        if user + system > 0.05:
            print('   %-16s %-28s user %.2f sys %.2f runnable-waiting %.2f s' % (
                run.TASK_NAMES.get(tid, '?'), names.get(tid, '')[:28], user, system, wait))
    for key in ('categories', 'self'):
        for frame, _n, share, _wall in summary.get(key, [])[:10]:
            print('  %-10s %5.1f%%  %s' % (key, share, frame[:140]))


def main(store: str) -> int:
    ceph = run.ceph_settings()
    run.STATE = run.STATE / 'prof'
    path, _meta = run.data_file()
    bucket = 'bench-prof-%d' % os.getpid()
    svc = run.Service('glint', 'sqlite', 'prof%d' % os.getpid(), store,
                      run.store_options(store, ceph, bucket)).start()
    try:
        image_id = svc.api.create(1)
        raw = '/tmp/prof-%s-upload.txt' % store
        res, deltas = profiled(svc, raw, lambda: run.upload(svc.port, image_id, path, 0,
                                                            run.SIZE))
        report('%s upload' % store, res, deltas, raw)
        raw = '/tmp/prof-%s-download.txt' % store
        res, deltas = profiled(svc, raw, lambda: run.download(
            svc.port, '/v2/images/%s/file' % image_id))
        report('%s download' % store, res, deltas, raw)
        svc.api.call('DELETE', '/v2/images/' + image_id)
    finally:
        svc.cleanup()
        if store == 's3':
            env = dict(os.environ, S3_URL=ceph['GLINT_TEST_S3_URL'],
                       S3_ACCESS_KEY=ceph['GLINT_TEST_S3_ACCESS_KEY'],
                       S3_SECRET_KEY=ceph['GLINT_TEST_S3_SECRET_KEY'])
            subprocess.run([str(run.GLINT_VENV / 'bin' / 'python'), str(run.S3_CLIENT),
                            'purge', bucket], env=env, stdout=subprocess.DEVNULL)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
