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
import sys

import jsonschema
import yaml

MEASURED = 26  # goldens the schema alone rejects (printed below); may only go up
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

def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    schemas = {}
    for f in glob.glob(os.path.join(root, "crds", "*.yaml")):
        crd = yaml.safe_load(open(f))
        kind = crd["spec"]["names"]["kind"]
        raw = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schemas[kind] = (jsonschema.Draft4Validator(strict(raw)), raw)
    goldens = sorted(glob.glob(os.path.join(root, "tests", "golden", "validate", "*.yaml")))
    by_schema, before_schema = [], []
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
    n = len(goldens)
    print("CRD schema alone rejects %d of %d validation goldens (%d more are refused before the schema: "
          "unparsable YAML, an alias bomb, or no such kind/apiVersion; the rest need jbctl validate's cross-object checks)"
          % (len(by_schema), n, len(before_schema)))
    missed = [os.path.basename(g) for g in goldens if g not in by_schema and g not in before_schema]
    print("not caught by the schema: " + ", ".join(missed))
    if n < 50:
        print("FAIL: expected the validation goldens, found %d" % n)
        return 1
    if len(by_schema) < MEASURED:
        print("FAIL: the schema alone used to reject %d goldens" % MEASURED)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
