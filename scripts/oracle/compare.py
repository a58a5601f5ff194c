#!/usr/bin/env python3
"""Differential test: random corpora (gen.py), the independent oracle
(oracle.py, written from issue 2's spec and the README alone, not from the
Go code) and idemaudit; prints every disagreement.

    python3 scripts/oracle/compare.py FIRST_SEED COUNT CALLS_PER_FILE

Environment: IDEMAUDIT_BIN (default bin/idemaudit), WINDOW_S (600),
FIRST_BAD (the share of files whose first line is broken), SPREAD (seconds
the calls spread over). `make oracle` runs 100 corpora.
"""
import json, os, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import gen, oracle

BIN = os.environ.get('IDEMAUDIT_BIN', 'bin/idemaudit')
FIRST_BAD = float(os.environ.get('FIRST_BAD', '0'))


def run_tool(paths, extra=()):
    p = subprocess.run([BIN, 'audit', '--config', '/dev/null', '-f', 'json', '--max-evidence', '0', '-q', *extra, *paths],
                       capture_output=True)
    if p.returncode not in (0, 1):
        raise RuntimeError('rc=%d %s' % (p.returncode, p.stderr.decode()[:500]))
    return json.loads(p.stdout)


def fkey(rule, action, ev):
    return (rule, action, ev)


def compare(paths, verbose=True):
    exp = oracle.audit(paths, W=int(os.environ.get('WINDOW_S', 600)) * 10**9)
    got = run_tool(paths, ('--window', os.environ.get('WINDOW_S', '600') + 's'))
    E = {}
    for f in exp['findings']:
        k = (f['rule'], f['action_type'], f['evidence'] if f['rule'] != 'missing-key' else f['calls_total'])
        E[k] = f
    G = {}
    for f in got['findings']:
        ev = frozenset((c['source'], c['line']) for c in f['calls'])
        k = (f['rule'], f['action_type'], ev if f['rule'] != 'missing-key' else f['calls_total'])
        G[k] = f
    diffs = []
    for k in E.keys() - G.keys():
        diffs.append(('missing', k, E[k]['severity']))
    for k in G.keys() - E.keys():
        diffs.append(('extra', k, G[k]['severity']))
    for k in E.keys() & G.keys():
        if E[k]['severity'] != G[k]['severity']:
            diffs.append(('severity', k, 'exp=%s got=%s' % (E[k]['severity'], G[k]['severity'])))
        if E[k]['side_effects'] != G[k].get('side_effects'):
            diffs.append(('side_effects', k, 'exp=%s got=%s' % (E[k]['side_effects'], G[k].get('side_effects'))))
        if E[k]['outcomes'] != G[k].get('outcomes'):
            diffs.append(('outcomes', k, 'exp=%s got=%s' % (E[k]['outcomes'], G[k].get('outcomes'))))
        if E[k]['remaining'] is not None and E[k]['remaining'] != G[k].get('extra_side_effects_remaining'):
            diffs.append(('remaining', k, 'exp=%s got=%s' % (E[k]['remaining'], G[k].get('extra_side_effects_remaining'))))
        if k[0] == 'missing-key' and E[k]['evidence'] != frozenset((c['source'], c['line']) for c in G[k]['calls']):
            diffs.append(('mk-evidence', k, ''))
    # ordering: severity, then time of first call, then source and line
    rank = {'critical': 0, 'high': 1, 'medium': 2, 'low': 3}
    def okey(f):
        c = f['calls'][0] if f['calls'] else None
        return (rank[f['severity']], c['ts'] is None if c else True, oracle.parse_ts(c['ts']) or 0 if c else 0, c['source'] if c else '', c['line'] if c else 0)
    ks = [okey(f) for f in got['findings']]
    for i in range(1, len(ks)):
        if ks[i] < ks[i-1]:
            diffs.append(('order', i, '%s after %s' % (ks[i], ks[i-1])))
    gm = {(m['source'], m['line']) for m in got['malformed']}
    for m in exp['malformed'] - gm:
        diffs.append(('malformed-missing', m, ''))
    for m in gm - exp['malformed']:
        diffs.append(('malformed-extra', m, [x['error'] for x in got['malformed'] if (x['source'], x['line']) == m]))
    ga = {a['action_type']: a for a in got['actions']}
    for act, a in exp['actions'].items():
        g = ga.get(act)
        if g is None or (g['calls'], g['keyed_calls'], g['findings'], g['score']) != (a['calls'], a['keyed'], a['findings'], a['score']):
            diffs.append(('action', act, 'exp=%s got=%s' % ((a['calls'], a['keyed'], a['findings'], a['score']), g and (g['calls'], g['keyed_calls'], g['findings'], g['score']))))
    s = got['summary']
    for a, b, n in ((exp['calls'], s['calls'], 'calls'), (exp['keyed'], s['keyed_calls'], 'keyed'),
                    (exp['unfingerprinted'], s['unfingerprinted_calls'], 'unfp'), (exp['untimed'], s['untimed_calls'], 'untimed')):
        if a != b:
            diffs.append(('summary', n, 'exp=%s got=%s' % (a, b)))
    return diffs, len(E), len(G)


if __name__ == '__main__':
    start, count, nops = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    bad = 0
    tot = 0
    tmp = tempfile.mkdtemp(prefix='idemaudit-oracle-')
    for seed in range(start, start + count):
        d = os.path.join(tmp, 'c%d' % seed)
        shutil.rmtree(d, ignore_errors=True)
        paths = gen.generate(seed, d, nops, 1 + seed % 4, first_bad=FIRST_BAD)
        diffs, ne, ng = compare(paths)
        tot += ne
        if diffs:
            bad += 1
            print('seed', seed, 'findings exp', ne, 'got', ng)
            for x in sorted(diffs, key=str)[:12]:
                print('   ', x)
        else:
            shutil.rmtree(d, ignore_errors=True)
    print('corpora', count, 'disagreeing', bad, 'expected findings', tot)
    if bad:
        print('the disagreeing corpora are kept in', tmp)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
