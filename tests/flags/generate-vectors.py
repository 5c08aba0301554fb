#!/usr/bin/env python3
"""Writes vectors.json: flag documents, contexts and the results every evaluator must give (docs/feature-flags.md).

The expectations are written here by hand from the specification; where a percentage decides, the variant comes from
bucket.py, an implementation of the bucket function independent of the .NET and Node ones. Run it after changing a
case: python3 tests/flags/generate-vectors.py > tests/flags/vectors.json
"""
import json
from bucket import bucket

KEYS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "ünïcødé", "user-0042"]

cases = []

def case(name, document, evaluations):
    cases.append({"name": name, "document": document, "evaluations": evaluations})

def ev(flag, kind, default, context, value, variant, reason, error=None):
    return {"flag": flag, "type": kind, "default": default, "context": context,
            "expect": {"value": value, "variant": variant, "reason": reason, "errorCode": error}}

# 1. No rules: the default variant, STATIC; disabled: the off variant, DISABLED; boolean variants implied.
case("static and disabled", {"flags": {
    "plain": {"type": "boolean", "defaultVariant": "on"},
    "killed": {"type": "boolean", "enabled": False, "defaultVariant": "on", "rules": [{"variant": "on"}]},
    "killed-string": {"type": "string", "enabled": False, "variants": {"a": "A", "b": "B"}, "defaultVariant": "a", "offVariant": "b"},
    "killed-no-off": {"type": "string", "enabled": False, "variants": {"a": "A", "b": "B"}, "defaultVariant": "a"},
}}, [
    ev("plain", "boolean", False, {}, True, "on", "STATIC"),
    ev("killed", "boolean", True, {"targetingKey": "alice"}, False, "off", "DISABLED"),
    ev("killed-string", "string", "zz", {}, "B", "b", "DISABLED"),
    ev("killed-no-off", "string", "zz", {}, "A", "a", "DISABLED"),
])

# 2. Users, instances, groups, attributes; first match wins; the instance id stands in for a missing targeting key.
targeting = {"flags": {"f": {
    "type": "string",
    "variants": {"users": "U", "instances": "I", "groups": "G", "attrs": "A", "fallback": "F"},
    "defaultVariant": "fallback",
    "rules": [
        {"name": "named users", "users": ["alice", "bob"], "variant": "users"},
        {"instances": ["pod-1"], "variant": "instances"},
        {"groups": ["beta", "staff"], "variant": "groups"},
        {"attributes": {"region": ["eu", "uk"], "tier": ["gold"]}, "variant": "attrs"},
    ],
}}}
case("targeting conditions in order", targeting, [
    ev("f", "string", "", {"targetingKey": "alice"}, "U", "users", "TARGETING_MATCH"),
    ev("f", "string", "", {"targetingKey": "alice", "instanceId": "pod-1"}, "U", "users", "TARGETING_MATCH"),
    ev("f", "string", "", {"targetingKey": "carol", "instanceId": "pod-1"}, "I", "instances", "TARGETING_MATCH"),
    ev("f", "string", "", {"instanceId": "bob"}, "U", "users", "TARGETING_MATCH"),
    ev("f", "string", "", {"targetingKey": "carol", "groups": ["x", "staff"]}, "G", "groups", "TARGETING_MATCH"),
    ev("f", "string", "", {"targetingKey": "carol", "groups": ["Staff"]}, "F", "fallback", "DEFAULT"),
    ev("f", "string", "", {"targetingKey": "carol", "attributes": {"region": "uk", "tier": "gold"}}, "A", "attrs", "TARGETING_MATCH"),
    ev("f", "string", "", {"targetingKey": "carol", "attributes": {"region": "uk"}}, "F", "fallback", "DEFAULT"),
    ev("f", "string", "", {"targetingKey": "carol", "attributes": {"region": "us", "tier": "gold"}}, "F", "fallback", "DEFAULT"),
    ev("f", "string", "", {}, "F", "fallback", "DEFAULT"),
])

# 3. Time windows: start inclusive, end exclusive, offsets honoured.
case("time windows", {"flags": {"w": {
    "type": "boolean", "defaultVariant": "off",
    "rules": [{"window": {"start": "2027-01-10T08:00:00Z", "end": "2027-01-10T10:00:00+01:00"}, "variant": "on"}],
}}}, [
    ev("w", "boolean", False, {"now": "2027-01-10T07:59:59Z"}, False, "off", "DEFAULT"),
    ev("w", "boolean", False, {"now": "2027-01-10T08:00:00Z"}, True, "on", "TARGETING_MATCH"),
    ev("w", "boolean", False, {"now": "2027-01-10T10:30:00+02:00"}, True, "on", "TARGETING_MATCH"),
    ev("w", "boolean", False, {"now": "2027-01-10T09:00:00Z"}, False, "off", "DEFAULT"),
    ev("w", "boolean", False, {"now": "2027-01-10T08:59:59.999Z"}, True, "on", "TARGETING_MATCH"),
])

# 4. Prerequisites: the other flag evaluated with the same context.
case("prerequisites", {"flags": {
    "base": {"type": "boolean", "defaultVariant": "off", "rules": [{"users": ["alice", "bob"], "variant": "on"}]},
    "base-off": {"type": "boolean", "enabled": False, "defaultVariant": "on"},
    "child": {"type": "number", "variants": {"low": 1, "high": 2.5}, "defaultVariant": "low",
              "rules": [{"users": ["bob"], "prerequisites": [{"flag": "base", "variants": ["on"]}], "variant": "high"},
                        {"prerequisites": [{"flag": "base", "variants": ["off"]}, {"flag": "base-off", "variants": ["off"]}], "variant": "high"}]},
}}, [
    ev("child", "number", 0, {"targetingKey": "bob"}, 2.5, "high", "TARGETING_MATCH"),
    ev("child", "number", 0, {"targetingKey": "alice"}, 1, "low", "DEFAULT"),
    ev("child", "number", 0, {"targetingKey": "carol"}, 2.5, "high", "TARGETING_MATCH"),
])

# 5. Rollouts: bucket ranges in order, the rest falls through; no key, no rollout.
def rollout_expect(seed, key, entries, fallthrough):
    b = bucket(seed, key)
    upper = 0
    for variant, percentage in entries:
        upper += round(percentage * 100)
        if b < upper:
            return variant, "SPLIT"
    return fallthrough

ramp = {"flags": {
    "Checkout.NewFlow": {"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 25}]}]},
    "abc": {"type": "string", "variants": {"a": "A", "b": "B", "c": "C"}, "defaultVariant": "c",
            "rules": [{"rollout": [{"variant": "a", "percentage": 33.33}, {"variant": "b", "percentage": 33.33}]},
                      {"groups": ["beta"], "variant": "b"}]},
    "shared-1": {"type": "boolean", "seed": "shared-seed", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 50}]}]},
    "shared-2": {"type": "boolean", "seed": "shared-seed", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 50}]}]},
    "everyone": {"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 100}]}]},
    "nobody": {"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 0}]}]},
}}
evals = []
values = {"a": "A", "b": "B", "c": "C"}
for key in KEYS:
    variant, reason = rollout_expect("Checkout.NewFlow", key, [("on", 25)], ("off", "DEFAULT"))
    evals.append(ev("Checkout.NewFlow", "boolean", False, {"targetingKey": key}, variant == "on", variant, reason))
    variant, reason = rollout_expect("abc", key, [("a", 33.33), ("b", 33.33)], ("c", "DEFAULT"))
    evals.append(ev("abc", "string", "", {"targetingKey": key}, values[variant], variant, reason))
    variant, reason = rollout_expect("abc", key, [("a", 33.33), ("b", 33.33)], ("b", "TARGETING_MATCH"))
    evals.append(ev("abc", "string", "", {"targetingKey": key, "groups": ["beta"]}, values[variant], variant, reason))
    for flag in ("shared-1", "shared-2"):
        variant, reason = rollout_expect("shared-seed", key, [("on", 50)], ("off", "DEFAULT"))
        evals.append(ev(flag, "boolean", False, {"targetingKey": key}, variant == "on", variant, reason))
    evals.append(ev("everyone", "boolean", False, {"targetingKey": key}, True, "on", "SPLIT"))
    evals.append(ev("nobody", "boolean", True, {"targetingKey": key}, False, "off", "DEFAULT"))
variant, reason = rollout_expect("Checkout.NewFlow", "pod-9", [("on", 25)], ("off", "DEFAULT"))
evals.append(ev("Checkout.NewFlow", "boolean", False, {"instanceId": "pod-9"}, variant == "on", variant, reason))
evals.append(ev("everyone", "boolean", False, {}, False, "off", "DEFAULT"))
case("rollouts", ramp, evals)

# 6. Errors: unknown flag, wrong type; json and integer reads.
case("errors and types", {"flags": {
    "s": {"type": "string", "variants": {"x": "X"}, "defaultVariant": "x"},
    "n": {"type": "number", "variants": {"whole": 3, "half": 0.5}, "defaultVariant": "whole", "rules": [{"users": ["alice"], "variant": "half"}]},
    "j": {"type": "json", "variants": {"small": {"max": 10, "tags": ["a"]}, "none": None}, "defaultVariant": "small"},
}}, [
    ev("missing", "boolean", True, {}, True, None, "ERROR", "FLAG_NOT_FOUND"),
    ev("s", "boolean", True, {}, True, None, "ERROR", "TYPE_MISMATCH"),
    ev("s", "string", "d", {}, "X", "x", "STATIC"),
    ev("n", "integer", 7, {}, 3, "whole", "DEFAULT"),
    ev("n", "integer", 7, {"targetingKey": "alice"}, 7, None, "ERROR", "TYPE_MISMATCH"),
    ev("n", "number", 7, {"targetingKey": "alice"}, 0.5, "half", "TARGETING_MATCH"),
    ev("j", "json", None, {}, {"max": 10, "tags": ["a"]}, "small", "STATIC"),
    ev("j", "string", "d", {}, "d", None, "ERROR", "TYPE_MISMATCH"),
])

def bad(name, content, path):
    return {"name": name, "content": content if isinstance(content, str) else json.dumps(content), "path": path}

F = lambda flag: {"flags": {"f": flag}}
invalid = [
    bad("not an object", "[]", ""),
    bad("no flags", {}, ""),
    bad("unknown top-level field", {"flags": {}, "extra": 1}, ""),
    bad("comments are not JSON", '{"flags": {} /* no */}', ""),
    bad("trailing comma", '{"flags": {},}', ""),
    bad("duplicate flag", '{"flags": {"f": {"type": "boolean", "defaultVariant": "on"}, "f": {"type": "boolean", "defaultVariant": "on"}}}', 'flags["f"]'),
    bad("flags differing in case", {"flags": {"Beta": {"type": "boolean", "defaultVariant": "on"}, "beta": {"type": "boolean", "defaultVariant": "on"}}}, 'flags["beta"]'),
    bad("colon in a name", {"flags": {"a:b": {"type": "boolean", "defaultVariant": "on"}}}, 'flags["a:b"]'),
    bad("name starting with a dot", {"flags": {".a": {"type": "boolean", "defaultVariant": "on"}}}, 'flags[".a"]'),
    bad("unknown type", F({"type": "date", "defaultVariant": "on"}), 'flags["f"].type'),
    bad("unknown flag field", F({"type": "boolean", "defaultVariant": "on", "varaints": {}}), 'flags["f"]'),
    bad("no default variant", F({"type": "boolean"}), 'flags["f"]'),
    bad("default variant unknown", F({"type": "boolean", "defaultVariant": "yes"}), 'flags["f"].defaultVariant'),
    bad("string flag without variants", F({"type": "string", "defaultVariant": "a"}), 'flags["f"]'),
    bad("variant of the wrong type", F({"type": "number", "variants": {"a": "1"}, "defaultVariant": "a"}), 'flags["f"].variants["a"]'),
    bad("number variant out of range", '{"flags": {"f": {"type": "number", "variants": {"big": 1e400}, "defaultVariant": "big"}}}', 'flags["f"].variants["big"]'),
    bad("boolean variant not a boolean", F({"type": "boolean", "variants": {"on": 1}, "defaultVariant": "on"}), 'flags["f"].variants["on"]'),
    bad("enabled not a boolean", F({"type": "boolean", "defaultVariant": "on", "enabled": "yes"}), 'flags["f"].enabled'),
    bad("rule with variant and rollout", F({"type": "boolean", "defaultVariant": "on", "rules": [{"variant": "on", "rollout": [{"variant": "on", "percentage": 1}]}]}), 'flags["f"].rules[0]'),
    bad("rule without outcome", F({"type": "boolean", "defaultVariant": "on", "rules": [{"users": ["a"]}]}), 'flags["f"].rules[0]'),
    bad("rule variant unknown", F({"type": "boolean", "defaultVariant": "on", "rules": [{"variant": "maybe"}]}), 'flags["f"].rules[0].variant'),
    bad("unknown rule field", F({"type": "boolean", "defaultVariant": "on", "rules": [{"user": ["a"], "variant": "on"}]}), 'flags["f"].rules[0]'),
    bad("users not strings", F({"type": "boolean", "defaultVariant": "on", "rules": [{"users": [1], "variant": "on"}]}), 'flags["f"].rules[0].users'),
    bad("percentages over 100", F({"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 60}, {"variant": "off", "percentage": 40.01}]}]}), 'flags["f"].rules[0].rollout'),
    bad("three decimals", F({"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 10.005}]}]}), 'flags["f"].rules[0].rollout[0].percentage'),
    bad("negative percentage", F({"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": -1}]}]}), 'flags["f"].rules[0].rollout[0].percentage'),
    bad("empty rollout", F({"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": []}]}), 'flags["f"].rules[0].rollout'),
    bad("window without offset", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"start": "2027-01-10T08:00:00"}, "variant": "on"}]}), 'flags["f"].rules[0].window.start'),
    bad("window with a space for T", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"start": "2027-01-10 08:00:00Z"}, "variant": "on"}]}), 'flags["f"].rules[0].window.start'),
    bad("window with a short month", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"end": "2027-1-10T08:00:00Z"}, "variant": "on"}]}), 'flags["f"].rules[0].window.end'),
    bad("window with a compact offset", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"end": "2027-01-10T08:00:00+0100"}, "variant": "on"}]}), 'flags["f"].rules[0].window.end'),
    bad("window on a day that does not exist", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"end": "2027-02-30T08:00:00Z"}, "variant": "on"}]}), 'flags["f"].rules[0].window.end'),
    bad("window backwards", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"start": "2027-01-10T08:00:00Z", "end": "2027-01-10T08:00:00Z"}, "variant": "on"}]}), 'flags["f"].rules[0].window'),
    bad("empty window", F({"type": "boolean", "defaultVariant": "off", "rules": [{"window": {}, "variant": "on"}]}), 'flags["f"].rules[0].window'),
    bad("prerequisite flag unknown", F({"type": "boolean", "defaultVariant": "off", "rules": [{"prerequisites": [{"flag": "g", "variants": ["on"]}], "variant": "on"}]}), 'flags["f"].rules[0].prerequisites[0].flag'),
    bad("prerequisite variant unknown", {"flags": {"g": {"type": "boolean", "defaultVariant": "on"}, "f": {"type": "boolean", "defaultVariant": "off", "rules": [{"prerequisites": [{"flag": "g", "variants": ["yes"]}], "variant": "on"}]}}}, 'flags["f"].rules[0].prerequisites[0].variants'),
    bad("prerequisite cycle", {"flags": {
        "a": {"type": "boolean", "defaultVariant": "off", "rules": [{"prerequisites": [{"flag": "b", "variants": ["on"]}], "variant": "on"}]},
        "b": {"type": "boolean", "defaultVariant": "off", "rules": [{"prerequisites": [{"flag": "a", "variants": ["on"]}], "variant": "on"}]}}}, 'flags["b"]'),
    bad("prerequisite on itself", F({"type": "boolean", "defaultVariant": "off", "rules": [{"prerequisites": [{"flag": "f", "variants": ["on"]}], "variant": "on"}]}), 'flags["f"]'),
    bad("duplicate name inside a json value", '{"flags": {"f": {"type": "json", "variants": {"a": {"x": 1, "x": 2}}, "defaultVariant": "a"}}}', 'flags["f"].variants["a"]'),
    bad("json value nested too deep", '{"flags": {"f": {"type": "json", "variants": {"a": ' + "[" * 40 + "]" * 40 + '}, "defaultVariant": "a"}}}', ""),
    bad("too many variants", F({"type": "string", "variants": {f"v{i}": "x" for i in range(65)}, "defaultVariant": "v0"}), 'flags["f"].variants'),
]

buckets = [{"seed": seed, "key": key, "bucket": bucket(seed, key)}
           for seed in ["Checkout.NewFlow", "shared-seed", "shop/application"] for key in KEYS + ["", "pod-1", "i" * 300]]

print(json.dumps({"version": 1, "buckets": buckets, "cases": cases, "invalid": invalid}, indent=1, ensure_ascii=False))
