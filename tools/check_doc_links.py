#!/usr/bin/env python3
"""Checks that every relative link in the Markdown documentation resolves.

Usage (from the repository root):
  python3 tools/check_doc_links.py            # README.md, CHANGELOG.md, docs/**, src/*/README.md
  python3 tools/check_doc_links.py FILE.md ...

A link resolves when its file exists and, for a link into a Markdown file with #anchor, the file
has a heading with that GitHub anchor. Links with a scheme (https:, mailto:) are not fetched.
Prints one line per broken link and exits 1 if there is any. Standard library only.
"""
import glob
import os
import re
import sys

LINK = re.compile(r'!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped except - and _, spaces to -."""
    text = re.sub(r'<[^>]+>', '', heading.strip()).lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path, cache={}):
    if path not in cache:
        found, counts, fence = set(), {}, False
        with open(path, encoding='utf-8') as f:
            for line in f:
                if line.lstrip().startswith('```'):
                    fence = not fence
                    continue
                m = None if fence else re.match(r'#{1,6} (.*)', line)
                if m:
                    s = slug(m.group(1))
                    n = counts.get(s, 0)
                    counts[s] = n + 1
                    found.add(s if n == 0 else f'{s}-{n}')
        cache[path] = found
    return cache[path]


def links(path):
    fence = False
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if line.lstrip().startswith('```'):
                fence = not fence
                continue
            if fence:
                continue
            for m in LINK.finditer(re.sub(r'`[^`]*`', '', line)):
                yield number, m.group(1)


def check(path):
    broken = []
    for number, target in links(path):
        if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target):
            continue
        file, _, anchor = target.partition('#')
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(resolved):
            broken.append(f'{path}:{number}: {target}: no such file')
        elif anchor and resolved.endswith('.md') and anchor not in anchors(resolved):
            broken.append(f'{path}:{number}: {target}: no heading #{anchor} in {resolved}')
    return broken


def main(argv):
    files = argv or (['README.md', 'CHANGELOG.md'] + sorted(glob.glob('docs/**/*.md', recursive=True))
                     + sorted(glob.glob('src/*/README.md')))
    broken = [b for f in files for b in check(f)]
    for b in broken:
        print(b)
    print(f'{len(files)} files, {len(broken)} broken links', file=sys.stderr)
    return 1 if broken else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
