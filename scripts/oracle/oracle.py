#!/usr/bin/env python3
"""Independent oracle for idemaudit, written from the spec (issue 2) and README text only.

Default settings: no configuration, window W (default 10m), every call listed.
Output: dict with 'findings' (list of dicts: rule, severity, action_type,
idempotency_key, evidence (set of (source,line)), calls_total) and
'malformed' (set of (source,line)).
"""
import gzip
sys_rl = None
import json
import re
import sys
import datetime
from decimal import Decimal

NS = 10**9
sys.setrecursionlimit(20000)
W_DEFAULT = 600 * NS

# Options to toggle interpretations where the text is ambiguous.
OPTS = {
    # retry-after-rejection: require rejected calls to come before the one that went through
    'rar_order': True,
}


class Bad(Exception):
    pass


def _const(x):
    raise Bad('constant %s' % x)


def loads(s):
    return json.loads(s, parse_float=Decimal, parse_int=Decimal, parse_constant=_const)


def canon_num(d):
    """Canonical exact form of a Decimal: (sign, digits, exp) with trailing zeros stripped."""
    if not d.is_finite():
        raise Bad('non-finite')
    sign, digits, exp = d.as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    if digits == [0]:
        return '0'
    return '%s%se%d' % ('-' if sign else '', ''.join(map(str, digits)), exp)


def canon(v):
    if isinstance(v, dict):
        return ('o', tuple(sorted((k, canon(x)) for k, x in v.items())))
    if isinstance(v, list):
        return ('a', tuple(canon(x) for x in v))
    if isinstance(v, bool):
        return ('b', v)
    if v is None:
        return ('z',)
    if isinstance(v, Decimal):
        return ('n', canon_num(v))
    if isinstance(v, str):
        return ('s', v)
    raise Bad('type')


def id_value(v):
    """idempotency_key / response_id / session_id: string or number; None = absent."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v != '' else None
    if isinstance(v, Decimal):
        # canonical number id; compare with strings ("42" == 42)
        c = canon_num(v)
        return ('NUM', c)
    return ('OTHER', json.dumps(canon(v)))


def norm_id(x):
    """Make numeric ids comparable with strings: number 42 == "42"."""
    if isinstance(x, tuple) and x[0] == 'NUM':
        d = Decimal(x[1].replace('e', 'E')) if 'e' in x[1] else Decimal(x[1])
        # plain form for integers / decimals with small exponent (exponent only from 1e21)
        if d == d.to_integral_value() and abs(d) < Decimal(10) ** 21:
            return str(int(d))
        s = format(d.normalize(), 'f') if abs(d) < Decimal(10) ** 21 else None
        if s is not None:
            return s
        return x[1]
    return x


RFC = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2})?$')
NUMSTR = re.compile(r'^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$')
EPOCH0 = datetime.datetime(1970, 1, 1)
MINNS = (datetime.datetime(1800, 1, 1) - EPOCH0) // datetime.timedelta(microseconds=1) * 1000
MAXNS = (datetime.datetime(2200, 1, 1) - EPOCH0) // datetime.timedelta(microseconds=1) * 1000


def epoch_ns(d):
    a = abs(d)
    if a < Decimal('1e12'):
        m = NS
    elif a < Decimal('1e15'):
        m = 10**6
    elif a < Decimal('1e18'):
        m = 10**3
    else:
        m = 1
    v = d * m
    # truncate toward zero beyond ns
    return int(v)


def parse_ts(v):
    """Returns ns since epoch, or None for untimed; raises Bad."""
    if v is None:
        return None
    if isinstance(v, Decimal):
        ns = epoch_ns(v)
    elif isinstance(v, str):
        m = RFC.match(v)
        if m:
            y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
            frac = m.group(7)
            zone = m.group(8)
            leap = 0
            if s == 60:
                s, leap = 59, 1
            try:
                dt = datetime.datetime(y, mo, d, h, mi, s) + datetime.timedelta(seconds=leap)
            except ValueError:
                raise Bad('bad date')
            off = 0
            if zone and zone not in 'Zz':
                sg = -1 if zone[0] == '-' else 1
                z = zone[1:].replace(':', '')
                hh = int(z[:2])
                mm = int(z[2:4]) if len(z) >= 4 else 0
                if hh > 23 or mm > 59:
                    raise Bad('bad offset')
                off = sg * (hh * 3600 + mm * 60)
            ns = ((dt - EPOCH0) // datetime.timedelta(seconds=1) - off) * NS
            if frac:
                f = frac[1:][:9].ljust(9, '0')
                ns += int(f)
        elif NUMSTR.match(v):
            ns = epoch_ns(Decimal(v))
        else:
            raise Bad('ts')
    else:
        raise Bad('ts type')
    if ns < MINNS or ns >= MAXNS:
        raise Bad('ts range')
    return ns


NOOP = {'noop', 'no-op', 'no_op', 'none'}
APPLIED_W = set('ok success succeeded successful completed complete done created applied accepted executed'.split())
REJECTED_W = set('''rejected invalid invalid_request invalid_argument invalid_params validation_error
validation_failed bad_request unauthorized unauthenticated forbidden permission_denied not_found conflict
already_exists failed_precondition precondition_failed out_of_range unprocessable unprocessable_entity
denied refused declined rate_limited too_many_requests resource_exhausted'''.split())
UNKNOWN_W = set('''timeout timed_out deadline_exceeded error failed failure unavailable internal internal_error
server_error unknown aborted cancelled canceled pending in_progress'''.split())


def http_class(code):
    if 200 <= code <= 299:
        return 'applied'
    if 400 <= code <= 499:
        return 'rejected' if code != 408 else 'unknown'
    if 100 <= code <= 199 or 300 <= code <= 399 or 500 <= code <= 599:
        return 'unknown'
    return None


def status_outcome(st):
    if st is None:
        return None
    if isinstance(st, bool):
        return None
    if isinstance(st, Decimal):
        if st == st.to_integral_value():
            return http_class(int(st))
        return None
    if isinstance(st, str):
        t = st.strip().lower()
        if re.fullmatch(r'\d{3}', t):
            return http_class(int(t))
        if t in APPLIED_W:
            return 'applied'
        if t in REJECTED_W:
            return 'rejected'
        if t in UNKNOWN_W:
            return 'unknown'
    return None


def is_noop(effect):
    return isinstance(effect, str) and effect.strip().lower() in NOOP


COMP_PREFIXES = ['cancel', 'refund', 'void', 'delete', 'revert', 'undo']


def is_compensating(action):
    for p in COMP_PREFIXES:
        if action.startswith(p + '_') or action.startswith(p + '-'):
            return True
        P = p[0].upper() + p[1:]
        for q in (p, P):
            if action.startswith(q) and len(action) > len(q) and action[len(q)].isupper() and action[len(q)].isascii():
                return True
    return False


def string_values(v, out):
    if isinstance(v, dict):
        for x in v.values():
            string_values(x, out)
    elif isinstance(v, list):
        for x in v:
            string_values(x, out)
    elif isinstance(v, str):
        b = v.encode('utf-8', 'surrogatepass')
        if 1 <= len(b) <= 128 and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in v):
            out.add(v)
    return out


UNTIMED_FIRST = False  # period reports take untimed calls as a key's earliest (period.py sets it)


class Call:
    __slots__ = ('source', 'srank', 'line', 'ts', 'action', 'key', 'rid', 'session', 'args_present', 'fp',
                 'argsfp', 'status', 'effect', 'outcome', 'strings', 'iseq', 'itime')

    def audit_order(self):
        # non-noop-replay: untimed calls last in an audit; in a period report at their
        # ingest time (the latest they can have happened), after timed calls of that time
        if UNTIMED_FIRST:
            return (self.ts if self.ts is not None else self.itime, 0 if self.ts is not None else 1, self.srank, self.line)
        return (0 if self.ts is not None else 1, self.ts if self.ts is not None else self.iseq, self.srank, self.line)

    def order(self):
        # untimed calls: in the order they were read (ingest sequence), then source and line;
        # last in an audit, first in a period report (README "Periods": a key's earliest calls)
        if UNTIMED_FIRST:
            return (1 if self.ts is not None else 0, self.ts if self.ts is not None else self.iseq, self.srank, self.line)
        return (0 if self.ts is not None else 1, self.ts if self.ts is not None else self.iseq, self.srank, self.line)


def parse_line(raw):
    try:
        s = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise Bad('utf8')
    obj = loads(s)
    if not isinstance(obj, dict):
        raise Bad('not object')
    at = obj.get('action_type')
    if not isinstance(at, str) or at == '':
        raise Bad('action_type')
    ts = parse_ts(obj.get('ts'))
    return obj, at, ts


def read_source(path, data, srank, calls, malformed):
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    for i, raw in enumerate(lines, 1):
        if i == 1 and raw.startswith(b'\xef\xbb\xbf'):
            raw = raw[3:]
        if raw.endswith(b'\r'):
            raw = raw[:-1]
        if raw.strip(b' \t\r\x0b\x0c') == b'':
            continue
        try:
            obj, at, ts = parse_line(raw)
            c = Call()
            c.source, c.srank, c.line, c.ts, c.action = path, srank, i, ts, at
            c.iseq, c.itime = 0, None
            c.key = norm_id(id_value(obj.get('idempotency_key')))
            c.rid = norm_id(id_value(obj.get('response_id')))
            c.session = norm_id(id_value(obj.get('session_id')))
            args = obj.get('args')
            if isinstance(args, str):
                try:
                    a2 = loads(args)
                    if isinstance(a2, (dict, list)):
                        args = a2
                except (ValueError, Bad):
                    pass
            c.args_present = args is not None
            c.argsfp = ('args', at, canon(args)) if c.args_present else None
            if c.args_present:
                c.fp = c.argsfp
            elif c.session is not None:
                c.fp = ('sess', at, c.session)
            else:
                c.fp = None
            c.status = obj.get('status')
            eff = obj.get('effect')
            c.effect = eff if isinstance(eff, str) else None
            so = status_outcome(c.status)
            if so is None:
                so = 'applied' if (c.rid is not None or c.effect is not None) else 'unknown'
            c.outcome = so
            c.strings = string_values(args, set()) if is_compensating(at) else set()
            calls.append(c)
        except (Bad, ValueError, RecursionError) as e:
            malformed.add((path, i))


def side_effects(group):
    nr = [c for c in group if c.outcome != 'rejected']
    rids = {c.rid for c in nr if c.rid is not None}
    extra = sum(1 for c in nr if c.rid is None and not is_noop(c.effect))
    return len(rids) + extra, rids


def compensated_count(group, rids, comps):
    n = 0
    for r in rids:
        times = [c.ts for c in group if c.rid == r and c.outcome != 'rejected' and c.ts is not None]
        if not times:
            continue
        t0 = min(times)
        if any(r in k.strings and k.ts is not None and k.ts > t0 for k in comps):
            n += 1
    return n


def chains(calls, W):
    out = []
    cur = []
    for c in sorted(calls, key=Call.order):
        if cur and c.ts - cur[-1].ts > W:
            out.append(cur)
            cur = []
        cur.append(c)
    if cur:
        out.append(cur)
    return out


def audit(paths, W=W_DEFAULT):
    calls, malformed = [], set()
    for r, p in enumerate(paths):
        with open(p, 'rb') as f:
            read_source(p, f.read(), r, calls, malformed)
    return audit_calls(calls, malformed, W)


def audit_calls(calls, malformed, W=W_DEFAULT):
    comps = [c for c in calls if c.strings and c.outcome == 'applied']
    findings = []

    def add(rule, sev, group, key=None, se=None, rids=None, dup=False, total=None, full=None):
        full = full if full is not None else group
        se2, rids2 = side_effects(full)
        remaining = None
        if dup and se is not None and se >= 2:
            comp = compensated_count(group, rids, comps)
            remaining = max(0, se - 1 - comp)
            if se - 1 - comp <= 0:
                sev = 'low'
        g = sorted(group, key=Call.order)
        oc = {'applied': 0, 'rejected': 0, 'unknown': 0}
        for c in full:
            oc[c.outcome] += 1
        findings.append(dict(rule=rule, severity=sev, action_type=group[0].action, idempotency_key=key,
                             evidence=frozenset((c.source, c.line) for c in g),
                             calls_total=total if total is not None else len(g),
                             first=g[0].order(), side_effects=se2, outcomes=oc, remaining=remaining,
                             group=g, full=sorted(full, key=Call.audit_order if rule == 'non-noop-replay' else Call.order)))

    # key rules
    bykey = {}
    for c in calls:
        if c.key is not None:
            bykey.setdefault((c.action, c.key), []).append(c)
    for (act, key), g in bykey.items():
        g = sorted(g, key=Call.order)
        se, rids = side_effects(g)
        if len(rids) >= 2:
            add('same-key-different-response', 'critical', g, key, se, rids, dup=True)
        fps = {c.argsfp for c in g if c.argsfp is not None}
        if len(fps) >= 2:
            fps_nr = {c.argsfp for c in g if c.argsfp is not None and c.outcome != 'rejected'}
            add('key-payload-mismatch', 'low' if len(fps_nr) <= 1 else 'medium', g, key)
        g_audit = sorted(g, key=Call.audit_order)  # non-noop-replay: untimed calls last, always
        seen_nr = False
        fire = False
        for c in g_audit:
            if c.outcome == 'rejected':
                continue
            if seen_nr and c.effect is not None and not is_noop(c.effect):
                fire = True
            seen_nr = True
        if fire:
            add('non-noop-replay', 'high', g, key, full=g_audit)
    # missing-key
    byact = {}
    for c in calls:
        if c.key is None:
            byact.setdefault(c.action, []).append(c)
    for act, g in byact.items():
        g = sorted(g, key=Call.order)
        add('missing-key', 'low', g[:20], None, total=len(g), full=g)
    # window rules
    byfp = {}
    for c in calls:
        if c.key is None and c.fp is not None and c.ts is not None:
            byfp.setdefault(c.fp, []).append(c)
    for fp, g in byfp.items():
        for ch in chains(g, W):
            if len(ch) < 2:
                continue
            se, rids = side_effects(ch)
            nrej = sum(1 for c in ch if c.outcome == 'rejected')
            rar = se <= 1 and nrej >= 1
            if rar and OPTS['rar_order']:
                # rejected calls then (at most) one that went through
                seen_nr = False
                for c in ch:
                    if c.outcome == 'rejected' and seen_nr:
                        rar = False
                    if c.outcome != 'rejected':
                        seen_nr = True
            if rar:
                add('retry-after-rejection', 'low', ch)
            else:
                add('repeat-without-key', 'high' if se >= 2 else 'low', ch, None, se, rids, dup=True)
    byafp = {}
    for c in calls:
        if c.key is not None and c.argsfp is not None and c.ts is not None:
            byafp.setdefault(c.argsfp, []).append(c)
    for fp, g in byafp.items():
        for ch in chains(g, W):
            if len({c.key for c in ch}) >= 2:
                se, rids = side_effects(ch)
                add('unstable-key', 'high' if se >= 2 else 'medium', ch, None, se, rids, dup=True)
    actions = {}
    for c in calls:
        a = actions.setdefault(c.action, dict(calls=0, keyed=0, effects=0, findings=0))
        a['calls'] += 1
        a['keyed'] += c.key is not None
        a['effects'] += c.effect is not None
    for f in findings:
        actions[f['action_type']]['findings'] += 1
    for a in actions.values():
        if a['keyed'] == 0:
            a['score'] = 0
        elif a['keyed'] < a['calls'] or a['effects'] < a['calls']:
            a['score'] = 1
        else:
            a['score'] = 3 if a['findings'] == 0 else 2
    return dict(findings=findings, malformed=malformed, calls=len(calls), actions=actions,
                keyed=sum(1 for c in calls if c.key is not None),
                unfingerprinted=sum(1 for c in calls if c.fp is None),
                untimed=sum(1 for c in calls if c.ts is None))


if __name__ == '__main__':
    r = audit(sys.argv[1:])
    for f in sorted(r['findings'], key=lambda f: (f['rule'], f['action_type'], sorted(f['evidence']))):
        print(f['rule'], f['severity'], f['action_type'], f['idempotency_key'], sorted(f['evidence']))
    print('malformed', sorted(r['malformed']))
