#!/usr/bin/env python3
# Turns the server's group commits, as PostgreSQL logged them (log_min_duration_statement = 0:
# each statement, then its parameters), into pgbench scripts that run the same statements with the
# same values as literals, one script per transaction, and an index of "script events" lines.
#   replay-commits.py LOG OUTDIR [BOARD]   (BOARD: only transactions that write that board)
# The change number a commit inserts into board_changes is taken by then: a replay takes the
# board's next one instead (a subquery on the row the transaction has just updated).
import os
import re
import sys

log_path, out_dir = sys.argv[1], sys.argv[2]
only_board = sys.argv[3] if len(sys.argv) > 3 else None
log = open(log_path).read()
# entries: lines starting with timestamp
entries = re.split(r'\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC \[)', log)
tx = {}      # pid -> statements of its open transaction
done = []    # statements of each committed transaction
pending = {} # pid -> index of its statement awaiting parameters
for e in entries:
    m = re.match(r'\S+ \S+ UTC \[(\d+)\] (LOG|DETAIL):  (.*)', e, re.S)
    if not m: continue
    pid, kind, rest = m.groups()
    if kind == 'LOG':
        m2 = re.match(r'duration: [0-9.]+ ms  (statement|execute <unnamed>): (.*)', rest, re.S)
        if not m2: continue
        what, sql = m2.groups()
        sql = sql.replace('\n\t', '\n')
        if what == 'statement':
            s = sql.strip()
            if s == 'BEGIN': tx[pid] = []; continue
            if s == 'COMMIT':
                if pid in tx: done.append(tx.pop(pid))
                continue
            if pid in tx: tx[pid].append(s)
        else:
            pending.pop(pid, None)
            if pid in tx:
                tx[pid].append(sql.strip()); pending[pid] = len(tx[pid]) - 1
    else:
        m2 = re.match(r'parameters: (.*)', rest, re.S)
        if not m2 or pid not in pending or pid not in tx: continue
        params = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", m2.group(1), re.S))
        i = pending.pop(pid)
        sql = tx[pid][i]
        tx[pid][i] = re.sub(r'\$(\d+)', lambda mm: params[mm.group(1)], sql)
os.makedirs(out_dir, exist_ok=True)
total_events = 0
out = []
for n, stmts in enumerate(done):
    events = None
    body = []
    for s in stmts:
        if s.startswith('INSERT INTO score_events'):
            arr = re.search(r"unnest\('(\{[^']*\})'", s)
            if arr is None:
                sys.exit('unexpected score_events statement: ' + s[:200])
            boards = arr.group(1).strip('{}').split(',')
            if only_board is not None and only_board not in boards:
                events = None
                break
            events = len(boards)
        if s.startswith('INSERT INTO board_changes'):
            # the captured change number is taken; the replay takes the board's next one
            s = re.sub(r"VALUES \('([^']*)', '\d+'", lambda mm: "VALUES ('%s', (SELECT change_seq FROM leaderboards WHERE id = '%s')" % (mm.group(1), mm.group(1)), s, count=1)
        body.append(s.rstrip(';') + ';')
    if events is None: continue
    path = os.path.join(out_dir, 'tx%03d.sql' % n)
    open(path, 'w').write('BEGIN;\n' + '\n'.join(b.replace('\n', ' ') for b in body) + '\nCOMMIT;\n')
    out.append((path, events))
    total_events += events
open(os.path.join(out_dir, 'index'), 'w').write('\n'.join('%s %d' % o for o in out) + '\n')
print(len(out), 'transactions,', total_events / max(len(out), 1), 'events each on average')
