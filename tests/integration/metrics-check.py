#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Parse vha-backend's --metrics file with prometheus_client's own text
parser and check every sample against the stats.json written at the same
moment (both come from one document). Usage: metrics-check.py FILE.prom
stats.json. Exit 0 when they agree, 1 with the differences, 77 when
prometheus_client is not installed."""
import json
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("skip: python3-prometheus-client is not installed")
    sys.exit(77)

prom_path, stats_path = sys.argv[1], sys.argv[2]
with open(prom_path) as f:
    text = f.read()
with open(stats_path) as f:
    stats = json.load(f)

families = {fam.name: fam for fam in text_string_to_metric_families(text)}
problems = []
checked = 0


def sample(name, labels):
    """The one sample of metric `name` (as exposed, with _total etc.) whose labels include `labels`."""
    found = []
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                found.append(s.value)
    if len(found) != 1:
        problems.append(f"{name}{labels}: {len(found)} samples")
        return None
    return found[0]


def expect(name, labels, want):
    global checked
    got = sample(name, labels)
    checked += 1
    if got is not None and got != want:
        problems.append(f"{name}{labels}: metrics say {got}, stats.json says {want}")


for want_type, fam in [("counter", "vha_device_requests"), ("gauge", "vha_device_connected"),
                       ("histogram", "vha_device_request_latency_seconds"),
                       ("histogram", "vha_queue_request_latency_seconds"), ("gauge", "vha_budget_total")]:
    if fam not in families or families[fam].type != want_type:
        problems.append(f"family {fam}: missing or not a {want_type}")

devices = stats["devices"]
expect("vha_devices", {}, len(devices))
for dev in devices:
    lab = {"domid": str(dev["frontend"]), "devid": str(dev["devid"]), "vdev": dev.get("vdev", ""),
           "target": dev.get("target", "")}
    t = dev["totals"]
    for key, metric in [("requests", "vha_device_requests_total"), ("reads", "vha_device_reads_total"),
                        ("writes", "vha_device_writes_total"), ("flushes", "vha_device_flushes_total"),
                        ("discards", "vha_device_discards_total"), ("bytes_read", "vha_device_read_bytes_total"),
                        ("bytes_written", "vha_device_written_bytes_total"), ("errors", "vha_device_errors_total"),
                        ("rejected", "vha_device_rejected_total"), ("resumed", "vha_device_resumed_total")]:
        expect(metric, lab, t[key])
    expect("vha_device_connections_total", lab, dev["connections"])
    expect("vha_device_connected", lab, 1 if dev["connected"] else 0)
    expect("vha_device_size_bytes", lab, dev["sectors"] * 512)
    for kind, key in [("grants", "grant_budget"), ("inflight", "inflight_budget"),
                      ("copy_bytes", "copy_budget"), ("memory_bytes", "memory_budget")]:
        expect("vha_device_budget", dict(lab, kind=kind), dev[key])
    lat = t["latency"]
    expect("vha_device_request_latency_seconds_count", lab, sum(lat["counts"]))
    expect("vha_device_request_latency_seconds_bucket", dict(lab, le="+Inf"), sum(lat["counts"]))
    # Every answered request is in the histogram once: none when there were none, never more.
    n = sum(lat["counts"])
    if (t["requests"] > 0) != (n > 0) or n > t["requests"] + t["rejected"]:
        problems.append(f"device {lab}: {n} latencies for {t['requests']} requests, {t['rejected']} rejected")
    for q in dev["queues"]:
        ql = dict(lab, queue=str(q["queue"]))
        for key, metric in [("requests", "vha_queue_requests_total"), ("bytes_read", "vha_queue_read_bytes_total"),
                            ("bytes_written", "vha_queue_written_bytes_total"), ("errors", "vha_queue_errors_total"),
                            ("rejected", "vha_queue_rejected_total"), ("resumed", "vha_queue_resumed_total"),
                            ("grants_mapped", "vha_queue_grants_mapped"), ("bytes_inflight", "vha_queue_inflight_bytes")]:
            expect(metric, ql, q[key])
        gc = q["grant_cache"]
        expect("vha_queue_grant_cache_hits_total", ql, gc["hits"])
        expect("vha_queue_grant_cache_misses_total", ql, gc["misses"])
        expect("vha_queue_grant_cache_entries", ql, gc["size"])
        expect("vha_queue_request_latency_seconds_count", ql, sum(q["latency"]["counts"]))
for kind, b in stats["budgets"].items():
    expect("vha_budget_total", {"kind": kind}, b["total"])
    expect("vha_budget_reserved", {"kind": kind}, b["reserved"])

if problems:
    print("\n".join(problems[:40]))
    print(f"{len(problems)} problem(s) in {checked} samples checked")
    sys.exit(1)
print(f"metrics agree with stats.json: {checked} samples in {len(families)} families checked")
