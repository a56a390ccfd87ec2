"""End-to-end benchmark (detection + reading) per CCPD subset, as the original project reports it.

A plate counts as read when a detection has IoU >= 0.5 with its annotated bbox **and** that
detection's text equals the plate text exactly. Also prints detection recall and ms/image. Example::

    python -m lpr.evaluate ../shared/data/ccpd_sample/val
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ccpd.subsets import scan_root
from lpr.pipeline import PlateReader
from lprcore.report import add_runtime_args, format_table, pct, read_samples, setup_runtime
from MTCNN.boxes import box_iou
from MTCNN.detector import DetectorConfig
from MTCNN.evaluate import MATCH_IOU


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lpr.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="CCPD root (see ccpd/README.md)")
    add_runtime_args(p, "folder with the 4 weight files (default: shipped)")
    DetectorConfig.add_arguments(p)
    p.add_argument("--show-errors", action="store_true", help="list the plates not read, with what was read")
    args = p.parse_args(argv)
    setup_runtime(args)
    try:
        config = DetectorConfig.from_args(args)
    except ValueError as e:
        p.error(str(e))
    reader = PlateReader(args.weights_dir, args.weights_dir, config, args.device)
    scan = scan_root(args.root)
    acc, det_recall, ms, counts = {}, {}, {}, {}
    total = {"read": 0, "found": 0, "n": 0, "sec": 0.0}
    errors = []
    for subset, samples in scan.by_subset().items():
        read = found = n = 0
        sec = 0.0
        for s, image in read_samples([s for s in samples if s.record is not None], subset):
            t0 = time.perf_counter()
            plates = reader(image)
            sec += time.perf_counter() - t0
            n += 1
            gt = np.asarray([s.record.bbox], np.float32)
            hits = [pl for pl in plates if box_iou(np.asarray([pl.box], np.float32), gt)[0, 0] >= MATCH_IOU]
            found += bool(hits)
            ok = any(pl.text == s.record.text for pl in hits)
            read += ok
            if not ok:
                errors.append((s.path, s.record.text, [pl.text for pl in hits]))
        acc[subset], det_recall[subset] = pct(read, n), pct(found, n)
        ms[subset], counts[subset] = f"{1000 * sec / max(n, 1):.0f}", str(n)
        for k, v in (("read", read), ("found", found), ("n", n), ("sec", sec)):
            total[k] += v
    acc["all"], det_recall["all"] = pct(total["read"], total["n"]), pct(total["found"], total["n"])
    ms["all"], counts["all"] = f"{1000 * total['sec'] / max(total['n'], 1):.0f}", str(total["n"])
    print(f"End-to-end (IoU >= {MATCH_IOU} and exact text), {args.root}")
    print(format_table({"accuracy %": acc, "detection recall %": det_recall, "ms/image": ms, "images": counts},
                       list(acc)))
    if args.show_errors:
        for path, truth, got in errors:
            print(f"{truth}\t{'/'.join(got) or '(no box)'}\t{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
