#!/usr/bin/env python3
"""Markdown tables from the JSON that `sjd2 bench --json` writes.

Usage (from the repository root):
  python3 tools/bench_table.py REPORT.json [--machine TEXT]   # print one table with its stamp
  python3 tools/bench_table.py --update FILE.md ...           # regenerate every marked table
  python3 tools/bench_table.py --check FILE.md ...            # exit 1 if a marked table is stale

A marked table in a Markdown file sits between
  <!-- bench-table: docs/benchmarks/data/REPORT.json machine="..." -->
  <!-- /bench-table -->
and is replaced by the table of REPORT.json. Optional attributes: methods="ar,sjd,..." (these rows,
in this order) and columns="short" (passes, step compression, latency, speed-up, accuracy). Each table is stamped once, under it: the machine
(from the marker; the JSON knows only cores and provider), the report's file and the commit that
last changed it (git log --follow). Standard library only.
"""
import json
import re
import subprocess
import sys

MARK = re.compile(r'(<!-- bench-table: (\S+)((?: \w+="[^"]*")*) -->\n)(.*?)(<!-- /bench-table -->)', re.S)
ATTR = re.compile(r'(\w+)="([^"]*)"')


def label(spec, m):
    """The row's name: the spec as options, with the defaults that matter spelled out for sjd2 and pac."""
    method, *overrides = spec.split(':')
    if overrides:
        opts = ' '.join(f'--{k} {v}' for k, v in (o.split('=', 1) for o in overrides))
        return f'{method}, `{opts}`'
    o = m.get('options') or {}
    if method == 'sjd2':
        kv = o.get('kv') or 'exact'
        reuse = {'coupled': 'coupled re-drafts', 'none': 'fresh re-drafts'}.get(o.get('reuse'), f"reuse {o.get('reuse')}")
        return f"sjd2 ({o.get('schedule', 'window')} schedule, {o.get('init', 'vertical')} prior, {kv} KV, {reuse})"
    if method == 'pac' and o.get('tree'):
        return f"pac (tree {o['tree'].replace('x', '×')})"
    return spec


def pct(v, digits=1):
    return '-' if v is None else f'{100 * v:.{digits}f} %'


def times(v):
    return '-' if v is None else f'{v:.2f}×'


def commit_of(path):
    """The last commit that changed the data (a pure move, R100, does not count)."""
    try:
        out = subprocess.run(['git', 'log', '--follow', '--format=@%h %cs', '--name-status', '--', path],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    commit = None
    for line in out.splitlines():
        if line.startswith('@'):
            commit = line[1:]
        elif line.strip() and commit and not line.startswith('R100'):
            return commit
    return 'not committed'


def table(path, machine, methods=None, columns='all'):
    with open(path, encoding='utf-8') as f:
        report = json.load(f)
    evaluator = report.get('evaluator_version') or 'accuracy'
    chosen = [(s, report['methods'][s]) for s in methods.split(',')] if methods else list(report['methods'].items())
    if columns == 'short':
        rows = [f'| method | passes (NFE) | step compression | latency | speed-up | {evaluator} |', '|---|---|---|---|---|---|']
        rows += [f"| {label(spec, m)} | {m['nfe']:.1f} | {times(m.get('step_compression'))} | {m['latency_ms']:.1f} ms "
                 f"| {times(m.get('speedup'))} | {pct(m.get('accuracy'))} |" for spec, m in chosen]
        return '\n'.join(rows) + '\n\n' + stamp(path, machine, report) + '\n'
    rows = ['| method | passes (NFE) | step compression | latency | speedup | tokens / pass | 1-token passes '
            f'| tokens fed / pass | host share | {evaluator} | fidelity gap |',
            '|---|---|---|---|---|---|---|---|---|---|---|']
    for spec, m in chosen:
        fidelity = (m.get('fidelity') or {}).get('score')
        rows.append(f"| {label(spec, m)} | {m['nfe']:.1f} | {times(m.get('step_compression'))} | {m['latency_ms']:.1f} ms "
                    f"| {times(m.get('speedup'))} | {m['accepted_per_pass']:.2f} | {pct(m['single_token_pass_share'], 0)} "
                    f"| {m['fed_per_pass']:.1f} | {pct(m['host_share'])} | {pct(m.get('accuracy'))} "
                    f"| {'-' if fidelity is None else f'{fidelity:.3f}'} |")
    return '\n'.join(rows) + '\n\n' + stamp(path, machine, report) + '\n'


def stamp(path, machine, report):
    prompts = len(report.get('prompts', []))
    return (f"Measured on {machine}; {report.get('cores')} cores, {report.get('provider')} provider, model "
             f"`{report.get('model')}`, {prompts} prompts × {report.get('seeds')} seeds, {report.get('warmup_rounds')} warm-up rounds. "
             f"Data: `{path}`, committed in {commit_of(path)}; table by `python3 tools/bench_table.py --update`.")


def update(md, check):
    with open(md, encoding='utf-8') as f:
        text = f.read()
    def render(m):
        attrs = dict(ATTR.findall(m.group(3)))
        return m.group(1) + table(m.group(2), attrs.get('machine', 'an unnamed machine'), attrs.get('methods'), attrs.get('columns', 'all')) + m.group(5)
    new = MARK.sub(render, text)
    if new == text:
        return True
    if check:
        print(f'{md}: a bench table is stale; run python3 tools/bench_table.py --update {md}')
        return False
    with open(md, 'w', encoding='utf-8') as f:
        f.write(new)
    print(f'updated {md}')
    return True


def main(argv):
    if argv and argv[0] in ('--update', '--check'):
        ok = all([update(md, argv[0] == '--check') for md in argv[1:]])
        return 0 if ok else 1
    if not argv:
        print(__doc__)
        return 2
    machine = argv[argv.index('--machine') + 1] if '--machine' in argv else 'an unnamed machine'
    print(table(argv[0], machine), end='')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
