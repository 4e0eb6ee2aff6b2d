"""Retrieval quality of dense, BM25 and hybrid (RRF) search on a corpus where half the
queries name a document by a rare identifier and half paraphrase it.

    python bench/hybrid_quality.py [--distractors 600] [--json out.json]
    python bench/hybrid_quality.py --sweep        # hybrid over prefetch settings, fusions
    python bench/hybrid_quality.py --wide-codes   # code prefixes from 26 x 26 letters
    python bench/hybrid_quality.py --smoke

The corpus is built here, deterministically: 32 written documents on different subjects
and ``--distractors`` generated ones (template sentences on the same subjects), each
holding a catalogue code such as ``KX-4821``. Queries: for 32 documents drawn at random,
their code alone ("identifier" half), and for the 32 written documents a paraphrase that
shares few of their words ("paraphrase" half). Each query runs against one collection
(Shoal embedded) three ways: dense (the built-in MiniLM, Cosine), BM25 (``Document(text,
model="qdrant/bm25")`` into a sparse vector with ``modifier="idf"``), and hybrid (a dense
and a BM25 prefetch of 20 fused by RRF). Reported per half and overall: recall@10 (the
target among the first 10) and MRR@10.

Criterion (issue 20): hybrid >= the better single retriever overall, and >= 0.95 x the
better one on each half. Prints a markdown table; ``--json`` saves every number.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args

from shoal import Client
from shoal import models as m
from shoal.embeddings import MiniLM

# (document, a paraphrase of it that shares few of its words)
WRITTEN: list[tuple[str, str]] = [
    (
        "The red car is parked near the old stone bridge over the river.",
        "A crimson automobile sits beside an ancient crossing above the stream.",
    ),
    (
        "Our bakery sells fresh sourdough bread every morning before seven.",
        "Each dawn the shop offers newly baked loaves of fermented dough.",
    ),
    (
        "The museum closes early on public holidays and opens late on Sundays.",
        "On national days off the gallery shuts sooner; at weekends it starts later.",
    ),
    (
        "Heavy rain flooded the subway stations in the city centre overnight.",
        "A downpour during the night left underground train stops downtown under water.",
    ),
    (
        "She learned to play the violin when she was six years old.",
        "As a small child the girl began lessons on the fiddle.",
    ),
    (
        "The company reported a sharp drop in quarterly profits.",
        "The firm announced that its earnings fell steeply this period.",
    ),
    (
        "Volunteers planted two hundred oak trees along the highway.",
        "Helpers set out many young oaks beside the motorway.",
    ),
    (
        "The recipe needs butter, flour, sugar and three eggs.",
        "To cook this you will want dairy fat, milled wheat, sweetener and some eggs.",
    ),
    (
        "Astronomers observed a comet passing close to Jupiter.",
        "Scientists watching the sky saw an icy visitor fly near the giant planet.",
    ),
    (
        "The train to Berlin was delayed by two hours because of a signal failure.",
        "A broken railway light held up the service to Germany's capital.",
    ),
    (
        "Doctors recommend drinking plenty of water during hot weather.",
        "Physicians advise staying hydrated when temperatures soar.",
    ),
    (
        "The football match ended in a goalless draw after extra time.",
        "Neither team scored, even once the soccer game went into overtime.",
    ),
    (
        "Our new laptop has a bright screen and a battery that lasts all day.",
        "This notebook computer offers a vivid display and long-lived power.",
    ),
    (
        "The children built a snowman in the park after school.",
        "Once lessons finished, the kids made a figure out of snow on the green.",
    ),
    (
        "A strong earthquake shook the coastal town early on Monday.",
        "At the start of the week a powerful tremor hit the seaside village.",
    ),
    (
        "The library extended its opening hours during the exam period.",
        "While students sit their tests, the reading room stays open longer.",
    ),
    (
        "He repaired the leaking kitchen tap with a new washer.",
        "The dripping faucet was fixed by replacing a rubber seal.",
    ),
    (
        "The orchestra performed Beethoven's ninth symphony to a full hall.",
        "Musicians played the composer's choral masterpiece before a sold-out audience.",
    ),
    (
        "Farmers expect a good harvest of wheat this summer.",
        "Growers anticipate strong grain yields in the warm season.",
    ),
    (
        "The hotel offers free breakfast and a heated swimming pool.",
        "Guests get a complimentary morning meal and a warm place to swim.",
    ),
    (
        "The police arrested two suspects after the bank robbery.",
        "Officers detained a pair of people following the heist at the lender.",
    ),
    (
        "Solar panels on the roof cut the family's electricity bill in half.",
        "Photovoltaic modules up top halved the household's power costs.",
    ),
    (
        "The cat sleeps on the warm windowsill every afternoon.",
        "Each day after lunch the kitten naps on the sunny ledge.",
    ),
    (
        "Engineers are testing a faster chip for mobile phones.",
        "Developers are trialling a quicker processor for smartphones.",
    ),
    (
        "The river burst its banks and flooded nearby fields.",
        "The stream overflowed and water covered the surrounding farmland.",
    ),
    (
        "Tickets for the concert sold out within ten minutes.",
        "Every seat for the gig was gone almost instantly.",
    ),
    (
        "The mountain trail is closed because of falling rocks.",
        "The hiking path up the peak is shut owing to landslides.",
    ),
    (
        "The student won a scholarship to study medicine abroad.",
        "The pupil received funding to train as a doctor in another country.",
    ),
    (
        "Prices of coffee beans rose after a poor harvest in Brazil.",
        "A weak crop in South America made the cost of coffee go up.",
    ),
    (
        "The old lighthouse has guided ships for over a century.",
        "For more than a hundred years the coastal beacon has led vessels safely.",
    ),
    (
        "Our team uses a vector database to search documents by meaning.",
        "The group finds texts by their semantics with an embedding store.",
    ),
    (
        "The bridge will be closed for repairs until next spring.",
        "The crossing stays shut for maintenance till the following year's thaw.",
    ),
]
SUBJECTS = [
    "the council",
    "a local shop",
    "the school",
    "our neighbours",
    "the hospital",
    "a small startup",
    "the football club",
    "the city museum",
    "a farmer",
    "the bakery",
]
VERBS = [
    "announced",
    "reviewed",
    "postponed",
    "celebrated",
    "discussed",
    "approved",
    "questioned",
    "planned",
    "cancelled",
    "funded",
]
OBJECTS = [
    "a new parking policy",
    "the summer festival",
    "repairs to the roof",
    "longer opening hours",
    "a charity run",
    "the annual budget",
    "a recycling scheme",
    "the school trip",
    "a software upgrade",
    "plans for a garden",
]
TAILS = ["on Tuesday.", "after a long meeting.", "despite the weather.", "for next year.",
         "with some delay.", "to general surprise.", "at short notice.", "once again."]  # fmt: skip


# The letters of a code's two-letter prefix: 30 prefixes, so ~21 of 632 documents share
# each, as a catalogue's product lines do. ``--wide-codes``: 676, about one document each.
LETTERS = ("KQXZVW", "XJQKZ")
WIDE_LETTERS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ",) * 2


def corpus(distractors: int, seed: int = 7, letters: tuple[str, str] = LETTERS) -> list[str]:
    """The written documents first, then the generated ones, each with its own code."""
    rng = random.Random(seed)
    texts = [doc for doc, _ in WRITTEN]
    for _ in range(distractors):
        texts.append(" ".join(rng.choice(p) for p in (SUBJECTS, VERBS, OBJECTS, TAILS)))
    codes = set()
    out = []
    for text in texts:
        while True:
            code = f"{rng.choice(letters[0])}{rng.choice(letters[1])}-{rng.randint(1000, 9999)}"
            if code not in codes:
                codes.add(code)
                break
        out.append(f"{text} Catalogue code {code}.")
    return out


def queries(texts: list[str], seed: int = 8) -> list[tuple[str, str, int]]:
    """(half, query, target document) for both halves."""
    rng = random.Random(seed)
    out = []
    for target in rng.sample(range(len(texts)), len(WRITTEN)):
        out.append(("identifier", texts[target].rsplit(" ", 1)[1].rstrip("."), target))
    for target, (_, paraphrase) in enumerate(WRITTEN):
        out.append(("paraphrase", paraphrase, target))
    return out


def build(client: Client, texts: list[str], dense: list[list[float]]) -> None:
    client.create_collection(
        "q",
        vectors_config={"dense": m.VectorParams(size=len(dense[0]), distance="Cosine")},
        sparse_vectors_config={"bm25": m.SparseVectorParams(modifier=m.Modifier.IDF)},
    )
    client.upsert(
        "q",
        [
            m.PointStruct(
                id=i,
                vector={"dense": dense[i], "bm25": m.Document(text=t, model="qdrant/bm25")},
            )
            for i, t in enumerate(texts)
        ],
    )


RRF = m.FusionQuery(fusion="rrf")  # k = 2, Qdrant's default


def ranked(
    client: Client,
    how: str,
    text: str,
    vector: list[float],
    limits: tuple[int, int] = (20, 20),
    fusion: Any = RRF,
) -> list[int]:
    """The first 10 ids for one query. ``how``: dense, bm25, hybrid (the dense prefetch
    first) or hybrid-sparse-first; ``limits``: the dense and the BM25 prefetch's;
    ``fusion``: hybrid's query."""
    doc = m.Document(text=text, model="qdrant/bm25")
    kwargs: dict[str, Any]
    if how == "dense":
        kwargs = {"query": vector, "using": "dense"}
    elif how == "bm25":
        kwargs = {"query": doc, "using": "bm25"}
    else:
        prefetch = [
            m.Prefetch(query=vector, using="dense", limit=limits[0]),
            m.Prefetch(query=doc, using="bm25", limit=limits[1]),
        ]
        if how == "hybrid-sparse-first":
            prefetch.reverse()  # RRF's ties go to the first prefetch's point
        kwargs = {"prefetch": prefetch, "query": fusion}
    points = client.query_points("q", limit=10, with_payload=False, **kwargs).points
    return [int(p.id) for p in points]


Scores = dict[str, dict[str, float]]  # group -> metric -> value
RETRIEVERS = ("dense", "bm25", "hybrid")
SWEEP = (3, 5, 10, 20, 40)  # the prefetch limits --sweep tries
OTHER_FUSIONS = {
    "RRF k = 10": m.RrfQuery(rrf={"k": 10}),
    "RRF k = 60": m.RrfQuery(rrf={"k": 60}),
    **{
        f"RRF weights {d}:{s}": m.RrfQuery(rrf={"weights": [d, s]})  # dense : BM25
        for d, s in ((1, 1.5), (1, 2), (1, 3), (1.5, 1), (2, 1), (3, 1))
    },
    "DBSF": m.FusionQuery(fusion="dbsf"),
}


def evaluate(
    distractors: int, letters: tuple[str, str] = LETTERS, sweep: bool = False
) -> dict[str, Scores]:
    """Each retriever's scores; with ``sweep``, hybrid's for every pair of prefetch limits
    in ``SWEEP`` and both prefetch orders too (keyed like ``hybrid dense-first 20/20``),
    and with the other fusions in ``OTHER_FUSIONS``."""
    texts = corpus(distractors, letters=letters)
    qs = queries(texts)
    model = MiniLM()
    print(f"embedding {len(texts)} documents and {len(qs)} queries", file=sys.stderr)
    dense = model.embed_documents(texts)
    qvecs = model.embed_documents([q for _, q, _ in qs])
    runs: dict[str, tuple[str, tuple[int, int], Any]] = {h: (h, (20, 20), RRF) for h in RETRIEVERS}
    if sweep:
        for order, how in (("dense-first", "hybrid"), ("sparse-first", "hybrid-sparse-first")):
            for limits in itertools.product(SWEEP, SWEEP):
                runs[f"hybrid {order} {limits[0]}/{limits[1]}"] = (how, limits, RRF)
        for name, fusion in OTHER_FUSIONS.items():
            runs[f"hybrid dense-first 20/20, {name}"] = ("hybrid", (20, 20), fusion)
    out = {}
    with Client() as client:
        build(client, texts, dense)
        for name, (how, limits, fusion) in runs.items():
            pairs = zip(qs, qvecs, strict=True)
            out[name] = _scores(
                qs, [ranked(client, how, q, v, limits, fusion) for (_, q, _), v in pairs]
            )
    return out


def _scores(qs: list[tuple[str, str, int]], found: list[list[int]]) -> Scores:
    sums: dict[str, list[float]] = {}
    for (half, _, target), ids in zip(qs, found, strict=True):
        rank = ids.index(target) + 1 if target in ids else 0
        for group in (half, "overall"):
            row = sums.setdefault(group, [0.0, 0.0, 0.0])
            row[0] += rank > 0
            row[1] += 1.0 / rank if rank else 0.0
            row[2] += 1
    return {g: {"recall@10": r / n, "mrr@10": q / n} for g, (r, q, n) in sums.items()}


def verdict(r: dict[str, Scores], hybrid: str = "hybrid") -> list[str]:
    """The criterion, per metric: ``hybrid`` against the better single retriever."""
    lines = []
    for metric in ("recall@10", "mrr@10"):
        ok = True
        for group in ("overall", "identifier", "paraphrase"):
            best = max(r["dense"][group][metric], r["bm25"][group][metric])
            need = best if group == "overall" else 0.95 * best
            ok = ok and r[hybrid][group][metric] >= need - 1e-12
        lines.append(f"{metric}: {'met' if ok else 'NOT met'}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--distractors", type=int, default=600)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--sweep",
        action="store_true",
        help=f"also hybrid with prefetch limits {SWEEP} each, in both prefetch orders, and "
        "with the other fusions (RRF's k, weighted RRF, DBSF)",
    )
    ap.add_argument("--wide-codes", action="store_true", help="code prefixes from 26 x 26 letters")
    args = parse_args(ap, {"distractors": 20}, argv)
    letters = WIDE_LETTERS if args.wide_codes else LETTERS
    result = evaluate(args.distractors, letters, args.sweep)
    print(f"\n{len(WRITTEN) + args.distractors} documents, {2 * len(WRITTEN)} queries\n")
    print("| retriever | half | recall@10 | MRR@10 |\n|---|---|---:|---:|")
    for how in RETRIEVERS:
        groups = result[how]
        for group in ("identifier", "paraphrase", "overall"):
            g = groups[group]
            print(f"| {how} | {group} | {g['recall@10']:.3f} | {g['mrr@10']:.3f} |")
    print("\ncriterion (hybrid >= best overall, >= 0.95 x best per half):")
    for line in verdict(result):
        print(f"- {line}")
    if args.sweep:
        print("\n| hybrid | MRR identifier | paraphrase | overall | criterion |")
        print("|---|---:|---:|---:|---|")
        for how, groups in result.items():
            if how.startswith("hybrid "):
                mrr = [groups[g]["mrr@10"] for g in ("identifier", "paraphrase", "overall")]
                met = ", ".join(verdict(result, how))
                print(f"| {how[7:]} | {mrr[0]:.3f} | {mrr[1]:.3f} | {mrr[2]:.3f} | {met} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
