#!/usr/bin/env python3
"""tests/chaos/check.py: the independent checker of the randomized fault
suite (tests/chaos/run). Python 3 standard library only; it shares no code
with the client library's bookkeeping. It reads

  * the producers' acknowledgement logs (st_chaos produce: a "# producer
    ID ..." line, then "partition offset seq ack_ms" per acknowledged
    record; the record's value is "ID:seq"),
  * the consumer's commit log (st_chaos consume: "commit partition offset
    ms" per acknowledged commit, "final partition offset" at the end),
  * every replica's dump (`strata log dump --json --records` of each
    broker's partition directory, named b<broker>.<topic>-<partition>.json),
  * the fault log and the liveness problems the run noted,

and checks: every acknowledged record is stored at its acknowledged
partition and offset (by content: producer id and sequence), below the
high watermark; no record is stored twice; each producer's records are in
sequence order in each partition; all replicas hold the same batches
(offsets, leader epoch, CRC) below the high watermark, and intact ones;
committed offsets never go back, the final committed offset is not below
an acknowledged commit, and no commit lies past the high watermark. The
high watermark of a partition is the largest one any replica's log
directory checkpointed (the leader's; the run waits for quiet producers
and full ISRs before it freezes the brokers).

Prints a summary (records acknowledged, records stored, faults injected
by kind, violations by kind with the first examples) and exits 1 on any
violation. --self-test runs the checker on fabricated inputs: a clean one
must pass and each mutation (lost record, duplicate, reorder, divergent
replica, wrong offset, commit going back) must be caught."""

import argparse
import glob
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict

EXAMPLES = 5


class Violations:
    def __init__(self):
        self.by_kind = defaultdict(list)

    def add(self, kind, msg):
        self.by_kind[kind].append(msg)

    def kinds(self):
        return set(self.by_kind)

    def total(self):
        return sum(len(v) for v in self.by_kind.values())


def read_acks(paths, viol):
    """[(producer, partition, offset, seq)]"""
    acks = []
    for path in paths:
        producer = None
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if line.startswith("#"):
                    m = re.match(r"# producer (\S+)", line)
                    if m:
                        producer = m.group(1)
                    continue
                parts = line.split()
                if len(parts) < 3 or producer is None:
                    viol.add("input", "%s:%d: malformed ack line %r" % (path, n, line.strip()))
                    continue
                acks.append((producer, int(parts[0]), int(parts[1]), int(parts[2])))
    return acks


def read_commits(path, viol):
    """({partition: [offset in log order]}, {partition: final offset})"""
    commits, final = defaultdict(list), {}
    if not path or not os.path.exists(path):
        return commits, final
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "commit" and len(parts) >= 3:
                commits[int(parts[1])].append(int(parts[2]))
            elif parts[0] == "final" and len(parts) >= 3:
                final[int(parts[1])] = int(parts[2])
            else:
                viol.add("input", "%s:%d: malformed commit line %r" % (path, n, line.strip()))
    return commits, final


def read_dumps(dirpath, topic, viol):
    """{partition: {broker: dump}}"""
    out = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(dirpath, "b*.json"))):
        m = re.match(r"b(\d+)\.(.+)-(\d+)\.json$", os.path.basename(path))
        if not m or m.group(2) != topic:
            continue
        broker, part = int(m.group(1)), int(m.group(3))
        try:
            with open(path) as f:
                out[part][broker] = json.load(f)
        except (OSError, ValueError) as e:
            viol.add("dump", "%s: unreadable dump: %s" % (path, e))
    return out


def batches(dump):
    for seg in dump.get("segments", []):
        for b in seg.get("batches", []):
            yield b


def parse_value(rec):
    """(producer, seq) of a record written by st_chaos produce, or None."""
    v = rec.get("value")
    if not isinstance(v, str) or rec.get("value_encoding"):
        return None
    m = re.match(r"^(.+):(\d+)$", v)
    return (m.group(1), int(m.group(2))) if m else None


def check(args):
    viol = Violations()
    acks = read_acks(args.acks, viol)
    commits, final = read_commits(args.commits, viol)
    dumps = read_dumps(args.dumps, args.topic, viol)
    faults = Counter()
    if args.faults and os.path.exists(args.faults):
        with open(args.faults) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    faults[parts[1]] += 1
    if args.liveness and os.path.exists(args.liveness):
        with open(args.liveness) as f:
            for line in f:
                if line.strip():
                    viol.add("liveness", line.strip())

    where = defaultdict(list)  # (producer, seq) -> [(partition, offset)] below the HW
    content = {}  # (partition, offset) -> (producer, seq)
    hws = {}
    stored = 0
    for part in range(args.partitions):
        reps = dumps.get(part, {})
        if not reps:
            viol.add("dump", "partition %d: no replica dumped" % part)
            continue
        for broker, d in sorted(reps.items()):
            for p in d.get("problems", []):
                viol.add("storage", "partition %d broker %d: %s position %s offset %s: %s"
                         % (part, broker, p.get("file"), p.get("position"), p.get("offset"), p.get("error")))
        hw_of = {b: d.get("high_watermark") for b, d in reps.items() if d.get("high_watermark") is not None}
        if not hw_of:
            viol.add("dump", "partition %d: no replica has a high watermark checkpoint" % part)
            continue
        hw = max(hw_of.values())
        hws[part] = hw
        ref = min(b for b, h in hw_of.items() if h == hw)
        # replicas: the same batches below the HW
        sig = {}
        for broker, d in reps.items():
            sig[broker] = [(b.get("base_offset"), b.get("last_offset"), b.get("leader_epoch"), b.get("crc"),
                            b.get("record_count"), b.get("status"))
                           for b in batches(d) if b.get("base_offset") is not None and b["base_offset"] < hw]
        for broker in sorted(reps):
            if broker == ref or sig[broker] == sig[ref]:
                continue
            a, b = sig[ref], sig[broker]
            i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            fa = a[i] if i < len(a) else "nothing"
            fb = b[i] if i < len(b) else "nothing"
            viol.add("divergent", "partition %d below HW %d: broker %d has %s where broker %d has %s "
                     "(base, last, epoch, crc, count, status); %d vs %d batches"
                     % (part, hw, broker, fb, ref, fa, len(b), len(a)))
        # the reference replica's records below the HW
        expect = None
        last_seq = {}
        for b in batches(reps[ref]):
            if b.get("status") != "ok" or b["base_offset"] >= hw:
                continue
            if expect is not None and b["base_offset"] != expect:
                viol.add("gap", "partition %d: offsets %d..%d missing below HW %d on broker %d"
                         % (part, expect, b["base_offset"] - 1, hw, ref))
            expect = b["last_offset"] + 1
            for r in b.get("records", []):
                if r["offset"] >= hw:
                    continue
                stored += 1
                pv = parse_value(r)
                if pv is None:
                    continue
                content[(part, r["offset"])] = pv
                where[pv].append((part, r["offset"]))
                prod, seq = pv
                prev = last_seq.get(prod)
                if prev is not None and seq <= prev[0]:
                    viol.add("order", "partition %d: %s seq %d at offset %d after seq %d at offset %d"
                             % (part, prod, seq, r["offset"], prev[0], prev[1]))
                last_seq[prod] = (seq, r["offset"])
        if expect is not None and expect < hw:
            viol.add("gap", "partition %d: broker %d ends at %d, below HW %d" % (part, ref, expect, hw))
        elif expect is None and hw > 0:
            viol.add("gap", "partition %d: broker %d holds nothing below HW %d" % (part, ref, hw))

    for pv, locs in where.items():
        if len(locs) > 1:
            viol.add("duplicate", "%s seq %d stored %d times: %s"
                     % (pv[0], pv[1], len(locs), ", ".join("%d/%d" % l for l in locs)))
    for prod, part, off, seq in acks:
        if part not in hws:
            continue
        got = content.get((part, off))
        if got == (prod, seq):
            continue
        locs = where.get((prod, seq))
        if locs:
            viol.add("wrong_offset", "%s seq %d acknowledged at %d/%d, stored at %s (%d/%d holds %s)"
                     % (prod, seq, part, off, ", ".join("%d/%d" % l for l in locs), part, off,
                        "%s:%d" % got if got else "nothing"))
        else:
            viol.add("lost", "%s seq %d acknowledged at %d/%d (HW %d), not stored below the HW"
                     % (prod, seq, part, off, hws[part]))
    for part, offs in sorted(commits.items()):
        for i in range(1, len(offs)):
            if offs[i] < offs[i - 1]:
                viol.add("commit_backwards", "partition %d: commit %d after commit %d" % (part, offs[i], offs[i - 1]))
        if offs and part in final and final[part] < max(offs):
            viol.add("commit_lost", "partition %d: committed offset %d at the end, %d was acknowledged"
                     % (part, final[part], max(offs)))
        if offs and part in hws and max(offs) > hws[part]:
            viol.add("commit_beyond_hw", "partition %d: commit %d past the HW %d" % (part, max(offs), hws[part]))

    ncommits = sum(len(v) for v in commits.values())
    print("check: %d records acknowledged by %d producer(s), %d stored below the HW in %d partition(s), "
          "%d commits" % (len(acks), len({a[0] for a in acks}), stored, len(hws), ncommits))
    print("check: faults injected: %s" % (", ".join("%s=%d" % kv for kv in sorted(faults.items())) or "none"))
    for kind in sorted(viol.by_kind):
        msgs = viol.by_kind[kind]
        print("VIOLATION %s: %d" % (kind, len(msgs)))
        for m in msgs[:EXAMPLES]:
            print("  " + m)
    print("check: %s (%d violation(s))" % ("ok" if not viol.total() else "FAIL", viol.total()))
    return viol


# ---------------------------------------------------------------- self-test

def _write_case(d, log, acks, commits, final, replica2=None, hw=None):
    """One partition, two replicas. log: [(producer, seq)] by offset, one
    record per batch; acks: [(producer, offset, seq)]."""
    os.makedirs(os.path.join(d, "dumps"))

    def dump(entries, crc_change=None):
        bs = []
        for off, (prod, seq) in enumerate(entries):
            crc = "%08x" % (off * 7919)
            if crc_change is not None and off == crc_change:
                crc = "deadbeef"
            bs.append({"position": off * 100, "status": "ok", "base_offset": off, "last_offset": off,
                       "record_count": 1, "leader_epoch": 0, "crc": crc, "crc_valid": True,
                       "records": [{"offset": off, "timestamp": 0, "key": "k", "value": "%s:%d" % (prod, seq),
                                    "headers": []}]})
        return {"type": "partition", "high_watermark": len(entries) if hw is None else hw,
                "segments": [{"base_offset": 0, "batches": bs}], "problems": [], "ok": True}

    with open(os.path.join(d, "dumps", "b1.chaos-0.json"), "w") as f:
        json.dump(dump(log), f)
    with open(os.path.join(d, "dumps", "b2.chaos-0.json"), "w") as f:
        json.dump(dump(log, crc_change=replica2), f)
    with open(os.path.join(d, "acks.P1"), "w") as f:
        f.write("# producer P1 idempotence 1\n")
        for prod, off, seq in acks:
            if prod == "P1":
                f.write("0 %d %d 0\n" % (off, seq))
    with open(os.path.join(d, "acks.P2"), "w") as f:
        f.write("# producer P2 idempotence 1\n")
        for prod, off, seq in acks:
            if prod == "P2":
                f.write("0 %d %d 0\n" % (off, seq))
    with open(os.path.join(d, "commits"), "w") as f:
        f.write("# consumer group g\n")
        for c in commits:
            f.write("commit 0 %d 0\n" % c)
        f.write("final 0 %d\n" % final)
    with open(os.path.join(d, "faults.log"), "w") as f:
        f.write("3 kill_broker broker 1\n")


def self_test():
    log = [("P1", i) if i % 2 == 0 else ("P2", i) for i in range(12)]
    acks = [(p, off, s) for off, (p, s) in enumerate(log)]
    cases = [
        ("clean", dict(log=log, acks=acks, commits=[2, 5, 12], final=12), set()),
        ("lost record", dict(log=log[:11], acks=acks, commits=[2, 5, 11], final=11), {"lost"}),
        ("duplicate", dict(log=log + [("P1", 4)], acks=acks, commits=[2, 5, 12], final=12), {"duplicate"}),
        ("reorder", dict(log=log[:4] + [log[6], log[5], log[4]] + log[7:],
                         acks=acks[:4] + [("P1", 6, 4), ("P2", 5, 5), ("P1", 4, 6)] + acks[7:],
                         commits=[2, 5, 12], final=12), {"order"}),
        ("divergent replica", dict(log=log, acks=acks, commits=[2, 5, 12], final=12, replica2=7), {"divergent"}),
        ("wrong offset", dict(log=log, acks=acks[:3] + [("P2", 5, 3), ("P1", 3, 4)] + acks[5:],
                              commits=[2, 5, 12], final=12), {"wrong_offset"}),
        ("commit going back", dict(log=log, acks=acks, commits=[2, 5, 3, 12], final=12), {"commit_backwards"}),
        ("commit lost", dict(log=log, acks=acks, commits=[2, 5, 12], final=5), {"commit_lost"}),
    ]
    failed = 0
    for name, kw, want in cases:
        d = tempfile.mkdtemp(prefix="chaos-selftest.")
        try:
            _write_case(d, **kw)
            ns = argparse.Namespace(acks=sorted(glob.glob(os.path.join(d, "acks.*"))),
                                    commits=os.path.join(d, "commits"), dumps=os.path.join(d, "dumps"),
                                    faults=os.path.join(d, "faults.log"), liveness=None, partitions=1,
                                    topic="chaos")
            saved = sys.stdout
            sys.stdout = open(os.devnull, "w")
            try:
                got = check(ns).kinds()
            finally:
                sys.stdout.close()
                sys.stdout = saved
            ok = got == want if not want else want <= got and got <= want | {"order"}
            print("self-test %-18s: %s (expected %s, found %s)"
                  % (name, "ok" if ok else "FAIL", sorted(want) or "none", sorted(got) or "none"))
            failed += 0 if ok else 1
        finally:
            shutil.rmtree(d)
    print("self-test: %s" % ("ok" if not failed else "%d case(s) FAILED" % failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--acks", nargs="*", default=[])
    ap.add_argument("--commits")
    ap.add_argument("--dumps")
    ap.add_argument("--faults")
    ap.add_argument("--liveness")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--topic", default="chaos")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.dumps:
        ap.error("--dumps is required")
    return 1 if check(args).total() else 0


if __name__ == "__main__":
    sys.exit(main())
