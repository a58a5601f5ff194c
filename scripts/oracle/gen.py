#!/usr/bin/env python3
"""Random generator of realistic idemaudit corpora (JSONL, several files, some gzipped)."""
import datetime
import gzip
import json
import os
import random
import sys

NS = 10**9
SPREAD = int(os.environ.get('SPREAD', 4 * 3600))
W = 600 * NS
BASE = int(datetime.datetime(2026, 11, 16, 8, 0, 0, tzinfo=datetime.timezone.utc).timestamp()) * NS

ACTIONS = ['charge_card', 'send_email', 'book_flight', 'create_ticket', 'provision_vm', 'post_slack_message',
           'get_customer', 'update_crm', 'créer_facture', 'refund_order', 'cancelBooking', 'VoidInvoice',
           'delete-record', 'refunds_log', 'cancellation_notice']
COMPS = ['refund_order', 'cancelBooking', 'VoidInvoice', 'delete-record', 'undo_send', 'refundCharge']
STATUSES = ['ok', 'error', 'timeout', 200, 201, 409, 422, 500, 504, '200', '409', '422', '500', '504', 'OK ',
            ' Rejected', 'weird', 408, '408', 429, 200.0, 'conflict', 'pending', 'done', 302, 'success']
EFFECTS = ['created', 'noop', 'updated', 'deleted', 'no-op', 'NOOP', 'none', ' noop ', 'no_op', 'sent']


class R:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def __getattr__(self, n):
        return getattr(self.r, n)


def num_text(r, v):
    """Render a number in various equivalent JSON forms."""
    if isinstance(v, int):
        c = r.random()
        if c < 0.6 or v == 0:
            return str(v)
        if c < 0.75:
            return '%d.0' % v
        if c < 0.85:
            return '%d.00' % v
        s = str(abs(v))
        z = len(s) - len(s.rstrip('0'))
        if z > 0:
            m = s.rstrip('0')
            return ('-' if v < 0 else '') + m + r.choice(['e', 'E', 'e+']) + str(z)
        return str(v) + 'e0'
    # float given as string decimal text
    return v


def str_text(r, s):
    if r.random() < 0.3:
        return json.dumps(s, ensure_ascii=True)
    return json.dumps(s, ensure_ascii=False)


def ws(r):
    return r.choice(['', '', '', ' ', '  ', '\t'])


def val_text(r, v, pretty=True):
    if isinstance(v, dict):
        items = list(v.items())
        if r.random() < 0.5:
            r.shuffle(items)
        return '{' + ws(r) + (',' + ws(r)).join(str_text(r, k) + ws(r) + ':' + ws(r) + val_text(r, x) for k, x in items) + ws(r) + '}'
    if isinstance(v, list):
        return '[' + ws(r) + (',' + ws(r)).join(val_text(r, x) for x in v) + ws(r) + ']'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if v is None:
        return 'null'
    if isinstance(v, int):
        return num_text(r, v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return str_text(r, v)
    raise TypeError(v)


def iso(ns, r):
    """Render instant ns in a random RFC 3339 form."""
    sec, frac = divmod(ns, NS)
    off_choice = r.random()
    if off_choice < 0.5:
        off, zone = 0, r.choice(['Z', 'Z', 'z'])
    elif off_choice < 0.6:
        off, zone = 0, ''
    else:
        h = r.choice([-5, 1, 2, 9, 5])
        m = r.choice([0, 0, 30]) if h in (5, 9) else 0
        off = (abs(h) * 3600 + m * 60) * (1 if h >= 0 else -1)
        sg = '+' if h >= 0 else '-'
        fm = r.random()
        if m == 0 and fm < 0.2:
            zone = '%s%02d' % (sg, abs(h))
        elif fm < 0.5:
            zone = '%s%02d%02d' % (sg, abs(h), m)
        else:
            zone = '%s%02d:%02d' % (sg, abs(h), m)
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=sec + off)
    sep = r.choice(['T', 'T', 'T', 't', ' '])
    s = dt.strftime('%Y-%m-%d') + sep + dt.strftime('%H:%M:%S')
    if frac or r.random() < 0.2:
        f = '%09d' % frac
        fc = r.random()
        if fc < 0.3:
            f = f.rstrip('0') or '0'
        elif fc < 0.5:
            f = f + str(r.randint(0, 999))  # extra digits, truncated
        s += '.' + f
    return s + zone


def ts_text(r, ns):
    c = r.random()
    sec, frac = divmod(ns, NS)
    if c < 0.55:
        return json.dumps(iso(ns, r))
    if c < 0.65:
        if frac == 0:
            return str(sec)
        return '%d.%s' % (sec, ('%09d' % frac).rstrip('0'))
    if c < 0.75:
        ms, rest = divmod(ns, 10**6)
        if rest == 0:
            return str(ms)
        return '%d.%s' % (ms, ('%06d' % rest).rstrip('0'))
    if c < 0.8:
        us, rest = divmod(ns, 10**3)
        if rest == 0:
            return str(us)
        return '%d.%s' % (us, ('%03d' % rest).rstrip('0'))
    if c < 0.85:
        return str(ns)
    if c < 0.9:
        if frac == 0:
            return '"%d"' % sec
        return '"%d.%s"' % (sec, ('%09d' % frac).rstrip('0'))
    if c < 0.95 and frac == 0:
        # exponent form of seconds
        return str(sec) + '.0'
    return json.dumps(iso(ns, r))


def id_text(r, v):
    """key/response ids: v is str; sometimes a numeric string emitted as a JSON number."""
    if v is None:
        return r.choice(['null', None, '""'])
    if v.isdigit() and not v.startswith('0') and r.random() < 0.5:
        return num_text(r, int(v))
    return str_text(r, v)


def gen_args(r, action, i):
    base = {
        'charge_card': lambda: {'customer': 'cus_%d' % r.randint(1, 6), 'amount': r.choice([2000, 1999, 500, 0]),
                                'currency': r.choice(['usd', 'eur'])},
        'send_email': lambda: {'to': r.choice(['ana@x.io', 'bo@y.io', 'zoë@ü.de']), 'subject': r.choice(['Hi', 'Réunion ☕', 'Invoice']),
                               'cc': r.choice([[], ['a@b.c'], ['a@b.c', 'd@e.f']])},
        'book_flight': lambda: {'passenger': {'name': r.choice(['Ana', 'Bo']), 'dob': '1990-01-01'},
                                'flights': [r.choice(['LH1', 'BA2', 'AF3'])], 'seats': r.choice([1, 2])},
        'create_ticket': lambda: {'title': r.choice(['Disk full', 'Login broken', '中文 ticket']), 'priority': r.choice([1, 2, 3])},
        'provision_vm': lambda: {'size': r.choice(['s', 'm']), 'region': r.choice(['eu', 'us']), 'tags': {'env': r.choice(['prod', 'dev'])}},
        'post_slack_message': lambda: {'channel': r.choice(['#ops', '#dev']), 'text': r.choice(['deploy done', 'oops', 'été'])},
        'get_customer': lambda: {'id': 'cus_%d' % r.randint(1, 4)},
        'update_crm': lambda: {'contact': r.randint(1, 4), 'fields': {'stage': r.choice(['lead', 'won']), 'score': r.choice([1.5, 2, 10])}},
        'créer_facture': lambda: {'montant': r.choice([100, 250]), 'client': r.choice(['A', 'B'])},
        'refunds_log': lambda: {'n': r.randint(1, 3)},
        'cancellation_notice': lambda: {'n': r.randint(1, 3)},
    }
    f = base.get(action)
    if f is None:
        return {'x': r.randint(1, 3)}
    return f()


def render_call(r, c):
    """c: dict of logical values; returns line text."""
    parts = []
    if c.get('ts') is not None:
        parts.append(('ts', ts_text(r, c['ts'])))
    elif c.get('ts_null'):
        parts.append(('ts', 'null'))
    parts.append(('action_type', str_text(r, c['action_type'])))
    k = c.get('key')
    kt = id_text(r, k) if k is not None else r.choice([None, None, 'null', '""'])
    if kt is not None:
        parts.append(('idempotency_key', kt))
    rid = c.get('rid')
    rt = id_text(r, rid) if rid is not None else r.choice([None, None, 'null', '""'])
    if rt is not None:
        parts.append(('response_id', rt))
    if c.get('session') is not None:
        parts.append(('session_id', str_text(r, c['session'])))
    if 'args' in c:
        a = c['args']
        if a is None:
            parts.append(('args', 'null'))
        elif isinstance(a, (dict, list)) and r.random() < 0.1:
            parts.append(('args', json.dumps(json.dumps(a, ensure_ascii=False), ensure_ascii=False)))
        else:
            parts.append(('args', val_text(r, a)))
    if c.get('status') is not None:
        st = c['status']
        parts.append(('status', json.dumps(st) if not isinstance(st, float) else '200.0'))
    if c.get('effect') is not None:
        parts.append(('effect', str_text(r, c['effect'])))
    if c.get('dur') is not None:
        parts.append(('duration_ms', str(c['dur'])))
    if r.random() < 0.2:
        parts.append(('span_id', json.dumps('sp_%06x' % r.getrandbits(24))))
    if r.random() < 0.1:
        parts.append(('extra_field', '{"nested":[1,2,{"a":null}]}'))
    if r.random() < 0.5:
        r.shuffle(parts)
    return '{' + (',' + ws(r)).join('"%s"%s:%s%s' % (k, ws(r), ws(r), v) for k, v in parts) + '}'


MALFORMED = [
    lambda r, line: line[: max(1, len(line) // 2)],                     # truncated
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","args":{"a":1}}',     # no action_type
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":""}',
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":null}',
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":42}',
    lambda r, line: '{"ts":"yesterday","action_type":"send_email"}',
    lambda r, line: '{"ts":"2026-13-45T09:00:00Z","action_type":"send_email"}',
    lambda r, line: '{"ts":true,"action_type":"send_email"}',
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":"send_email","args":{"a":NaN}}',
    lambda r, line: '{"action_type":"send_email","args":{"a":1,},}',
    lambda r, line: "{'action_type':'send_email'}",
    lambda r, line: '"just a string"',
    lambda r, line: '42',
    lambda r, line: 'not json at all',
    lambda r, line: b'{"action_type":"send_\xff_email"}',
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":"x"}}',
    lambda r, line: '{"ts":1e30,"action_type":"send_email"}',
    lambda r, line: '{"ts":"1700-01-01T00:00:00Z","action_type":"send_email"}',
    lambda r, line: '{"ts":"2026-11-16T09:00:00Z","action_type":"send_email","args":{"a":01}}',
    lambda r, line: '{"action_type":"a\tb"}',
]

FIRST_BAD = [
    lambda r, line: line + ',',
    lambda r, line: line + ' x',
    lambda r, line: line + '}',
    lambda r, line: line + line,
    lambda r, line: '[',
]


def generate(seed, outdir, n_ops=40, n_files=3, first_bad=0.0):
    r = R(seed)
    os.makedirs(outdir, exist_ok=True)
    calls = []
    T = BASE + r.randint(0, 3600) * NS
    rid_ctr = [0]
    key_ctr = [0]

    def new_rid(action):
        rid_ctr[0] += 1
        if r.random() < 0.08:
            return str(1000 + rid_ctr[0])  # numeric-looking id
        return '%s_%d' % (action[:3], rid_ctr[0])

    def new_key():
        key_ctr[0] += 1
        if r.random() < 0.08:
            return str(5000 + key_ctr[0])
        return r.choice(['k', 'idem-', 'ключ-', 'chg_']) + str(key_ctr[0])

    sessions = ['sess_%d' % i for i in range(1, 5)]
    produced_rids = []
    for op in range(n_ops):
        action = r.choice(ACTIONS)
        t = T + r.randint(0, SPREAD) * NS + r.randint(0, 999) * 10**6 * (0 if r.random() < 0.3 else 1)
        style = r.random()
        args_mode = r.random()
        args = gen_args(r, action, op)
        session = r.choice(sessions) if r.random() < 0.6 else None
        keyed = r.random() < 0.55
        key = new_key() if keyed else None
        n_att = r.choice([1, 1, 2, 2, 2, 3, 4])
        rid_mode = r.random()
        shared_rid = new_rid(action)
        for a in range(n_att):
            c = {'action_type': action}
            if a > 0:
                g = r.random()
                if g < 0.3:
                    t += r.randint(1, 60) * NS
                elif g < 0.4:
                    t += W  # exactly the window
                elif g < 0.48:
                    t += W + r.choice([1, 10**6, NS])  # just beyond
                elif g < 0.55:
                    t += 0  # tie
                elif g < 0.7:
                    t += r.randint(60, 590) * NS + r.randint(0, 10**9)
                elif g < 0.85:
                    t += r.randint(11 * 60, 3 * 3600) * NS
                else:
                    t += r.randint(1, 500) * 10**6
            if r.random() < 0.04:
                c['ts'] = None
                c['ts_null'] = r.random() < 0.5
            else:
                c['ts'] = t
            if args_mode < 0.8:
                c['args'] = args
                if r.random() < 0.08:
                    c['args'] = gen_args(r, action, op)  # payload changed
            elif args_mode < 0.85:
                c['args'] = None
            # else: args absent
            c['session'] = session
            if keyed:
                if style < 0.2 and a > 0:
                    c['key'] = new_key()  # unstable key
                elif r.random() < 0.05:
                    c['key'] = None
                else:
                    c['key'] = key
            if rid_mode < 0.4:
                c['rid'] = shared_rid
            elif rid_mode < 0.7:
                c['rid'] = new_rid(action)
            elif rid_mode < 0.85:
                c['rid'] = shared_rid if r.random() < 0.5 else None
            else:
                c['rid'] = None
            if r.random() < 0.8:
                c['status'] = r.choice(STATUSES)
            if r.random() < 0.7:
                c['effect'] = r.choice(EFFECTS) if a > 0 else r.choice(['created', 'created', 'updated', 'noop'])
            if r.random() < 0.2:
                c['dur'] = r.choice([120, 30000, 5000.5])
            calls.append(c)
            if c.get('rid'):
                produced_rids.append((c['rid'], c.get('ts')))
        # compensation
        if produced_rids and r.random() < 0.12:
            rid, rt = r.choice(produced_rids[-6:])
            comp = r.choice(COMPS)
            ct = (rt if rt is not None else t) + r.choice([r.randint(1, 900) * NS, -r.randint(1, 60) * NS, 0])
            calls.append({'action_type': comp, 'ts': ct, 'args': r.choice([{'charge': rid}, {'ids': [rid, 'x y']}, {'meta': {'ref': rid}, 'n': 1}]),
                          'status': r.choice(['ok', 200, 'ok', 500, 422, None]), 'rid': new_rid(comp) if r.random() < 0.7 else None,
                          'key': new_key() if r.random() < 0.3 else None})
    # distribute calls over files, sorted by time within a file mostly
    files = [[] for _ in range(n_files)]
    for c in calls:
        files[r.randrange(n_files)].append(c)
    paths = []
    for fi, fc in enumerate(files):
        if r.random() < 0.7:
            fc.sort(key=lambda c: c.get('ts') or 0)
        lines = []
        if r.random() < first_bad:
            lines.append(r.choice(FIRST_BAD)(r, render_call(r, {'action_type': 'send_email', 'ts': T, 'args': {'z': 1}})))
        lines.append(render_call(r, {'action_type': 'file_marker_%d_%d' % (seed, fi), 'ts': T, 'args': {'f': fi}}))
        for c in fc:
            while r.random() < 0.05:
                lines.append(r.choice(['', '   ', '\t', '\x0c']))
            line = render_call(r, c)
            if r.random() < 0.04:
                bad = r.choice(MALFORMED)(r, line)
                lines.append(bad)
            lines.append(line)
        enc = []
        for l in lines:
            enc.append(l if isinstance(l, bytes) else l.encode('utf-8'))
        crlf = r.random() < 0.15
        data = (b'\r\n' if crlf else b'\n').join(enc)
        if r.random() < 0.8:
            data += b'\r\n' if crlf else b'\n'
        if r.random() < 0.1:
            data = b'\xef\xbb\xbf' + data
        gz = r.random() < 0.3
        name = 'f%d.jsonl' % fi + ('.gz' if gz else '')
        if gz and r.random() < 0.3:
            name = 'f%d.log' % fi  # gzip by magic bytes
        p = os.path.join(outdir, name)
        with open(p, 'wb') as f:
            f.write(gzip.compress(data, mtime=0) if gz else data)
        paths.append(p)
    return sorted(paths)


if __name__ == '__main__':
    print('\n'.join(generate(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 40)))
