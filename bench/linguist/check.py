"""Helper of bench/linguist/run.sh: write annotations with pympi/praatio, then
check wordspot's exports with them (XSD validation, times, merged tiers)."""
import json
import os
import sys
from collections import defaultdict

import pympi
from lxml import etree
from praatio import textgrid


def make(eaf_rec, tg_rec):
    """An EAF (pympi) beside eaf_rec and a TextGrid (praatio) beside tg_rec."""
    e = pympi.Elan.Eaf(author="check.py")
    e.add_linked_file(os.path.abspath(eaf_rec), relpath="./" + os.path.basename(eaf_rec), mimetype="audio/x-wav")
    e.add_tier("words")
    e.add_annotation("words", 100, 400, "hello")
    e.add_annotation("words", 450, 700, "world")
    e.remove_tier("default")
    e.to_file(os.path.splitext(eaf_rec)[0] + ".eaf")
    tg = textgrid.Textgrid()
    tg.addTier(textgrid.IntervalTier("words", [(0.1, 0.4, "hello"), (0.45, 0.7, "world")], 0, 1.0))
    tg.save(os.path.splitext(tg_rec)[0] + ".TextGrid", format="long_textgrid", includeBlankSpaces=True)


def check(out, hits_path, xsd, corpus):
    schema = etree.XMLSchema(etree.parse(xsd))
    want = defaultdict(list)
    for line in open(hits_path):
        h = json.loads(line)
        stem = os.path.splitext(os.path.basename(h["file"]))[0]
        want[stem].append((round(h["start"] * 1000), round(h["end"] * 1000), h["word"]))
    for v in want.values():
        v.sort()
    eafs = tgs = merged = 0
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        stem = name.split(".")[0]
        if name.endswith(".eaf"):
            doc = etree.parse(path)
            if not schema.validate(doc):
                sys.exit(f"{path}: not valid EAF 3.0: {schema.error_log}")
            e = pympi.Elan.Eaf(path)
            got = sorted((a, b, v) for a, b, v in e.get_annotation_data_for_tier("wordspot:nine"))
            if got != want[stem]:
                sys.exit(f"{path}: pympi reads {got}, wordspot printed {want[stem]}")
            if name.endswith(".wordspot.eaf"):
                merged += 1
                orig = pympi.Elan.Eaf(os.path.join(corpus, stem + ".eaf"))
                if e.get_annotation_data_for_tier("words") != orig.get_annotation_data_for_tier("words"):
                    sys.exit(f"{path}: the 'words' tier changed")
            eafs += 1
        elif name.endswith(".TextGrid"):
            tg = textgrid.openTextgrid(path, includeEmptyIntervals=False)
            t = tg.getTier("wordspot:nine")
            got = sorted((round(e.start * 1000), round(e.end * 1000), e.label) for e in t.entries)
            if got != want[stem]:
                sys.exit(f"{path}: praatio reads {got}, wordspot printed {want[stem]}")
            if name.endswith(".wordspot.TextGrid"):
                merged += 1
                orig = textgrid.openTextgrid(os.path.join(corpus, stem + ".TextGrid"), includeEmptyIntervals=False)
                if tg.getTier("words").entries != orig.getTier("words").entries:
                    sys.exit(f"{path}: the 'words' tier changed")
            tgs += 1
    if eafs != len(want) or tgs != len(want) or merged != 2:
        sys.exit(f"expected {len(want)} EAFs and TextGrids with 2 merged, got {eafs}, {tgs}, {merged}")
    n = sum(len(v) for v in want.values())
    print(f"ok: {eafs} EAFs valid against EAF 3.0 and read by pympi, {tgs} TextGrids read by praatio, "
          f"{n} hits with identical times (ms), {merged} merges kept the other tiers")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        check(*sys.argv[2:6])
