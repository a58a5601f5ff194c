#!/usr/bin/env python3
"""Refresh the sample report excerpt in README.md from the golden Markdown report
(cmd/idemaudit/testdata/sample.md): the executive summary, the scorecard and the first finding."""
import pathlib, re
root = pathlib.Path(__file__).resolve().parent.parent
md = (root / "cmd/idemaudit/testdata/sample.md").read_text().split("\n")
start = md.index("## Executive summary")
end = md.index("## Findings")
first = next(i for i, l in enumerate(md) if l.startswith("#### 1."))
last = next(i for i in range(first + 1, len(md)) if md[i].startswith("####"))
body = md[start:end] + md[first:last]
body = [("##" + l) if l.startswith("## ") else ("#" + l) if l.startswith("#### ") else l for l in body]
readme = root / "README.md"
text = readme.read_text()
text = re.sub(r"<!-- sample-report:start -->.*<!-- sample-report:end -->",
              "<!-- sample-report:start -->\n" + "\n".join(body).strip() + "\n<!-- sample-report:end -->",
              text, flags=re.S)
readme.write_text(text)
