#!/usr/bin/env python3
"""Offline study of fusing the bm25 and dense runs into one default (issue #16, must-have 2).

Reads the runs `eval/relevance-table.sh` leaves in eval/results/runs (top 100 per query, with
scores), fuses the bm25 and dense lists per query with each rule below, and scores nDCG@10 as
trec_eval does (graded gains; TREC DL 2019 with its pool). For each rule it prints the value on
every collection and the worst shortfall against the best single profile (bm25, dense, hybrid)
of that collection: a default that holds needs a shortfall >= 0 on all four at once.

Then, per query, how much the dense-heavy fusion beats the bm25-heavy one, and how well features
of the two lists (available at query time) predict it: a query-adaptive weight needs a feature
that does.

    python3 eval/fusion-study.py [RUNS_DIR]     (default: eval/results/runs)

A document missing from one list gets that list's floor (its lowest score in the top 100, or 0
after normalisation): the runs hold 100 per list, as the first phase does.
"""
import collections
import json
import math
import os
import statistics as st
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "eval/results/runs")
DATASETS = os.environ.get("SHOAL_DATASETS", os.path.join(ROOT, "../shared/datasets"))
DIRS = {
    "scifact": os.path.join(ROOT, "testdata/scifact"),
    "cranfield": os.path.join(ROOT, "testdata/cranfield"),
    "cacm": os.path.join(ROOT, "testdata/cacm"),
    "dl19": os.path.join(DATASETS, "trec-dl-2019-passage-bm25top100"),
}
COLLECTIONS = [c for c in DIRS if os.path.exists(os.path.join(RUNS, c + "-bm25.run"))]


def read_qrels(c):
    q = collections.defaultdict(dict)
    with open(os.path.join(DIRS[c], "qrels/test.tsv")) as f:
        for i, line in enumerate(f):
            p = line.split()
            if i == 0 and not p[-1].lstrip("-").isdigit():
                continue  # BEIR header
            qid, doc, rel = (p[0], p[2], p[3]) if len(p) == 4 else p
            q[qid][doc] = int(rel)
    return q


def read_run(c, profile):
    r = collections.defaultdict(list)
    with open(os.path.join(RUNS, f"{c}-{profile}.run")) as f:
        for line in f:
            qid, _, doc, _, score, _ = line.split()
            r[qid].append((doc, float(score)))
    return r


def read_queries(c):
    with open(os.path.join(DIRS[c], "queries.jsonl")) as f:
        return {j["_id"]: j["text"] for j in map(json.loads, f)}


def ndcg10(ranked, rel):
    dcg = sum(max(rel.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted((v for v in rel.values() if v > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


DATA = {c: (read_run(c, "bm25"), read_run(c, "dense"), read_qrels(c)) for c in COLLECTIONS}
TEXT = {c: read_queries(c) for c in COLLECTIONS}


def judged(c):
    return [(qid, rel) for qid, rel in DATA[c][2].items() if any(v > 0 for v in rel.values())]


def mean_ndcg(c, ranking):
    return st.mean(ndcg10(ranking(qid), rel) for qid, rel in judged(c))


BEST = {c: max(mean_ndcg(c, lambda q, r=read_run(c, p): [d for d, _ in r.get(q, [])])
               for p in ("bm25", "dense", "hybrid")) for c in COLLECTIONS}


def order(scores):
    return [d for d, _ in sorted(scores.items(), key=lambda x: (-x[1], x[0]))]


def rrf(k, w_bm25, w_dense):
    def fuse(b, d, _qid, _c):
        s = collections.defaultdict(float)
        for i, (doc, _) in enumerate(b):
            s[doc] += w_bm25 / (k + i + 1)
        for i, (doc, _) in enumerate(d):
            s[doc] += w_dense / (k + i + 1)
        return order(s)
    return fuse


def normalise(lst, mode):
    sc = [s for _, s in lst]
    if mode == "minmax":
        lo, hi = min(sc), max(sc)
        return {x: (s - lo) / (hi - lo) if hi > lo else 1.0 for x, s in lst}, 0.0
    m, sd = st.mean(sc), st.pstdev(sc) or 1.0
    return {x: (s - m) / sd for x, s in lst}, (min(sc) - m) / sd


def convex(alpha_of, mode):
    """alpha (the dense weight) from alpha_of(b, d, qid, c), a number for a static rule."""
    def fuse(b, d, qid, c):
        if not b or not d:
            return [x for x, _ in (b or d)]
        a = alpha_of(b, d, qid, c) if callable(alpha_of) else alpha_of
        nb, fb = normalise(b, mode)
        nd, fd = normalise(d, mode)
        return order({x: a * nd.get(x, fd) + (1 - a) * nb.get(x, fb) for x in set(nb) | set(nd)})
    return fuse


def sharpness(lst, k=10):
    """How far the head stands out of the list: (s1 - s_k) / (s1 - s_last)."""
    sc = [s for _, s in lst]
    return (sc[0] - sc[min(k, len(sc)) - 1]) / (sc[0] - sc[-1]) if len(sc) > 1 and sc[0] > sc[-1] else 0.5


def by_sharpness(b, d, _qid, _c):
    hb, hd = sharpness(b), sharpness(d)
    return hd / (hb + hd) if hb + hd > 0 else 0.5


def by_endorsement(b, d, _qid, _c, k=10):
    """Dense weighs more when BM25 scores dense's top k high, and less when dense scores BM25's high."""
    nb, _ = normalise(b, "minmax")
    nd, _ = normalise(d, "minmax")
    bm25_likes_dense = st.mean(nb.get(x, 0) for x, _ in d[:k])
    dense_likes_bm25 = st.mean(nd.get(x, 0) for x, _ in b[:k])
    total = bm25_likes_dense + dense_likes_bm25
    return 0.1 + 0.8 * (bm25_likes_dense / total) if total > 0 else 0.5


def report(name, fuse):
    got = {c: mean_ndcg(c, lambda q, c=c: fuse(DATA[c][0].get(q, []), DATA[c][1].get(q, []), q, c))
           for c in COLLECTIONS}
    gap = min(got[c] - BEST[c] for c in COLLECTIONS)
    print(f"| {name} | " + " | ".join(f"{got[c]:.4f}" for c in COLLECTIONS) + f" | {gap:+.4f} |")


def features(b, d, qid, c):
    bs, ds = [s for _, s in b], [s for _, s in d]
    return {
        "query words": len(TEXT[c][qid].split()),
        "bm25 top-1": bs[0],
        "bm25 (s1-s10)/s1": (bs[0] - bs[min(9, len(bs) - 1)]) / bs[0],
        "dense top-1": ds[0],
        "dense s1-s10": ds[0] - ds[min(9, len(ds) - 1)],
        "dense std@100": st.pstdev(ds),
        "overlap@10": len({x for x, _ in b[:10]} & {x for x, _ in d[:10]}) / 10,
        "bm25 sharpness": sharpness(b),
        "dense sharpness": sharpness(d),
    }


def corr(x, y):
    sx, sy = st.pstdev(x), st.pstdev(y)
    if not sx or not sy:
        return 0.0
    mx, my = st.mean(x), st.mean(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / len(x) / (sx * sy)


def main():
    print("Best single profile (bm25, dense, hybrid) per collection: "
          + ", ".join(f"{c} {BEST[c]:.4f}" for c in COLLECTIONS) + "\n")
    print("| rule | " + " | ".join(COLLECTIONS) + " | worst shortfall |")
    print("|---|" + "---:|" * (len(COLLECTIONS) + 1))
    for k in (10, 60):
        for w in (1, 1.5, 2, 3):
            report(f"RRF k={k}, dense weight {w}", rrf(k, 1, w))
    for mode in ("minmax", "z"):
        for a in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            report(f"convex {mode}, dense {a}", convex(a, mode))
    for mode in ("minmax", "z"):
        report(f"convex {mode}, dense weight from head sharpness", convex(by_sharpness, mode))
        report(f"convex {mode}, dense weight from cross-list endorsement", convex(by_endorsement, mode))

    print("\nPer query: nDCG@10 of convex z with dense 0.8 minus with dense 0.2 (> 0: dense should weigh more)")
    rows = []
    for c in COLLECTIONS:
        b, d, _ = DATA[c]
        for qid, rel in judged(c):
            if b.get(qid) and d.get(qid):
                pref = ndcg10(convex(0.8, "z")(b[qid], d[qid], qid, c), rel) - ndcg10(
                    convex(0.2, "z")(b[qid], d[qid], qid, c), rel)
                rows.append((c, pref, features(b[qid], d[qid], qid, c)))
    print("| collection | queries | mean preference for dense |")
    print("|---|---:|---:|")
    for c in COLLECTIONS:
        prefs = [p for cc, p, _ in rows if cc == c]
        print(f"| {c} | {len(prefs)} | {st.mean(prefs):+.4f} |")
    print("\nCorrelation of each query-time feature with that preference (all queries; within each collection)")
    print("| feature | all | " + " | ".join(COLLECTIONS) + " |")
    print("|---|" + "---:|" * (len(COLLECTIONS) + 1))
    for name in rows[0][2]:
        within = [corr([f[name] for cc, _, f in rows if cc == c], [p for cc, p, _ in rows if cc == c])
                  for c in COLLECTIONS]
        print(f"| {name} | {corr([f[name] for _, _, f in rows], [p for _, p, _ in rows]):+.3f} | "
              + " | ".join(f"{x:+.3f}" for x in within) + " |")


if __name__ == "__main__":
    main()
