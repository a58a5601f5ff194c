#!/usr/bin/env python3
"""Differential test of period reports (report --db --week, weekly), written
from the README's "Periods." text alone (not from the Go code). Reuses
oracle.py's rules: a week's report runs them over every call with ts before
end+W plus every untimed call, then keeps the findings whose offending calls
fall in the week (see period_of / offending below).

    python3 scripts/oracle/period.py FIRST_SEED COUNT OPS

Environment: IDEMAUDIT_BIN (default bin/idemaudit), KEEP=1 keeps corpora.
"""
import datetime, json, os, random, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import gen, oracle
oracle.UNTIMED_FIRST = True

BIN = os.environ.get('IDEMAUDIT_BIN', 'bin/idemaudit')
NS = 10**9
WEEK = 7 * 86400 * NS
BASE = int(datetime.datetime(2026, 11, 16, tzinfo=datetime.timezone.utc).timestamp()) * NS  # Monday, 2026-W47


def week_start(ns):
    return BASE + ((ns - BASE) // WEEK) * WEEK


def label(start):
    d = datetime.datetime.fromtimestamp(start // NS, datetime.timezone.utc)
    y, w, _ = d.isocalendar()
    return '%d-W%02d' % (y, w)


def rfc(ns):
    return datetime.datetime.fromtimestamp(ns // NS, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


STATUSES = ['ok', 200, 'timeout', 504, 422, 409, None, None, 'error', 201]
EFFECTS = ['created', 'noop', 'updated', None, None]
ACTIONS = ['charge_card', 'send_email', 'book_flight', 'create_ticket', 'provision_vm', 'post_slack_message']


def generate(seed, outdir, n_ops, W):
    """Returns [(now_ns, [paths in order])] ingest steps; writes the files step by step via a callback."""
    r = gen.R(seed)
    K = r.randint(3, 5)
    calls = []
    kc = [0]
    rc = [0]

    def key():
        kc[0] += 1
        return 'k%d' % kc[0]

    def rid(a):
        rc[0] += 1
        return '%s_%d' % (a[:3], rc[0])
    sessions = ['s1', 's2', 's3']
    rids = []
    for op in range(n_ops):
        a = r.choice(ACTIONS)
        if r.random() < 0.45:   # near a Monday 00:00
            b = BASE + r.randint(1, K - 1) * WEEK if K > 1 else BASE
            t = b + r.randint(-3 * W, W) // NS * NS + r.randint(0, 999) * 10**6
        else:
            t = BASE + r.randint(0, K * WEEK // NS - 1) * NS
        args = gen.gen_args(r, a, op) if r.random() < 0.9 else None
        sess = r.choice(sessions) if r.random() < 0.5 else None
        keyed = r.random() < 0.5
        k = key() if keyed else None
        unstable = keyed and r.random() < 0.2
        shared = rid(a)
        mode = r.random()
        for i in range(r.choice([1, 2, 2, 2, 3, 3, 4])):
            if i > 0:
                g = r.random()
                if g < 0.45:
                    t += r.randint(1, W // NS) * NS
                elif g < 0.55:
                    t += W
                elif g < 0.65:
                    t += W + NS
                elif g < 0.8 and keyed:
                    t += r.randint(1, 3) * WEEK + r.randint(-86400, 86400) * NS  # the key answered again weeks later
                else:
                    t += r.randint(W // NS, 3 * 3600) * NS
            c = {'action_type': a, 'ts': t}
            if r.random() < 0.1:
                c['ts'] = None
                c['ts_null'] = r.random() < 0.5
            if args is not None:
                c['args'] = args if r.random() < 0.93 else gen.gen_args(r, a, op)
            c['session'] = sess
            if keyed:
                c['key'] = key() if (unstable and i > 0) else k
            if mode < 0.35:
                c['rid'] = shared
            elif mode < 0.75:
                c['rid'] = rid(a)
            elif mode < 0.9:
                c['rid'] = shared if r.random() < 0.5 else None
            st = r.choice(STATUSES)
            if st is not None:
                c['status'] = st
            ef = r.choice(EFFECTS)
            if ef is not None:
                c['effect'] = ef
            calls.append(c)
            if c.get('rid') and c['ts'] is not None:
                rids.append((c['rid'], c['ts']))
        if rids and r.random() < 0.08:
            x, xt = r.choice(rids[-5:])
            calls.append({'action_type': r.choice(['refund_order', 'cancelBooking']), 'ts': xt + r.randint(1, 2 * W // NS) * NS,
                          'args': {'charge': x}, 'status': r.choice(['ok', 500]), 'rid': rid('ref')})
    # ingest steps: ascending --now; a timed call is read at the first step at or after its time (sometimes one later)
    tmax = max(c['ts'] for c in calls if c['ts'] is not None)
    nsteps = r.randint(2, 5)
    nows = sorted(BASE + r.randint(0, (tmax - BASE) // NS) * NS for _ in range(nsteps - 1))
    nows.append(tmax + r.randint(1, 3 * 86400) * NS)
    for c in calls:
        if c['ts'] is None:
            s = r.randrange(nsteps)
        else:
            s = next(i for i, n in enumerate(nows) if n >= c['ts'])
            if s < nsteps - 1 and r.random() < 0.2:
                s += 1
        c['step'] = s
    nfiles = r.randint(2, 4)
    for c in calls:
        c['file'] = r.randrange(nfiles)
    os.makedirs(outdir, exist_ok=True)
    parts = {}  # (file, step) -> lines
    for c in calls:
        parts.setdefault((c['file'], c['step']), []).append(gen.render_call(r, c))
    for v in parts.values():
        r.shuffle(v)
    steps = []
    for s in range(nsteps):
        paths = []
        for f in range(nfiles):
            p = os.path.join(outdir, 'f%d.jsonl' % f)
            new = parts.get((f, s), [])
            if not os.path.exists(p):
                if not new:
                    continue
                new = [gen.render_call(r, {'action_type': 'marker_%d_%d' % (seed, f), 'ts': BASE + f * NS, 'args': {'f': f}})] + new
            with open(p, 'a') as fh:
                for l in new:
                    fh.write(l + '\n')
            paths.append(p)
        steps.append((nows[s], paths, {p: sum(1 for _ in open(p)) for p in paths}))
        yield steps[-1]


def run(args, ok=(0, 1)):
    p = subprocess.run([BIN, *args], capture_output=True)
    if p.returncode not in ok:
        raise RuntimeError('%s rc=%d %s' % (args, p.returncode, p.stderr.decode()[:500]))
    return p


def introducers(full, newkey):
    """calls that bring something new: newkey(c, seen) -> token or None"""
    seen, out = set(), []
    for c in full:
        t = newkey(c)
        if t is not None and t not in seen:
            seen.add(t)
            out.append(c)
    return out


def offending(f):
    """The calls whose period the finding belongs to (README "Periods."); None = week of the first call."""
    full, rule = f['full'], f['rule']
    if rule == 'same-key-different-response':
        return introducers(full, lambda c: c.rid if c.outcome != 'rejected' and c.rid is not None else None)[1:]
    if rule in ('repeat-without-key', 'unstable-key'):
        if f['side_effects'] <= 1:
            return None
        ctr = [0]

        def se(c):
            if c.outcome == 'rejected':
                return None
            if c.rid is not None:
                return c.rid
            if oracle.is_noop(c.effect):
                return None
            ctr[0] += 1
            return ('norid', ctr[0])
        return introducers(full, se)[1:]
    if rule == 'retry-after-rejection':
        return None
    if rule == 'key-payload-mismatch':
        return introducers(full, lambda c: c.argsfp)[1:]
    if rule == 'non-noop-replay':
        out, seen = [], False
        for c in full:
            if c.outcome == 'rejected':
                continue
            if seen and c.effect is not None and not oracle.is_noop(c.effect):
                out.append(c)
            seen = True
        return out
    raise ValueError(rule)


def call_point(c, group):
    # an untimed call is placed at its ingest time (README "Periods"); the key
    # rules take untimed calls first, so one is offending only when untimed
    # calls make the finding among themselves
    return c.ts if c.ts is not None else c.itime


def expected(calls, start, W, view_end=None, end=None):
    end = start + WEEK if end is None else end
    inp = lambda t: start <= t < end

    def member(c, start):
        return inp(c.ts if c.ts is not None else c.itime)
    view_end = end if view_end is None else view_end
    view = [c for c in calls if c.ts is None or c.ts < view_end + W]
    res = oracle.audit_calls(view, set(), W)
    mine = [c for c in calls if member(c, start)]
    findings = []
    for f in res['findings']:
        if f['rule'] == 'missing-key':
            kl = [c for c in calls if c.action == f['action_type'] and c.key is None]
            ws = sorted({call_point(c, []) for c in kl})
            if any(inp(t) for t in ws):
                f['new'] = ws[0] >= start
                f['period_calls'] = sum(1 for c in kl if member(c, start))
                findings.append(f)
            continue
        off = offending(f)
        ps = sorted({call_point(c, f['full']) for c in off}) if off is not None else [call_point(f['full'][0], f['full'])]
        if any(inp(t) for t in ps):
            f['new'] = ps[0] >= start
            findings.append(f)
    fbs = {'critical': 0, 'high': 0, 'medium': 0, 'low': 0}
    for f in findings:
        fbs[f['severity']] += 1
    return dict(findings=findings, calls=len(mine), keyed=sum(1 for c in mine if c.key is not None),
                untimed=sum(1 for c in mine if c.ts is None), fbs=fbs, new=sum(1 for f in findings if f['new']))


def compare_week(exp, got, wl):
    diffs = []
    E, G = {}, {}
    for f in exp['findings']:
        E[(f['rule'], f['action_type'], f['evidence'] if f['rule'] != 'missing-key' else None)] = f
    for f in got['findings']:
        ev = frozenset((c['source'], c['line']) for c in f['calls'])
        G[(f['rule'], f['action_type'], ev if f['rule'] != 'missing-key' else None)] = f
    for k in E.keys() - G.keys():
        diffs.append((wl, 'missing', k[:2], sorted(k[2] or []), E[k]['severity'], 'new' if E[k]['new'] else 'recurring'))
    for k in G.keys() - E.keys():
        diffs.append((wl, 'extra', k[:2], sorted(k[2] or []), G[k]['severity'], 'new' if G[k]['new'] else 'recurring'))
    for k in E.keys() & G.keys():
        e, g = E[k], G[k]
        for n, a, b in (('severity', e['severity'], g['severity']), ('new', e['new'], g['new']),
                        ('side_effects', e['side_effects'], g.get('side_effects')), ('outcomes', e['outcomes'], g.get('outcomes'))):
            if k[0] == 'missing-key' and n in ('side_effects', 'outcomes'):
                continue
            if a != b:
                diffs.append((wl, n, k[:2], sorted(k[2] or []), 'exp=%s got=%s' % (a, b)))
        if k[0] == 'missing-key' and e['period_calls'] != g['calls_total']:
            diffs.append((wl, 'mk-total', k[:2], 'exp(period keyless)=%s got=%s (all keyless in view=%s)' % (e['period_calls'], g['calls_total'], e['calls_total'])))
    s = got['summary']
    for n, a, b in (('calls', exp['calls'], s['calls']), ('keyed', exp['keyed'], s['keyed_calls']),
                    ('untimed', exp['untimed'], s['untimed_calls']), ('fbs', exp['fbs'], s['findings_by_severity']),
                    ('new_findings', exp['new'], s.get('new_findings'))):
        if a != b:
            diffs.append((wl, 'summary', n, 'exp=%s got=%s' % (a, b)))
    return diffs


def check(seed, n_ops, tmp):
    r = random.Random(seed * 7 + 1)
    W = r.choice([600, 45]) * NS
    d = os.path.join(tmp, 'c%d' % seed)
    shutil.rmtree(d, ignore_errors=True)
    db = os.path.join(d, 'audit.duckdb')
    steps = []
    cmds = []
    for i, (now, paths, nlines) in enumerate(generate(seed, os.path.join(d, 'logs'), n_ops, W)):
        cmd = ['ingest', '--db', db, '--config', '/dev/null', '-q', '--now', rfc(now), *paths]
        run(cmd, ok=(0,))
        cmds.append(cmd)
        steps.append((now, nlines))
    # oracle: read the final files; each line's ingest time = the step that first saw it
    calls, malformed = [], set()
    paths = sorted(steps[-1][1])
    for rank, p in enumerate(paths):
        with open(p, 'rb') as fh:
            read_source(p, fh.read(), rank, calls, malformed)
    for c in calls:
        for si, (now, nl) in enumerate(steps):
            if c.source in nl and c.line <= nl[c.source]:
                c.itime = now
                c.iseq = si * 100 + sorted(nl).index(c.source)
                break
    weeks = sorted({week_start(c.ts) if c.ts is not None else week_start(c.itime) for c in calls})
    weeks = list(range(weeks[0], weeks[-1] + WEEK, WEEK))
    now = rfc(steps[-1][0] + 8 * 86400 * NS)
    diffs = []
    exps = {w: expected(calls, w, W) for w in weeks}
    ntr = len(weeks)
    seen_ids = {}
    for w in weeks:
        cmd = ['report', '--db', db, '--config', '/dev/null', '--week', label(w), '-f', 'json', '--now', now,
               '--window', '%ds' % (W // NS), '--max-evidence', '0', '--trend', str(ntr)]
        got = json.loads(run(cmd).stdout)
        diffs += compare_week(exps[w], got, label(w))
        for t in got.get('trend', []):
            ws = [x for x in weeks if label(x) == t['label']]
            if not ws:
                if t['calls']:
                    diffs.append((label(w), 'trend-unknown-week', t['label'], t['calls']))
                continue
            e = exps[ws[0]]
            if (t['calls'], t['keyed_calls'], t['findings_by_severity']) != (e['calls'], e['keyed'], e['fbs']):
                # README: an earlier week's row is computed with the calls this report sees
                alt = expected(calls, ws[0], W, view_end=w + WEEK)
                if (t['calls'], t['keyed_calls'], t['findings_by_severity']) != (alt['calls'], alt['keyed'], alt['fbs']):
                    diffs.append((label(w), 'trend', t['label'], 'exp=%s got=%s' % ((alt['calls'], alt['keyed'], alt['fbs']),
                                                                                    (t['calls'], t['keyed_calls'], t['findings_by_severity']))))
        for f in got['findings']:
            seen_ids.setdefault(f['id'], []).append(label(w))
    # a few periods that are not weeks: --since/--until
    rr = random.Random(seed)
    for _ in range(2):
        a = weeks[0] + rr.randint(0, (weeks[-1] - weeks[0]) // NS) * NS
        b = a + rr.randint(3600, 20 * 86400) * NS
        got = json.loads(run(['report', '--db', db, '--config', '/dev/null', '--since', rfc(a), '--until', rfc(b), '-f', 'json',
                              '--now', now, '--window', '%ds' % (W // NS), '--max-evidence', '0']).stdout)
        diffs += compare_week(expected(calls, a // NS * NS, W, view_end=b, end=b), got, rfc(a) + '..' + rfc(b))
    # every finding of the whole database (audit of all the files) should be in some weekly report
    full = json.loads(run(['audit', '--config', '/dev/null', '-f', 'json', '-q', '--window', '%ds' % (W // NS), *paths]).stdout)
    for f in full['findings']:
        if f['rule'] == 'non-noop-replay' and any(c['ts'] is None for c in f['calls']):
            continue  # README: an audit takes untimed calls last, a period report at their ingest time
        if f['id'] not in seen_ids:
            diffs.append(('all', 'in-no-weekly-report', f['rule'], f['severity'], f['action_type'], f['idempotency_key'],
                          [(c['source'][-8:], c['line'], c['ts'], c['response_id'], c['outcome']) for c in f['calls']]))
    return diffs, len(weeks), sum(len(e['findings']) for e in exps.values()), W, d, cmds


read_source = oracle.read_source

if __name__ == '__main__':
    start, count, nops = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix='idemaudit-period-')
    bad = nweeks = nf = 0
    for seed in range(start, start + count):
        diffs, nw, n, W, d, cmds = check(seed, nops, tmp)
        nweeks += nw
        nf += n
        if diffs:
            bad += 1
            print('seed', seed, 'W=%ds' % (W // NS), 'weeks', nw, 'dir', d)
            for x in diffs[:15]:
                print('   ', x)
        elif not os.environ.get('KEEP'):
            shutil.rmtree(d, ignore_errors=True)
    print('corpora', count, 'weeks', nweeks, 'expected findings', nf, 'disagreeing corpora', bad)
