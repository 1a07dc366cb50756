#!/usr/bin/env python3
"""Extract doc examples as a new user would copy them (issue #14, item 8).

    .ci/doc_examples.py OUT_DIR FEATURE... -- SOURCE...

Writes one `src/bin/<name>.rs` per Rust example found in SOURCE files (README.md's ```rust
blocks; the module-level `//!` blocks of .rs files, and the item-level `///` ones too for a
SOURCE written `all:src/x.rs`) into the Cargo project OUT_DIR, and prints
one line per example: `example <name> <source>:<line>` or `skip <source>:<line> <reason>`.

Examples are turned into programs the way rustdoc does (hidden `# ` lines kept, the whole
wrapped in `fn main`, a final `Ok::<(), E>(())` making main fallible). A hidden
`#[cfg(feature = "...")]` gate names features of cardadmin: the example is kept when the user
project enables all of them (the gate line is dropped, its block kept), skipped otherwise.

Also fails (exit 1) on a doc line anywhere in a SOURCE that names something a user's project
does not have: `rand_core::OsRng`, a bare `rand_core::` path (the crate re-exports it as
`cardadmin::rand_core`), the dev-only crates, or `serde_json` in an example whose text does not
say to add `serde_json` to the dependencies.
"""

import os
import re
import sys

FENCE = re.compile(r"^```(.*)$")
GATE = re.compile(r'^#\[cfg\((.*)\)\]$')
FEATURE = re.compile(r'feature = "([a-z0-9_-]+)"')
# Crates a user's project does not have: dev-dependencies of cardadmin, or rand_core by name.
FORBIDDEN = [
    (re.compile(r"(?<![\w:])rand_core::OsRng\b"), "rand_core::OsRng (use cardadmin::rng::OsRng)"),
    (re.compile(r"(?<![\w:])rand_core::"), "a bare rand_core:: path (use cardadmin::rand_core)"),
    (re.compile(r"(?<![\w:])use rand_core\b"), "use rand_core (use cardadmin::rand_core)"),
    (re.compile(r"(?<![\w:])(des|cmac|proptest|criterion|rand_chacha|rand_08|rand_09|rand_010)::"),
     "a dev-dependency of cardadmin"),
]


def doc_lines(path, items=False):
    """(line number, text) of the doc text: README lines, or `//!` lines of a .rs file (and
    `///` lines too with `items`)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if path.endswith(".md"):
        return [(n + 1, line) for n, line in enumerate(lines)]
    out = []
    for n, line in enumerate(lines):
        m = re.match(r"^\s*//[/!]( ?)(.*)$" if items else r"^\s*//!( ?)(.*)$", line)
        if m:
            out.append((n + 1, m.group(2)))
        else:
            out.append((n + 1, None))  # a break between doc paragraphs
    return out


def blocks(path, items=False):
    """(start line, info string, body lines, text before) of each fenced block."""
    lines = doc_lines(path, items)
    i = 0
    before = []
    while i < len(lines):
        n, text = lines[i]
        m = FENCE.match(text) if text is not None else None
        if m:
            info = m.group(1).strip()
            body = []
            j = i + 1
            while j < len(lines) and lines[j][1] is not None and not FENCE.match(lines[j][1]):
                body.append(lines[j][1])
                j += 1
            yield n, info, body, before[-6:]
            before = []
            i = j + 1
            continue
        if text is not None:
            before.append(text)
        i += 1


def is_rust(info, path):
    words = [w.strip() for w in info.split(",") if w.strip()]
    if path.endswith(".md"):
        return words == ["rust"]
    if any(w in ("ignore", "no_run", "compile_fail", "text", "json", "toml", "sh", "console")
           for w in words):
        return False
    return words in ([], ["rust"])


def hidden(line):
    """rustdoc's hidden lines: `# x` is `x`, a lone `#` an empty line."""
    if line == "#":
        return ""
    if line.startswith("# "):
        return line[2:]
    return line


def program(body, features):
    """The example as a program, or (None, reason)."""
    code = []
    for line in body:
        line = hidden(line)
        gate = GATE.match(line.strip())
        if gate:
            needed = set(FEATURE.findall(gate.group(1)))
            if not re.fullmatch(r'(all\()?feature = "[a-z0-9_-]+"(, feature = "[a-z0-9_-]+")*\)?',
                                gate.group(1)):
                return None, f"unhandled gate {line.strip()}"
            missing = needed - features
            if missing:
                return None, f"needs features {sorted(missing)}"
            continue
        if line.strip().startswith("extern crate"):
            return None, "renames a crate for the doc test (its visible lines name the user's crate)"
        code.append(line)
    text = "\n".join(code)
    if "fn main" in text:
        return text + "\n", None
    last = [line for line in code if line.strip()]
    if last and last[-1].strip().startswith("Ok::<"):
        return (
            "fn main() {\n    #[allow(unreachable_code)]\n    let result = (|| {\n"
            + text
            + "\n    })();\n    result.unwrap();\n}\n",
            None,
        )
    return "fn main() {\n" + text + "\n}\n", None


def main():
    out_dir = sys.argv[1]
    split = sys.argv.index("--")
    features = set(sys.argv[2:split])
    sources = sys.argv[split + 1:]
    bins = os.path.join(out_dir, "src", "bin")
    os.makedirs(bins, exist_ok=True)
    bad = 0
    for source in sources:
        # `all:src/x.rs`: the examples of its items (`///`) too, not only its module docs.
        items = source.startswith("all:")
        path = source[4:] if items else source
        # The forbidden names, in every doc line of the file (not only module docs).
        # rand_core::OsRng anywhere in the docs, prose included; the others in code blocks.
        with open(path, encoding="utf-8") as f:
            in_code = False
            for n, line in enumerate(f, 1):
                m = re.match(r"^\s*//[/!] ?(.*)$", line)
                if not path.endswith(".md") and not m:
                    continue
                text = line.rstrip("\n") if path.endswith(".md") else m.group(1)
                fence = FENCE.match(text)
                if fence:
                    in_code = not in_code and is_rust(fence.group(1).strip(), path)
                    continue
                for pattern, what in FORBIDDEN if in_code else FORBIDDEN[:1]:
                    if pattern.search(text):
                        print(f"FAIL {path}:{n}: {what}: {line.strip()}")
                        bad += 1
        for start, info, body, before in blocks(path, items):
            if not is_rust(info, path):
                continue
            where = f"{path}:{start}"
            if any("serde_json" in line for line in body) and not any(
                    'serde_json = "1"' in line for line in before):
                print(f"FAIL {where}: uses serde_json without saying to add it as a dependency")
                bad += 1
            code, reason = program(body, features)
            if code is None:
                print(f"skip {where} {reason}")
                continue
            name = re.sub(r"[^a-z0-9]+", "_", f"{path}_{start}".lower()).strip("_")
            with open(os.path.join(bins, name + ".rs"), "w", encoding="utf-8") as f:
                f.write(f"// From {where}, as a user would copy it.\n{code}")
            print(f"example {name} {where}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
