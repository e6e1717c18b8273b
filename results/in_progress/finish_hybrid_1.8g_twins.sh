#!/bin/bash
# Issue 18 item 6, last step: copy the finished twins run (results/hybrid_1.8g_twins, its 3-seed report complete) to
# results/hybrid_1.8g_twins_train with the files the digit_lookup result keeps, and check that a copy reports from its caches alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=results/hybrid_1.8g_twins
DST=results/hybrid_1.8g_twins_train
rm -rf "$DST"; mkdir -p "$DST/genotypes"
for f in analysis.json config.yaml edf.png front.png importance.png objective.png pareto.json published.json report.md run.json seeds.json trials.csv; do
  cp "$SRC/$f" "$DST/$f"
done
python - <<'PY'
import json, re, shutil
from pathlib import Path
src, dst = Path("results/hybrid_1.8g_twins"), Path("results/hybrid_1.8g_twins_train")
front = json.loads((src / "pareto.json").read_text())["front"]
for r in front:
    name = Path(r["genotype_file"]).name
    shutil.copy(src / "genotypes" / name, dst / "genotypes" / name)
print(len(front), "front genotypes")
for p in dst.rglob("*"):
    if p.suffix in {".json", ".md", ".csv", ".yaml"}:
        t = p.read_text()
        new = re.sub(r"results/hybrid_1\.8g_twins(?!_train)", "results/hybrid_1.8g_twins_train", t).replace(str(Path.cwd()) + "/", "")
        if new != t:
            p.write_text(new); print("rewrote", p)
PY
grep -rn "$PWD/\|hybrid_1.8g_twins[^_]" "$DST" | cut -c1-160 || true
rm -rf /tmp/twcheck; cp -r "$DST" /tmp/twcheck
cd /tmp && time archspace report /tmp/twcheck --against zoo transxnet_t contnet_s contnet_ti transcnn_small resnet50_scsc_v1 --seeds 3 2> /tmp/twcheck.err | tail -5
grep -c "evaluating\|epoch" /tmp/twcheck.err || echo "no training lines: nothing retrained"
ls /tmp/twcheck
