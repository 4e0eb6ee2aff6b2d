"""Retrieval quality of dense, BM25 and hybrid (RRF) search on a corpus where half the
queries name a document by a rare identifier and half paraphrase it.

    python bench/hybrid_quality.py [--distractors 600] [--json out.json]
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


def corpus(distractors: int, seed: int = 7) -> list[str]:
    """The written documents first, then the generated ones, each with its own code."""
    rng = random.Random(seed)
    texts = [doc for doc, _ in WRITTEN]
    for _ in range(distractors):
        texts.append(" ".join(rng.choice(p) for p in (SUBJECTS, VERBS, OBJECTS, TAILS)))
    codes = set()
    out = []
    for text in texts:
        while True:
            code = f"{rng.choice('KQXZVW')}{rng.choice('XJQKZ')}-{rng.randint(1000, 9999)}"
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


def ranked(client: Client, how: str, text: str, vector: list[float]) -> list[int]:
    doc = m.Document(text=text, model="qdrant/bm25")
    kwargs: dict[str, Any]
    if how == "dense":
        kwargs = {"query": vector, "using": "dense"}
    elif how == "bm25":
        kwargs = {"query": doc, "using": "bm25"}
    else:
        kwargs = {
            "prefetch": [
                m.Prefetch(query=vector, using="dense", limit=20),
                m.Prefetch(query=doc, using="bm25", limit=20),
            ],
            "query": m.FusionQuery(fusion="rrf"),
        }
    points = client.query_points("q", limit=10, with_payload=False, **kwargs).points
    return [int(p.id) for p in points]


def evaluate(distractors: int) -> dict[str, dict[str, dict[str, float]]]:
    texts = corpus(distractors)
    qs = queries(texts)
    model = MiniLM()
    print(f"embedding {len(texts)} documents and {len(qs)} queries", file=sys.stderr)
    dense = model.embed_documents(texts)
    qvecs = model.embed_documents([q for _, q, _ in qs])
    out: dict[str, dict[str, dict[str, float]]] = {}
    with Client() as client:
        build(client, texts, dense)
        for how in ("dense", "bm25", "hybrid"):
            sums: dict[str, list[float]] = {}
            for (half, text, target), vector in zip(qs, qvecs, strict=True):
                found = ranked(client, how, text, vector)
                rank = found.index(target) + 1 if target in found else 0
                for group in (half, "overall"):
                    row = sums.setdefault(group, [0.0, 0.0, 0.0])
                    row[0] += rank > 0
                    row[1] += 1.0 / rank if rank else 0.0
                    row[2] += 1
            out[how] = {g: {"recall@10": r / n, "mrr@10": q / n} for g, (r, q, n) in sums.items()}
    return out


def verdict(r: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """The criterion, per metric: hybrid against the better single retriever."""
    lines = []
    for metric in ("recall@10", "mrr@10"):
        ok = True
        for group in ("overall", "identifier", "paraphrase"):
            best = max(r["dense"][group][metric], r["bm25"][group][metric])
            need = best if group == "overall" else 0.95 * best
            ok = ok and r["hybrid"][group][metric] >= need - 1e-12
        lines.append(f"{metric}: {'met' if ok else 'NOT met'}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--distractors", type=int, default=600)
    ap.add_argument("--json", type=Path)
    args = parse_args(ap, {"distractors": 20}, argv)
    result = evaluate(args.distractors)
    print(f"\n{len(WRITTEN) + args.distractors} documents, {2 * len(WRITTEN)} queries\n")
    print("| retriever | half | recall@10 | MRR@10 |\n|---|---|---:|---:|")
    for how, groups in result.items():
        for group in ("identifier", "paraphrase", "overall"):
            g = groups[group]
            print(f"| {how} | {group} | {g['recall@10']:.3f} | {g['mrr@10']:.3f} |")
    print("\ncriterion (hybrid >= best overall, >= 0.95 x best per half):")
    for line in verdict(result):
        print(f"- {line}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
