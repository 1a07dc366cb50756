#!/usr/bin/env python3
"""Renders a crate's public API from rustdoc's JSON as a sorted text snapshot (issue #22).

    .ci/api_snapshot.py target/doc/CRATE.json [--extern target/doc/DEP.json ...] > api/CRATE.txt

The JSON comes from
    RUSTC_BOOTSTRAP=1 cargo rustdoc -p CRATE --lib --all-features -- -Z unstable-options --output-format json
(`bash .ci/run api` makes it, renders it and compares the result with the committed snapshot).

One line per public item, `PATH KIND SIGNATURE`, sorted, so a diff of two snapshots names what
changed and nothing else:
  - every public path of every item (modules walked from the crate root, `pub use` followed; an
    item reachable at several paths is described once, at its shortest path, and each other
    path says `= SHORTEST`); re-exports of other crates' items (`use`) with their source;
  - functions and methods with their generics, parameters (names and types), return type,
    where clauses and qualifiers (const, async, unsafe, extern);
  - structs (shape, public fields with types, whether private fields exist), enums (variants
    with their fields and discriminants, whether hidden variants exist), unions;
  - traits (supertraits, every method, associated type and constant, required or provided;
    unsafe, auto, dyn-compatible), type aliases, constants and statics with types and values;
  - every impl of a trait written in the crate, and the auto-trait impls (Send, Sync, Unpin,
    UnwindSafe, RefUnwindSafe) rustdoc works out for each public type, with the impl's
    generics and associated types; blanket impls (`impl<T> From<T> for T` and the like) are
    left out: they follow from the rest;
  - `#[non_exhaustive]`, `#[repr(..)]`, `#[must_use]` and deprecation.
Types in signatures are written with the item's shortest public path: this crate's, and that
of a crate whose JSON is given with --extern (the workspace's other crates, so moving a file
inside the core does not change its dependents' snapshots); for other crates, the path
rustdoc gives. No ids, spans, docs or file names: the text does not change unless the API does
(or the toolchain renders another crate's path differently).

Python 3.11 standard library only. Exit status 2 with a message on a JSON it cannot read.
"""

import json
import sys


# The auto traits a user can name; rustdoc also reports the toolchain's unstable ones.
STABLE_AUTO_TRAITS = {
    "core::marker::Send",
    "core::marker::Sync",
    "core::marker::Unpin",
    "core::panic::unwind_safe::UnwindSafe",
    "core::panic::unwind_safe::RefUnwindSafe",
}
# Unstable traits that derives implement along with a stable one (PartialEq here).
UNSTABLE_MARKERS = {"core::marker::StructuralPartialEq"}


def kind_of(item):
    return next(iter(item["inner"]))


def value_of(expr):
    """` = EXPR`, or nothing where rustdoc does not render the value (`_`)."""
    return "" if expr in ("_", None) else " = " + expr


class Snapshot:
    def __init__(self, doc, externs=()):
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.external_crates = doc.get("external_crates", {})
        # For each crate given with --extern: its items' rustdoc paths -> their public paths.
        self.externs = {}
        for other in externs:
            theirs = Snapshot(other)
            theirs.collect()
            names = {}
            for iid in theirs.public:
                summary = theirs.paths.get(iid)
                if summary:
                    names[tuple(summary["path"])] = "::".join(theirs.canonical(iid))
            self.externs[theirs.crate] = names
        self.root = str(doc["root"])
        self.crate_id = self.index[self.root]["crate_id"]
        self.crate = self.index[self.root]["name"]
        self.public = {}  # item id -> set of public paths (tuples of names)
        self.lines = set()

    # -- public paths ---------------------------------------------------------------------------
    def collect(self):
        self.visit(self.root, (self.crate,), ())

    def visit(self, iid, path, stack):
        self.public.setdefault(iid, set()).add(path)
        item = self.index[iid]
        if kind_of(item) == "module" and iid not in stack:
            self.walk(iid, path, stack + (iid,))

    def walk(self, module_id, prefix, stack):
        for child in self.index[module_id]["inner"]["module"]["items"]:
            item = self.index.get(str(child))
            if item is None or item.get("visibility") != "public":
                continue
            if kind_of(item) == "use":
                self.follow_use(item["inner"]["use"], prefix, stack)
            elif item.get("name") is not None:
                self.visit(str(child), prefix + (item["name"],), stack)

    def follow_use(self, use, prefix, stack):
        target = None if use.get("id") is None else str(use["id"])
        local = target in self.index
        if use["is_glob"]:
            if local and kind_of(self.index[target]) == "module":
                if target not in stack:
                    self.walk(target, prefix, stack + (target,))
            else:
                self.add(prefix + ("*",), "use", "glob of " + self.external_path(target, use["source"]))
        elif local:
            self.visit(target, prefix + (use["name"],), stack)
        else:
            kind = self.paths.get(target, {}).get("kind", "item") if target else "item"
            self.add(prefix + (use["name"],), "use", f"{kind} {self.external_path(target, use['source'])}")

    def external_path(self, target, source):
        summary = self.paths.get(target) if target else None
        return self.summary_name(summary) if summary else source

    def summary_name(self, summary):
        """Another crate's item: its public path where that crate's JSON was given, else rustdoc's."""
        crate = self.external_crates.get(str(summary.get("crate_id")), {}).get("name")
        return self.externs.get(crate, {}).get(tuple(summary["path"]), "::".join(summary["path"]))

    def canonical(self, iid):
        paths = self.public.get(iid)
        if not paths:
            return None
        return min(paths, key=lambda p: (len(p), p))

    def path_of(self, iid, written):
        """The name a type or trait is shown by: this crate's shortest public path, else rustdoc's."""
        iid = None if iid is None else str(iid)
        canonical = self.canonical(iid) if iid else None
        if canonical:
            return "::".join(canonical)
        summary = self.paths.get(iid) if iid else None
        if summary:
            return self.summary_name(summary)
        return written

    # -- output -----------------------------------------------------------------------------------
    def add(self, path, kind, *parts):
        """One line: PATH KIND, then the non-empty parts (signature, attributes) by one space."""
        name = path if isinstance(path, str) else "::".join(path)
        self.lines.add(" ".join([name, kind] + [p.strip() for p in parts if p and p.strip()]))

    def render(self):
        self.collect()
        for iid, paths in self.public.items():
            canonical = self.canonical(iid)
            item = self.index[iid]
            kind = kind_of(item)
            for path in paths:
                if path != canonical:
                    self.add(path, kind, "= " + "::".join(canonical))
            self.item(item, "::".join(canonical))
        for iid, item in self.index.items():
            if kind_of(item) == "impl":
                self.impl(item)
        return sorted(self.lines)

    def attrs(self, item):
        shown = []
        for attr in item.get("attrs", []):
            if attr == "non_exhaustive":
                shown.append("#[non_exhaustive]")
            elif isinstance(attr, dict) and "repr" in attr:
                shown.append("#[repr(" + json.dumps(attr["repr"], sort_keys=True) + ")]")
            elif isinstance(attr, dict) and "must_use" in attr:
                reason = attr["must_use"].get("reason") if isinstance(attr["must_use"], dict) else None
                shown.append("#[must_use" + (f" = {json.dumps(reason)}" if reason else "") + "]")
            elif isinstance(attr, dict) and "other" in attr:
                text = attr["other"]
                if text.startswith("#[repr(") or text.startswith("#[non_exhaustive"):
                    shown.append(" ".join(text.split()))
        if item.get("deprecation"):
            dep = item["deprecation"]
            shown.append(f"#[deprecated(since = {json.dumps(dep.get('since'))}, note = {json.dumps(dep.get('note'))})]")
        return " ".join(shown)

    def item(self, item, path):
        kind = kind_of(item)
        inner = item["inner"][kind]
        attrs = self.attrs(item)
        if kind == "module":
            self.add(path, "mod", attrs)
        elif kind == "function":
            self.add(path, self.function(inner), attrs)
        elif kind == "struct":
            self.struct(path, inner, attrs)
        elif kind == "union":
            fields = [self.index[str(f)] for f in inner["fields"]]
            names = [f["name"] for f in fields] + ([".."] if inner["has_stripped_fields"] else [])
            self.add(path, "union" + self.generics(inner["generics"]), "{ " + ", ".join(names) + " }",
                     self.where(inner["generics"]), attrs)
            for f in fields:
                self.add(f"{path}.{f['name']}", "field", self.type(f["inner"]["struct_field"]), self.attrs(f))
        elif kind == "enum":
            self.enum(path, inner, attrs)
        elif kind == "trait":
            self.trait(path, inner, attrs)
        elif kind == "trait_alias":
            self.add(path, "trait-alias" + self.generics(inner["generics"]), "= " + self.bounds(inner["params"]),
                     self.where(inner["generics"]), attrs)
        elif kind == "type_alias":
            self.add(path, "type" + self.generics(inner["generics"]), "= " + self.type(inner["type"]),
                     self.where(inner["generics"]), attrs)
        elif kind == "constant":
            self.add(path, "const", self.type(inner["type"]) + value_of(inner["const"]["expr"]), attrs)
        elif kind == "static":
            qualifiers = ("unsafe " if inner.get("is_unsafe") else "") + ("mut " if inner["is_mutable"] else "")
            self.add(path, "static", qualifiers + self.type(inner["type"]), attrs)
        elif kind == "macro":
            self.add(path, "macro", attrs)
        elif kind == "proc_macro":
            self.add(path, "proc-macro", inner["kind"], attrs)
        else:
            self.add(path, kind.replace("_", "-"), attrs)

    def struct(self, path, inner, attrs):
        generics = self.generics(inner["generics"])
        where = self.where(inner["generics"])
        shape = inner["kind"]
        if shape == "unit":
            self.add(path, "struct" + generics, "(unit)", where, attrs)
        elif "tuple" in shape:
            fields = []
            for field in shape["tuple"]:
                f = self.index.get(str(field)) if field is not None else None
                fields.append(self.type(f["inner"]["struct_field"]) if f else "_")
            self.add(path, "struct" + generics, "(" + ", ".join(fields) + ")", where, attrs)
        else:
            plain = shape["plain"]
            fields = [self.index[str(f)] for f in plain["fields"] if str(f) in self.index]
            names = [f["name"] for f in fields] + ([".."] if plain["has_stripped_fields"] else [])
            self.add(path, "struct" + generics, "{ " + ", ".join(names) + " }", where, attrs)
            for f in fields:
                self.add(f"{path}.{f['name']}", "field", self.type(f["inner"]["struct_field"]), self.attrs(f))

    def enum(self, path, inner, attrs):
        variants = [self.index[str(v)] for v in inner["variants"] if str(v) in self.index]
        names = [v["name"] for v in variants] + ([".."] if inner["has_stripped_variants"] else [])
        self.add(path, "enum" + self.generics(inner["generics"]), "{ " + ", ".join(names) + " }",
                 self.where(inner["generics"]), attrs)
        for v in variants:
            variant = v["inner"]["variant"]
            shape = variant["kind"]
            if shape == "plain":
                text = ""
            elif "tuple" in shape:
                text = "(" + ", ".join(
                    self.type(self.index[str(f)]["inner"]["struct_field"]) if f is not None and str(f) in self.index else "_"
                    for f in shape["tuple"]) + ")"
            else:
                fields = [self.index[str(f)] for f in shape["struct"]["fields"] if str(f) in self.index]
                parts = [f"{f['name']}: {self.type(f['inner']['struct_field'])}" for f in fields]
                if shape["struct"]["has_stripped_fields"]:
                    parts.append("..")
                text = "{ " + ", ".join(parts) + " }"
            if variant.get("discriminant"):
                text += " = " + variant["discriminant"]["expr"]
            self.add(f"{path}::{v['name']}", "variant", text, self.attrs(v))

    def trait(self, path, inner, attrs):
        qualifiers = ("(unsafe) " if inner["is_unsafe"] else "") + ("(auto) " if inner["is_auto"] else "")
        bounds = ": " + self.bounds(inner["bounds"]) if inner["bounds"] else ""
        dyn = "" if inner.get("is_dyn_compatible", True) else "(not dyn-compatible)"
        self.add(path, "trait" + self.generics(inner["generics"]) + bounds, self.where(inner["generics"]),
                 qualifiers, dyn, attrs)
        for member_id in inner["items"]:
            member = self.index.get(str(member_id))
            if member is None:
                continue
            self.assoc(f"{path}::{member['name']}", member, "trait-")

    def assoc(self, path, member, prefix, context=""):
        kind = kind_of(member)
        inner = member["inner"][kind]
        attrs = self.attrs(member)
        if kind == "function":
            provided = " (provided)" if prefix == "trait-" and inner["has_body"] else ""
            self.add(path, prefix + "fn" if prefix else "method", self.function(inner), context, provided, attrs)
        elif kind == "assoc_const":
            value = value_of(inner["value"]) if inner.get("value") is not None else ""
            self.add(path, prefix + "const" if prefix else "assoc-const", self.type(inner["type"]) + value, context,
                     attrs)
        elif kind == "assoc_type":
            bounds = ": " + self.bounds(inner["bounds"]) if inner["bounds"] else ""
            default = " = " + self.type(inner["type"]) if inner.get("type") is not None else ""
            self.add(path, (prefix + "type" if prefix else "assoc-type") + self.generics(inner["generics"]),
                     (bounds + default).strip(), context, attrs)

    def impl(self, item):
        impl = item["inner"]["impl"]
        if impl.get("blanket_impl") is not None:
            return
        trait_path = self.path_of(impl["trait"]["id"], impl["trait"].get("path", "")) if impl["trait"] else None
        if impl.get("is_synthetic") and trait_path not in STABLE_AUTO_TRAITS:
            return  # unstable marker traits of the toolchain (Freeze, UnsafeUnpin): not API
        if trait_path in UNSTABLE_MARKERS:
            return
        for_type = self.type(impl["for"])
        anchor = self.anchor(impl)
        if impl["trait"] is None:
            context = ""
            if impl["generics"]["params"] or impl["generics"]["where_predicates"]:
                context = " [in impl" + self.generics(impl["generics"]) + " " + for_type + self.where(impl["generics"]) + "]"
            for member_id in impl["items"]:
                member = self.index.get(str(member_id))
                if member is None or member.get("visibility") != "public":
                    continue
                self.assoc(f"{anchor}::{member['name']}", member, "", context)
            return
        members = []
        for member_id in impl["items"]:
            member = self.index.get(str(member_id))
            if member is None:
                continue
            kind = kind_of(member)
            if kind == "assoc_type" and member["inner"]["assoc_type"].get("type") is not None:
                members.append(f"type {member['name']} = {self.type(member['inner']['assoc_type']['type'])};")
            elif kind == "assoc_const":
                const = member["inner"]["assoc_const"]
                members.append(f"const {member['name']}: {self.type(const['type'])};")
        text = ("unsafe " if impl["is_unsafe"] else "") + "impl" + self.generics(impl["generics"]) + " " \
            + ("!" if impl["is_negative"] else "") + self.path(impl["trait"]) + " for " + for_type \
            + self.where(impl["generics"])
        if members:
            text += " { " + " ".join(sorted(members)) + " }"
        self.add(anchor, text)

    def anchor(self, impl):
        """Where an impl is listed: under its type when that is this crate's, else its trait's."""
        for_type = impl["for"]
        while isinstance(for_type, dict) and "borrowed_ref" in for_type:
            for_type = for_type["borrowed_ref"]["type"]
        if isinstance(for_type, dict) and "resolved_path" in for_type:
            canonical = self.canonical(str(for_type["resolved_path"]["id"]))
            if canonical:
                return "::".join(canonical)
        if impl["trait"] is not None:
            canonical = self.canonical(str(impl["trait"]["id"]))
            if canonical:
                return "::".join(canonical)
        return self.crate

    # -- signatures -------------------------------------------------------------------------------
    def function(self, f):
        header = f["header"]
        qualifiers = ""
        if header.get("is_const"):
            qualifiers += "const "
        if header.get("is_async"):
            qualifiers += "async "
        if header.get("is_unsafe"):
            qualifiers += "unsafe "
        abi = header.get("abi", "Rust")
        if abi != "Rust":
            qualifiers += f'extern "{abi if isinstance(abi, str) else next(iter(abi))}" '
        params = [self.param(name, ty) for name, ty in f["sig"]["inputs"]]
        if f["sig"].get("is_c_variadic"):
            params.append("...")
        output = f["sig"].get("output")
        ret = " -> " + self.type(output) if output is not None else ""
        return (qualifiers + "fn" + self.generics(f["generics"]) + "(" + ", ".join(params) + ")" + ret
                + self.where(f["generics"]))

    def param(self, name, ty):
        if name == "self":
            if ty == {"generic": "Self"}:
                return "self"
            if isinstance(ty, dict) and "borrowed_ref" in ty and ty["borrowed_ref"]["type"] == {"generic": "Self"}:
                ref = ty["borrowed_ref"]
                lifetime = ref["lifetime"] + " " if ref.get("lifetime") else ""
                return "&" + lifetime + ("mut " if ref["is_mutable"] else "") + "self"
        return f"{name}: {self.type(ty)}"

    def generics(self, generics):
        params = []
        for p in generics["params"]:
            kind = p["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"]["outlives"]
                params.append(p["name"] + (": " + " + ".join(outlives) if outlives else ""))
            elif "type" in kind:
                t = kind["type"]
                if t.get("is_synthetic"):
                    continue  # `impl Trait` in argument position: shown in the parameter's type
                text = p["name"]
                if t["bounds"]:
                    text += ": " + self.bounds(t["bounds"])
                if t.get("default") is not None:
                    text += " = " + self.type(t["default"])
                params.append(text)
            elif "const" in kind:
                c = kind["const"]
                text = f"const {p['name']}: {self.type(c['type'])}"
                if c.get("default") is not None:
                    text += " = " + c["default"]
                params.append(text)
        return "<" + ", ".join(params) + ">" if params else ""

    def where(self, generics):
        predicates = []
        for w in generics["where_predicates"]:
            if "bound_predicate" in w:
                b = w["bound_predicate"]
                hrtb = self.hrtb(b.get("generic_params", []))
                predicates.append(hrtb + self.type(b["type"]) + ": " + self.bounds(b["bounds"]))
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                predicates.append(lp["lifetime"] + ": " + " + ".join(lp["outlives"]))
            elif "eq_predicate" in w:
                eq = w["eq_predicate"]
                predicates.append(self.type(eq["lhs"]) + " = " + self.term(eq["rhs"]))
        return " where " + ", ".join(predicates) if predicates else ""

    def hrtb(self, params):
        names = [p["name"] for p in params]
        return "for<" + ", ".join(names) + "> " if names else ""

    def bounds(self, bounds):
        parts = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                modifier = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
                parts.append(self.hrtb(tb.get("generic_params", [])) + modifier + self.path(tb["trait"]))
            elif "outlives" in b:
                parts.append(b["outlives"])
            elif "use" in b:
                args = []
                for a in b["use"]:
                    args.append(a if isinstance(a, str) else next(iter(a.values())))
                parts.append("use<" + ", ".join(args) + ">")
        return " + ".join(parts)

    def path(self, p):
        name = self.path_of(p.get("id"), p.get("path", p.get("name", "?")))
        return name + self.args(p.get("args"))

    def args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = []
            for a in ab["args"]:
                if a == "infer":
                    parts.append("_")
                elif "lifetime" in a:
                    parts.append(a["lifetime"])
                elif "type" in a:
                    parts.append(self.type(a["type"]))
                elif "const" in a:
                    parts.append(a["const"]["expr"])
            for c in ab.get("constraints", []):
                name = c["name"] + self.args(c.get("args"))
                binding = c["binding"]
                if "equality" in binding:
                    parts.append(name + " = " + self.term(binding["equality"]))
                else:
                    parts.append(name + ": " + self.bounds(binding["constraint"]))
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in args:
            pa = args["parenthesized"]
            out = " -> " + self.type(pa["output"]) if pa.get("output") is not None else ""
            return "(" + ", ".join(self.type(t) for t in pa["inputs"]) + ")" + out
        return "(..)"

    def term(self, term):
        if "type" in term:
            return self.type(term["type"])
        return term["constant"]["expr"]

    def type(self, t):
        if t is None:
            return "()"
        if isinstance(t, str):
            return "_" if t == "infer" else t
        kind, v = next(iter(t.items()))
        if kind == "resolved_path":
            return self.path(v)
        if kind in ("generic", "primitive"):
            return v
        if kind == "tuple":
            if len(v) == 1:
                return "(" + self.type(v[0]) + ",)"
            return "(" + ", ".join(self.type(x) for x in v) + ")"
        if kind == "slice":
            return "[" + self.type(v) + "]"
        if kind == "array":
            return "[" + self.type(v["type"]) + "; " + v["len"] + "]"
        if kind == "borrowed_ref":
            lifetime = v["lifetime"] + " " if v.get("lifetime") else ""
            return "&" + lifetime + ("mut " if v["is_mutable"] else "") + self.type(v["type"])
        if kind == "raw_pointer":
            return ("*mut " if v["is_mutable"] else "*const ") + self.type(v["type"])
        if kind == "dyn_trait":
            parts = [self.hrtb(pt.get("generic_params", [])) + self.path(pt["trait"]) for pt in v["traits"]]
            if v.get("lifetime"):
                parts.append(v["lifetime"])
            return "dyn " + " + ".join(parts)
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "function_pointer":
            sig = v["sig"]
            params = [self.type(ty) for _, ty in sig["inputs"]]
            out = " -> " + self.type(sig["output"]) if sig.get("output") is not None else ""
            header = v.get("header", {})
            qualifiers = ("unsafe " if header.get("is_unsafe") else "")
            abi = header.get("abi", "Rust")
            if abi != "Rust":
                qualifiers += f'extern "{abi if isinstance(abi, str) else next(iter(abi))}" '
            return self.hrtb(v.get("generic_params", [])) + qualifiers + "fn(" + ", ".join(params) + ")" + out
        if kind == "qualified_path":
            self_type = self.type(v["self_type"])
            trait = v.get("trait")
            base = f"<{self_type} as {self.path(trait)}>" if trait else self_type
            return base + "::" + v["name"] + self.args(v.get("args"))
        if kind == "pat":
            return self.type(v["type"])
        return kind


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv):
    args, externs = argv[1:], []
    while len(args) >= 2 and args[-2] == "--extern":
        externs.insert(0, args[-1])
        args = args[:-2]
    if len(args) != 1 or "--extern" in args:
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        lines = Snapshot(load(args[0]), [load(e) for e in externs]).render()
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as e:
        print(f"api_snapshot: cannot read {args[0]} as rustdoc JSON: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
