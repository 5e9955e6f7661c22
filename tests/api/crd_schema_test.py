#!/usr/bin/python3
"""The CRDs' openAPIV3Schema (crds/*.yaml) against the validation goldens (tests/golden/validate):
every golden is a manifest `jbctl validate` rejects; this counts how many of them a Kubernetes API
server would reject with the schema alone (before any CEL rule, which jsonschema cannot run), and
fails if that figure drops below the measured one.

Emulated API-server behaviour: strict field validation (kubectl's default since 1.27), so unknown
fields are errors: additionalProperties is false wherever a schema lists properties. Documents
PyYAML cannot parse, or with a kind no CRD defines, count as "rejected before the schema".
Run: /usr/bin/python3 tests/api/crd_schema_test.py [SOURCE_DIR]
"""
import copy
import glob
import os
import re
import sys

import jsonschema
import yaml

MEASURED = 26  # goldens the schema alone rejects (printed below); may only go up
MEASURED_CEL = 4  # goldens the CEL rules reject beyond the schema (printed below); may only go up
EMPTY = {}

def strict(schema):
    s = copy.deepcopy(schema)
    def walk(n):
        if not isinstance(n, dict):
            return
        if n.get("type") == "object" and "properties" in n and "additionalProperties" not in n:
            n["additionalProperties"] = False
        # OpenAPI v3.0's boolean exclusiveMinimum is JSON Schema draft 4's.
        for k in ("properties",):
            for v in n.get(k, {}).values():
                walk(v)
        for k in ("items", "additionalProperties"):
            if isinstance(n.get(k), dict):
                walk(n[k])
    walk(s)
    return s

def list_map_duplicates(schema, doc, seen_nodes=None):
    """x-kubernetes-list-type: map lists must not repeat a key (the API server checks this with
    the schema); jsonschema does not know the extension. Shared nodes (YAML aliases) are walked
    once."""
    if seen_nodes is None:
        seen_nodes = set()
    if isinstance(doc, (dict, list)):
        if (id(schema), id(doc)) in seen_nodes:
            return False
        seen_nodes.add((id(schema), id(doc)))
    if isinstance(doc, dict) and isinstance(schema, dict):
        for k, v in doc.items():
            sub = schema.get("properties", EMPTY).get(k) or schema.get("additionalProperties")
            if isinstance(sub, dict) and list_map_duplicates(sub, v, seen_nodes):
                return True
    if isinstance(doc, list) and isinstance(schema, dict):
        keys = schema.get("x-kubernetes-list-map-keys")
        if keys:
            seen = set()
            for item in doc:
                if isinstance(item, dict):
                    key = tuple(repr(item.get(k)) for k in keys)
                    if key in seen:
                        return True
                    seen.add(key)
        for item in doc:
            if list_map_duplicates(schema.get("items", EMPTY), item, seen_nodes):
                return True
    return False

# ---- CEL (x-kubernetes-validations) ----
# No Debian package evaluates CEL (cel-go is not packaged), so the rules are checked here with a
# parser for CEL's whole grammar (github.com/google/cel-spec, doc/langdef.md "Syntax"), a static
# check of every field a rule names against the schema at the rule's place (what the API server's
# compile step does when a CRD is created), and an evaluator for the subset the rules use
# (literals, field selection, has(), size(), all/exists/exists_one/map/filter macros, boolean,
# equality and ordering operators, +, -, in, ?:). A rule outside that subset fails the test
# rather than being skipped.

CEL_TOKEN = re.compile(r"""\s*(?:
   (?P<num>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[uU]?|0x[0-9a-fA-F]+)
 | (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
 | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
 | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
)""", re.X)

class CelError(Exception):
    pass

def cel_tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = CEL_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CelError("unexpected character at %d: %r" % (pos, text[pos:pos + 10]))
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    out.append(("end", ""))
    return out

class CelParser:
    """Recursive descent over CEL's grammar; the AST is nested tuples."""
    def __init__(self, text):
        self.t, self.i = cel_tokens(text), 0
    def peek(self, v=None):
        k, tv = self.t[self.i]
        return tv if v is None else (tv == v and k in ("op", "id"))
    def eat(self, v):
        if not self.peek(v):
            raise CelError("expected %r, got %r" % (v, self.t[self.i][1]))
        self.i += 1
    def parse(self):
        e = self.expr()
        if self.t[self.i][0] != "end":
            raise CelError("trailing %r" % self.t[self.i][1])
        return e
    def expr(self):
        c = self.binary(0)
        if self.peek("?"):
            self.eat("?")
            a = self.binary(0)
            self.eat(":")
            return ("?:", c, a, self.expr())
        return c
    LEVELS = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%")]
    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        e = self.binary(level + 1)
        while self.t[self.i][1] in self.LEVELS[level] and self.t[self.i][0] in ("op", "id"):
            op = self.t[self.i][1]
            self.i += 1
            e = (op, e, self.binary(level + 1))
        return e
    def unary(self):
        if self.peek("!") or self.peek("-"):
            op = self.t[self.i][1]
            self.i += 1
            return ("u" + op, self.unary())
        return self.member()
    def args(self):
        self.eat("(")
        out = []
        while not self.peek(")"):
            out.append(self.expr())
            if not self.peek(")"):
                self.eat(",")
        self.eat(")")
        return out
    def member(self):
        e = self.primary()
        while True:
            if self.peek("."):
                self.eat(".")
                k, name = self.t[self.i]
                if k != "id":
                    raise CelError("expected a field name after '.'")
                self.i += 1
                e = ("call", e, name, self.args()) if self.peek("(") else ("sel", e, name)
            elif self.peek("["):
                self.eat("[")
                idx = self.expr()
                self.eat("]")
                e = ("index", e, idx)
            else:
                return e
    def primary(self):
        k, v = self.t[self.i]
        if k == "num":
            self.i += 1
            return ("lit", float(v) if "." in v else int(v.rstrip("uU"), 0))
        if k == "str":
            self.i += 1
            return ("lit", v[1:-1].encode().decode("unicode_escape"))
        if k == "id":
            self.i += 1
            if v in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[v])
            return ("call", None, v, self.args()) if self.peek("(") else ("id", v)
        if self.peek("("):
            self.eat("(")
            e = self.expr()
            self.eat(")")
            return e
        if self.peek("["):
            self.eat("[")
            items = []
            while not self.peek("]"):
                items.append(self.expr())
                if not self.peek("]"):
                    self.eat(",")
            self.eat("]")
            return ("list", items)
        raise CelError("unexpected %r" % v)

MACROS = ("all", "exists", "exists_one", "map", "filter")

def cel_check(ast, env):
    """The schema node `ast` yields (None when not an object/array schema); CelError for a field
    the schema does not have, or a function outside the subset."""
    op = ast[0]
    if op == "lit":
        return None
    if op == "id":
        if ast[1] not in env:
            raise CelError("undeclared reference %r" % ast[1])
        return env[ast[1]]
    if op == "sel":
        s = cel_check(ast[1], env)
        if s is not None:
            props = s.get("properties")
            if props is not None and ast[2] not in props:
                raise CelError("no such field %r (fields: %s)" % (ast[2], ", ".join(sorted(props))))
            return (props or {}).get(ast[2]) or (s.get("additionalProperties") if isinstance(s.get("additionalProperties"), dict) else None)
        return None
    if op == "call":
        _, target, name, args = ast
        if target is None:
            if name == "has" and len(args) == 1 and args[0][0] == "sel":
                cel_check(args[0], env)
                return None
            if name == "size" and len(args) == 1:
                cel_check(args[0], env)
                return None
            raise CelError("unsupported function %s()" % name)
        s = cel_check(target, env)
        if name in MACROS and len(args) == 2 and args[0][0] == "id":
            if s is not None and s.get("type") != "array":
                raise CelError("%s() on a %s" % (name, s.get("type")))
            inner = dict(env)
            inner[args[0][1]] = (s or {}).get("items")
            cel_check(args[1], inner)
            return s if name == "filter" else None
        if name == "size" and not args:
            return None
        raise CelError("unsupported method .%s()" % name)
    if op == "index":
        s = cel_check(ast[1], env)
        cel_check(ast[2], env)
        return (s or {}).get("items")
    if op == "list":
        for x in ast[1]:
            cel_check(x, env)
        return None
    for x in ast[1:]:
        cel_check(x, env)
    return None

def cel_eval(ast, env):
    """Evaluates like the API server: a missing field is an error (the rule then fails)."""
    op = ast[0]
    if op == "lit":
        return ast[1]
    if op == "id":
        return env[ast[1]]
    if op == "sel":
        obj = cel_eval(ast[1], env)
        if not isinstance(obj, dict) or ast[2] not in obj:
            raise CelError("no such key: %s" % ast[2])
        return obj[ast[2]]
    if op == "call":
        _, target, name, args = ast
        if target is None and name == "has":
            obj = cel_eval(args[0][1], env)
            return isinstance(obj, dict) and args[0][2] in obj
        if target is None and name == "size":
            return len(cel_eval(args[0], env))
        coll = cel_eval(target, env)
        if name == "size":
            return len(coll)
        var, body = args[0][1], args[1]
        def each(x):
            inner = dict(env)
            inner[var] = x
            return cel_eval(body, inner)
        items = list(coll)
        if name == "all":
            return all(each(x) is True for x in items)
        if name == "exists":
            return any(each(x) is True for x in items)
        if name == "exists_one":
            return sum(each(x) is True for x in items) == 1
        if name == "map":
            return [each(x) for x in items]
        return [x for x in items if each(x) is True]
    if op == "index":
        return cel_eval(ast[1], env)[cel_eval(ast[2], env)]
    if op == "list":
        return [cel_eval(x, env) for x in ast[1]]
    if op == "?:":
        return cel_eval(ast[2] if cel_eval(ast[1], env) else ast[3], env)
    if op == "u!":
        return not cel_eval(ast[1], env)
    if op == "u-":
        return -cel_eval(ast[1], env)
    if op == "||":  # CEL's commutative or/and: an error on one side is absorbed by a decisive other side
        return cel_logic(ast, env, True)
    if op == "&&":
        return cel_logic(ast, env, False)
    a, b = cel_eval(ast[1], env), cel_eval(ast[2], env)
    return {"==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b, "<=": lambda: a <= b,
            ">": lambda: a > b, ">=": lambda: a >= b, "in": lambda: a in b, "+": lambda: a + b,
            "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b, "%": lambda: a % b}[op]()

def cel_logic(ast, env, decisive):
    err = None
    for side in ast[1:]:
        try:
            if cel_eval(side, env) is decisive:
                return decisive
        except CelError as e:
            err = e
    if err is not None:
        raise err
    return not decisive

def cel_rules(schema, path="", out=None):
    """(path, schema node, rule, message) of every x-kubernetes-validations rule."""
    if out is None:
        out = []
    if isinstance(schema, dict):
        for r in schema.get("x-kubernetes-validations", []):
            out.append((path or ".", schema, r["rule"], r.get("message", "")))
        for k, v in schema.get("properties", {}).items():
            cel_rules(v, path + "." + k, out)
        for k in ("items", "additionalProperties"):
            if isinstance(schema.get(k), dict):
                cel_rules(schema[k], path + "[*]" if k == "items" else path + ".*", out)
    return out

def cel_violations(schema, doc, rules_by_node):
    """The messages of the rules `doc` breaks (an evaluation error breaks the rule too)."""
    bad = []
    if isinstance(schema, dict):
        for ast, message in rules_by_node.get(id(schema), []):
            try:
                if cel_eval(ast, {"self": doc}) is not True:
                    bad.append(message)
            except (CelError, TypeError, KeyError, IndexError) as e:
                bad.append("%s (%s)" % (message, e))
        if isinstance(doc, dict):
            for k, v in doc.items():
                sub = schema.get("properties", EMPTY).get(k)
                if sub is None and isinstance(schema.get("additionalProperties"), dict):
                    sub = schema["additionalProperties"]
                if sub is not None:
                    bad += cel_violations(sub, v, rules_by_node)
        if isinstance(doc, list) and isinstance(schema.get("items"), dict):
            for x in doc:
                bad += cel_violations(schema["items"], x, rules_by_node)
    return bad

def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    schemas = {}
    for f in glob.glob(os.path.join(root, "crds", "*.yaml")):
        crd = yaml.safe_load(open(f))
        kind = crd["spec"]["names"]["kind"]
        raw = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schemas[kind] = (jsonschema.Draft4Validator(strict(raw)), raw)
    # Every CEL rule parses and names only fields its schema has; malformed rules are refused.
    rules_by_node, n_rules, failures = {}, 0, []
    for kind, (_, raw) in sorted(schemas.items()):
        for path, node, rule, message in cel_rules(raw):
            n_rules += 1
            try:
                ast = CelParser(rule).parse()
                cel_check(ast, {"self": node})
                rules_by_node.setdefault(id(node), []).append((ast, kind + path + ": " + message))
            except CelError as e:
                failures.append("%s%s: rule %r: %s" % (kind, path, rule, e))
    for bad in ("self.a.all(x,", "self.a ||", "size(self.a) == ", "self.'a'", "has(self.a", "self.a ? b"):
        try:
            CelParser(bad).parse()
            failures.append("the CEL parser accepted %r" % bad)
        except CelError:
            pass
    wf_spec = schemas["Workflow"][1]["properties"]["spec"]
    for unknown in ("self.operatorz.all(o, true)", "self.operators.all(o, o.nmae == 'x')", "frobnicate(self)"):
        try:
            cel_check(CelParser(unknown).parse(), {"self": wf_spec})
            failures.append("the CEL check accepted %r" % unknown)
        except CelError:
            pass
    print("%d CEL rules parse and name only fields of their schemas" % n_rules)
    # No example manifest breaks the schema or a rule (a rule that rejects valid input is worse
    # than none).
    examples = sorted(glob.glob(os.path.join(root, "manifests", "**", "*.yaml"), recursive=True))
    n_docs = 0
    for f in examples:
        for d in yaml.safe_load_all(open(f)):
            if not isinstance(d, dict) or d.get("kind") not in schemas:
                continue
            n_docs += 1
            validator, raw = schemas[d["kind"]]
            errors = [e.message for e in validator.iter_errors(d)] + cel_violations(raw, d, rules_by_node)
            if errors:
                failures.append("%s %s/%s: %s" % (os.path.relpath(f, root), d["kind"], d["metadata"]["name"],
                                                   "; ".join(errors[:3])))
    print("%d example documents in manifests/ pass the schema and every CEL rule" % n_docs)
    goldens = sorted(glob.glob(os.path.join(root, "tests", "golden", "validate", "*.yaml")))
    by_schema, before_schema, by_cel, cel_reasons = [], [], [], []
    for g in goldens:
        try:
            # An alias bomb expands to gigabytes as JSON (what kubectl sends): refused client-side.
            if sum(isinstance(t, yaml.AliasToken) for t in yaml.scan(open(g))) > 20:
                before_schema.append(g)
                continue
            docs = [d for d in yaml.safe_load_all(open(g)) if d is not None]
        except yaml.YAMLError:
            before_schema.append(g)
            continue
        rejected = False
        unknown = False
        for d in docs:
            if not isinstance(d, dict) or d.get("kind") not in schemas or d.get("apiVersion") != "jellybean.dev/v1alpha1":
                unknown = True
                continue
            validator, raw = schemas[d["kind"]]
            if any(True for _ in validator.iter_errors(d)) or list_map_duplicates(raw, d):
                rejected = True
        if rejected:
            by_schema.append(g)
        elif unknown:
            before_schema.append(g)
        else:
            broken = [m for d in docs if d.get("kind") in schemas for m in cel_violations(schemas[d["kind"]][1], d, rules_by_node)]
            if broken:
                by_cel.append(g)
                cel_reasons.append("%s: %s" % (os.path.basename(g), broken[0]))
    n = len(goldens)
    print("CRD schema alone rejects %d of %d validation goldens (%d more are refused before the schema: "
          "unparsable YAML, an alias bomb, or no such kind/apiVersion; the rest need jbctl validate's cross-object checks)"
          % (len(by_schema), n, len(before_schema)))
    print("the CEL rules reject %d more (schema + CEL: %d of %d):\n  %s"
          % (len(by_cel), len(by_schema) + len(by_cel), n, "\n  ".join(cel_reasons)))
    missed = [os.path.basename(g) for g in goldens if g not in by_schema + before_schema + by_cel]
    print("not caught by the schema or CEL: " + ", ".join(missed))
    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    if len(by_cel) < MEASURED_CEL:
        print("FAIL: the CEL rules used to reject %d more goldens" % MEASURED_CEL)
        return 1
    if n < 50:
        print("FAIL: expected the validation goldens, found %d" % n)
        return 1
    if len(by_schema) < MEASURED:
        print("FAIL: the schema alone used to reject %d goldens" % MEASURED)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
