"""The HTML report: 中文 with English alongside, self-contained (inline CSS, no scripts, no external assets)."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

__all__ = ["clean_message", "render_html"]

VERDICTS = {
    "PASS": ("通过", "PASS", "pass"),
    "FAIL": ("不通过", "FAIL", "fail"),
    "COULD_NOT_RUN": ("无法运行", "COULD NOT RUN", "cnr"),
}
STATUS = {
    "passed": ("通过", "passed", "pass"),
    "failed": ("失败", "failed", "fail"),
    "xpassed": ("意外通过", "passed unexpectedly", "fail"),
    "error": ("无法运行", "could not run", "cnr"),
    "waived": ("豁免", "waived", "warn"),
    "xfailed": ("预期失败", "expected failure", "warn"),
    "skipped": ("跳过", "skipped", "muted"),
    "not_run": ("未运行", "not run", "muted"),
    "not_claimed": ("未声明功能", "feature not claimed", "muted"),
    "not_covered": ("暂无用例", "no case yet", "muted"),
    "not_applicable": ("不适用", "not applicable", "muted"),
    "not_demonstrated": ("未证实", "not demonstrated", "fail"),
    "applied": ("生效", "applied", "warn"),
    "expired": ("已过期", "expired", "fail"),
    "unused": ("未使用", "unused", "muted"),
    "feature_not_claimed": ("未声明功能", "feature not claimed", "muted"),
    "not_in_profile": ("不在配置内", "not in profile", "muted"),
    "other_subject": ("被测对象不同", "other subject", "muted"),
    "needs_inspection": ("需模拟平台检查接口", "needs the mock's inspection API", "muted"),
}
IDENTITY = (
    ("vendor", "厂商", "Vendor"),
    ("model", "型号", "Model"),
    ("version", "版本", "Version"),
    ("serial", "序列号", "Serial"),
    ("ma_certificate", "安标证号", "MA certificate"),
    ("device_id", "设备标识", "Device ID"),
    ("mine_code", "煤矿编码", "Mine code"),
    ("product_class", "产品类别", "Product class"),
    ("transport", "传输", "Transport"),
    ("features", "声明的功能", "Claimed features"),
)

CSS = """
:root{--ink:#1d232b;--muted:#5b6672;--line:#d9dee4;--bg:#f5f7f9;--pass:#17753a;--pass-bg:#e3f4e8;
--fail:#b3261e;--fail-bg:#fbe6e4;--cnr:#6b4f00;--cnr-bg:#fff2cc;--warn:#8a5a00;--warn-bg:#fff4dd;--muted-bg:#eef1f4}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.55 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",
"Noto Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 2px}h2{font-size:18px;margin:32px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h1 small,h2 small{font-weight:400;color:var(--muted);font-size:.75em;margin-left:.5em}
.en{color:var(--muted)}
.head{display:flex;gap:24px;align-items:center;justify-content:space-between;flex-wrap:wrap;background:#fff;
border:1px solid var(--line);border-radius:10px;padding:20px 24px}
.head>div:first-child{flex:1 1 0;min-width:320px}
.verdict{border-radius:10px;padding:12px 22px;text-align:center;min-width:200px}
.verdict b{display:block;font-size:28px;line-height:1.2}.verdict span{font-size:13px;letter-spacing:.08em}
.v-pass{background:var(--pass-bg);color:var(--pass);border:2px solid var(--pass)}
.v-fail{background:var(--fail-bg);color:var(--fail);border:2px solid var(--fail)}
.v-cnr{background:var(--cnr-bg);color:var(--cnr);border:2px solid var(--cnr)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;vertical-align:top;padding:7px 10px;border-bottom:1px solid var(--line)}
td{overflow-wrap:anywhere}th{overflow-wrap:break-word}
th{background:#eef1f4;font-weight:600;font-size:13px}
tr:last-child td{border-bottom:0}
td.id{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.kv th{width:210px;background:#f8f9fb}
.records{margin:4px 0 8px;width:auto;min-width:40%}.records th{width:auto;min-width:140px;font-weight:600}.records td,.records th{padding:4px 10px}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.chip{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap}
.c-pass{background:var(--pass-bg);color:var(--pass)}.c-fail{background:var(--fail-bg);color:var(--fail)}
.c-cnr{background:var(--cnr-bg);color:var(--cnr)}.c-warn{background:var(--warn-bg);color:var(--warn)}
.c-muted{background:var(--muted-bg);color:var(--muted)}
.lvl{font-size:11px;font-weight:700;border:1px solid currentColor;border-radius:4px;padding:0 4px}
.lvl-MUST{color:var(--fail)}.lvl-SHOULD{color:var(--warn)}.lvl-MAY{color:var(--muted)}
.bar{height:9px;background:var(--muted-bg);border-radius:5px;overflow:hidden;min-width:120px}
.bar i{display:block;height:100%;background:var(--pass)}
.reasons{background:#fff;border:1px solid var(--line);border-left:4px solid var(--fail);border-radius:6px;padding:10px 16px;margin:14px 0 0}
.reasons li{margin:3px 0}
details{background:#fff;border:1px solid var(--line);border-radius:8px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
details>div{padding:4px 14px 12px;border-top:1px solid var(--line)}
pre{background:#f8f9fb;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;max-height:360px;
white-space:pre-wrap;word-break:break-all;margin:6px 0}
.muted{color:var(--muted)}.small{font-size:12px}
.hash{word-break:break-all}
footer{margin-top:36px;color:var(--muted);font-size:12px}
.fail-box{background:#fff;border:2px solid var(--fail);border-radius:10px;padding:12px 18px;margin:14px 0 0}
.fail-box h2{margin:0 0 8px;border:0;padding:0;color:var(--fail)}
.failure{border-top:1px solid var(--line);padding:8px 0}.failure:first-of-type{border-top:0}
.failure h3{font-size:16px;margin:0 0 4px}.failure h3 code{font-size:15px}
.failure dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}
.failure dt{color:var(--muted);font-size:13px}.failure dd{margin:0}
.seen{margin:2px 0}.seen td,.seen th{padding:3px 8px;font-size:13px}.seen td:first-child code{white-space:nowrap}.seen td:nth-child(4){min-width:11ch}
.fold>summary{font-size:13px;color:var(--muted)}
@page{size:A4;margin:12mm}
@media print{body{background:#fff;font-size:12px}main{max-width:none;padding:0}details{break-inside:avoid}
pre{max-height:none}.head{padding:10px 14px}.failure{break-inside:avoid}}
@media (max-width:900px){main{padding:12px}.head>div:first-child{min-width:0}.kv th{width:auto}}
"""


#: Python assertion text a reader must never see: pytest's ``assert …`` explanation, exception names, reprs.
_ASSERT_LINE = re.compile(r"^\s*(E\s+)?(assert\b|AssertionError\b|where\b|\+\s+where\b|and\s+\w+\s+=)")
_REPR = re.compile(r"\[?\w+\((clause_id|path|message_zh)=.*?\)\]?(?=$|\s)", re.DOTALL)
_POINT_PATH = re.compile(r"\$\.points\[(\d+)\]((?:\.\w+)?)")


def clean_message(text: str) -> str:
    """A case message without Python assertion text (``AssertionError``, ``assert …`` lines, dataclass reprs)."""
    out = []
    for line in (text or "").splitlines():
        line = line.removeprefix("AssertionError: ").removeprefix("AssertionError")
        if _ASSERT_LINE.match(line):
            continue
        line = _REPR.sub("", line).rstrip()
        if line.strip():
            out.append(line)
    return "\n".join(out)


def _manifest_points(doc: dict[str, Any]) -> list[dict[str, Any]]:
    points = doc["report"].get("manifest", {}).get("document", {}).get("points")
    return [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []


def _resolve_paths(text: str, points: list[dict[str, Any]]) -> str:
    """``$.points[0].unit`` → ``测点 point 14042100000101MNA0010A01 unit`` where the manifest has that point."""

    def sub(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i >= len(points) or not points[i].get("point_code"):
            return m.group(0)
        return f"测点 point {points[i]['point_code']}{(' ' + m.group(2)[1:]) if m.group(2) else ''}"

    return _POINT_PATH.sub(sub, text)


def _catalogue() -> dict[str, Any]:
    try:
        from santong.protocols import clauses  # noqa: PLC0415

        return dict(clauses())
    except Exception:  # noqa: BLE001 - a report renders without the catalogue (no fix text then)
        return {}


def _e(x: Any) -> str:
    return escape("" if x is None else str(x))


def _chip(status: str) -> str:
    zh, en, cls = STATUS.get(status, (status, status, "muted"))
    return f'<span class="chip c-{cls}">{_e(zh)} {_e(en)}</span>'


def _bi(zh: str, en: str) -> str:
    return f'{_e(zh)} <span class="en">{_e(en)}</span>'


def _value(v: Any) -> str:
    """A recorded value: short ones inline, long ones as a block."""
    text = json.dumps(v, ensure_ascii=False, sort_keys=True)
    if len(text) <= 100:
        return f"<code>{_e(text if not isinstance(v, str) else v)}</code>"
    return f"<pre>{_json(v)}</pre>"


def _json(obj: Any) -> str:
    return _e(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True))


def _head(doc: dict[str, Any]) -> str:
    r = doc["report"]
    res = r["results"]
    zh, en, cls = VERDICTS[res["verdict"]]
    p = r["product"]
    prof = r["profile"]
    return f"""
<div class="head">
  <div>
    <h1>santong 三统一一致性报告 <small>Conformance report</small></h1>
    <div>{_e(p["vendor"])} · {_e(p["model"])} · {_e(p["version"])}</div>
    <div class="muted">配置 Profile: <b>{_e(prof["name_zh"])} {_e(prof["name_en"])}</b> ({_e(prof["name"])}) ·
      产品类别 class: {_e(p["product_class"])} · 规范 spec {_e(r["versions"]["spec"])} ·{_negotiated(r)}
      套件 suite {_e(r["versions"]["suite"])} · {_e(r["run"]["started_at"])}</div>
  </div>
  <div class="verdict v-{cls}"><b>{_e(zh)}</b><span>{_e(en)}</span></div>
</div>"""


def _reasons(doc: dict[str, Any], failing: bool) -> str:
    """The verdict's reasons; folded when the failing clauses above already say it, open otherwise."""
    res = doc["report"]["results"]
    points = _manifest_points(doc)
    items = "".join(
        f"<li>{_e(_resolve_paths(clean_message(x['zh']), points))}<br>"
        f"<span class='en'>{_e(_resolve_paths(clean_message(x['en']), points))}</span></li>"
        for x in res["reasons"][:40]
    )
    more = len(res["reasons"]) - 40
    if more > 0:
        items += f"<li class='muted'>… +{more}</li>"
    if not items:
        return ""
    opened = "" if failing else " open"
    return (
        f"<details class='fold'{opened}><summary>结论的全部理由 <span class='en'>All reasons for the verdict</span>"
        f" ({len(res['reasons'])})</summary><div><ul class='reasons'>{items}</ul></div></details>"
    )


def _violations(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The violations a case recorded: its ``violations`` record, else those inside its samples (the live cases
    keep the platform's answers as samples), each once."""
    ev = case["evidence"]
    found = ev["records"].get("violations")
    out = [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []
    if not out:
        for sm in ev.get("samples", []):
            msg = sm.get("message") if isinstance(sm, dict) else None
            vs = msg.get("violations") if isinstance(msg, dict) else None
            if isinstance(vs, list):
                out += [v for v in vs if isinstance(v, dict)]
    seen, unique = set(), []
    for v in out:
        key = json.dumps(v, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique


def _seen(clause_id: str, cases: list[dict[str, Any]], points: list[dict[str, Any]]) -> str:
    """What was seen for a failing clause: the violations by point code, else the cases' messages."""
    rows = []
    lines: list[str] = []
    for c in cases:
        mine = [v for v in _violations(c) if v.get("clause_id") == clause_id]
        for v in mine[:20]:
            code, loc, when, field = v.get("point_code"), v.get("location"), v.get("time"), v.get("field")
            m = _POINT_PATH.search(str(v.get("path", "")))
            if not code and m and int(m.group(1)) < len(points):
                pt = points[int(m.group(1))]
                code, loc, when = pt.get("point_code"), pt.get("location"), pt.get("defined_at")
                field = field or m.group(2)[1:]
            where = f"<code>{_e(code)}</code>" if code else f"<code class='muted'>{_e(v.get('path'))}</code>"
            value = v.get("value")
            rows.append(
                f"<tr><td>{where}</td><td>{_e(loc) or '—'}</td>"
                f"<td><code>{_e(field) or '—'}</code>{' = <code>' + _e(value) + '</code>' if value is not None else ''}</td>"
                f"<td class='small'>{_e(when) or '—'}</td>"
                f"<td>{_e(v.get('message_zh'))}<br><span class='en'>{_e(v.get('message_en'))}</span></td></tr>"
            )
        if not mine:
            text = _resolve_paths(clean_message(c["message"]), points)
            lines += [ln for ln in text.splitlines() if ln.strip()][:6]
    out = ""
    if rows:
        out += (
            "<table class='seen'><tr><th>测点编码 <span class='en'>Point code</span></th>"
            "<th>安装位置 <span class='en'>Location</span></th><th>字段与值 <span class='en'>Field, value</span></th>"
            "<th>时间 <span class='en'>Time</span></th><th>问题 <span class='en'>Problem</span></th></tr>"
            + "".join(rows)
            + "</table>"
        )
    if lines:
        out += "".join(f"<div>{_e(ln)}</div>" for ln in dict.fromkeys(lines))
    return out or "<span class='muted'>—</span>"


def _failure_card(row: dict[str, Any], doc: dict[str, Any], catalogue: dict[str, Any]) -> str:
    cid = row["id"]
    res = doc["report"]["results"]
    cases = [c for c in res["cases"] if cid in c.get("failed_clauses", [])]
    c = catalogue.get(cid)
    rule = (
        f"{_e(c.text_zh)}<br><span class='en'>{_e(c.text_en)}</span>"
        if c is not None
        else "<span class='muted'>—</span>"
    )
    fix = (
        f"{_e(c.fix_zh)}<br><span class='en'>{_e(c.fix_en)}</span>"
        if c is not None and (c.fix_zh or c.fix_en)
        else "<span class='muted'>—</span>"
    )
    warn = (
        ""
        if row.get("blocking")
        else " <span class='chip c-warn'>警告 warning（不影响结论 does not block）</span>"
    )
    names = ", ".join(x["id"].rpartition("::")[2] or x["id"] for x in cases) or "—"
    return (
        f"<div class='failure' id='fail-{_e(cid)}'><h3><code>{_e(cid)}</code> "
        f"<span class='lvl lvl-{_e(row['level'])}'>{_e(row['level'])}</span> {_e(row['title_zh'])} "
        f"<span class='en'>{_e(row['title_en'])}</span>{warn}</h3><dl>"
        f"<dt>所见 Seen</dt><dd>{_seen(cid, cases, _manifest_points(doc))}</dd>"
        f"<dt>条款要求 Rule</dt><dd class='small'>{rule}</dd>"
        f"<dt>修正 Fix</dt><dd>{fix}</dd>"
        f"<dt>用例 Cases</dt><dd class='small'><code>{_e(names)}</code></dd></dl></div>"
    )


def _failures(doc: dict[str, Any]) -> str:
    """Failing clauses first, grouped under their root causes; the consequences folded under each cause."""
    res = doc["report"]["results"]
    rows = {c["id"]: c for c in res["clauses"]}
    failing = [c for c in res["clauses"] if c["state"] == "failed"]
    if not failing:
        return ""
    catalogue = _catalogue()
    points = _manifest_points(doc)
    shown: set[str] = set()
    parts = []
    causes = res.get("root_causes", [])
    for i, g in enumerate(causes, 1):
        roots = [r["id"] for r in g["root_clauses"] if r["id"] in rows and rows[r["id"]]["state"] == "failed"]
        cards = "".join(_failure_card(rows[cid], doc, catalogue) for cid in roots if cid not in shown)
        shown.update(roots)
        zh = _resolve_paths(clean_message(g["zh"]), points)
        en = _resolve_paths(clean_message(g["en"]), points)
        head = (
            f"<p><b>根本原因 Root cause {i}</b>"
            + (f"：{_e(zh)}" if g["kind"] != "case" else "")
            + (f"<br><span class='en'>{_e(en)}</span>" if g["kind"] != "case" and en != zh else "")
            + "</p>"
            if len(causes) > 1 or g["kind"] != "case"
            else ""
        )
        follow = ""
        if g["consequences"]:
            items = "".join(
                f"<li><code>{_e(r['id'])}</code> {_e(rows[r['id']]['title_zh'] if r['id'] in rows else '')} "
                f"<span class='en'>{_e(rows[r['id']]['title_en'] if r['id'] in rows else '')}</span> — "
                f"{_chip(r['state'])}</li>"
                for r in g["consequences"]
            )
            follow = (
                f"<details class='fold'><summary>由此导致 {len(g['consequences'])} 条条款未能判定或失败 "
                f"<span class='en'>{len(g['consequences'])} clauses following from it</span> · "
                f"{len(g['cases'])} 个用例 cases</summary><div><ul>{items}</ul></div></details>"
            )
        parts.append(head + cards + follow)
    rest = [c for c in failing if c["id"] not in shown]
    rest.sort(key=lambda c: not c.get("blocking"))
    parts += [_failure_card(c, doc, catalogue) for c in rest]
    n_block = sum(1 for c in failing if c.get("blocking"))
    return (
        f"<section class='fail-box'><h2>失败的条款 <small>Failing clauses</small> — {n_block} 条阻止通过 block a PASS"
        f"{f', {len(failing) - n_block} 条警告 warnings' if len(failing) > n_block else ''}</h2>"
        + "".join(parts)
        + "</section>"
    )


def _product(doc: dict[str, Any]) -> str:
    p = doc["report"]["product"]
    rows = "".join(
        f"<tr><th>{_bi(zh, en)}</th><td>{_e(', '.join(p[k]) if isinstance(p.get(k), list) else p.get(k)) or '—'}</td></tr>"
        for k, zh, en in IDENTITY
    )
    return f'<h2>产品 <small>Product</small></h2><table class="kv">{rows}</table>'


def _software(statement: dict[str, Any]) -> str:
    """The software digests the certificate covers, each computed by the runner or declared and unverified."""
    from santong.conformance._verify_cmd import software  # noqa: PLC0415  (the one reader of the list)

    items = software(statement)
    if not items:
        return (
            "未声明软件摘要：证书不能说明设备运行的是哪一软件 <span class='en'>no software digest declared: the "
            "certificate cannot tell which software a device runs</span>"
        )
    lines = []
    for x in items:
        how = (
            _bi("由认证程序从制品文件计算（已核实）", "computed by the runner from the artefact (verified)")
            if x.get("status") == "computed"
            else _bi("厂商声明，未核实（外部产品）", "declared by the vendor, unverified (external product)")
        )
        lines.append(f"{_e(x.get('name'))}: <code class='hash'>{_e(x.get('sha256'))}</code> — {how}")
    return "<br>".join(lines)


def _certificate(doc: dict[str, Any]) -> str:
    c = doc["certificate"]
    st = c["statement"]
    eph = (
        "<tr><th>注意 <span class='en'>Note</span></th><td>临时密钥签名：只能证明报告未被改动，不能证明由谁签署。"
        "<br><span class='en'>Signed with an ephemeral key: proves integrity, not who signed it.</span></td></tr>"
        if st.get("ephemeral_key")
        else ""
    )
    expires = (
        f"{_e(st['expires'])}<br><span class='muted small'>签名中的到期日；信任列表的证书有效期政策可能使其更早到期（santong verify "
        "--trust）。 / The signed expiry; a trust list's certificate lifetime may end it earlier (santong verify "
        "--trust).</span>"
        if st.get("expires")
        else "— <span class='muted small'>（旧格式，无签名到期日 / older format, no signed expiry）</span>"
    )
    rows = [
        ("签名密钥", "Signing key", f"<code>{_e(c['key_id'])}</code> ({_e(c['algorithm'])})"),
        ("签发日期", "Issued", _e(st["date"])),
        ("有效期至", "Expires", expires),
        ("软件", "Software", _software(st)),
        ("产品声明哈希", "Manifest SHA-256", f"<code class='hash'>{_e(st['manifest_sha256'])}</code>"),
        ("结果哈希", "Results SHA-256", f"<code class='hash'>{_e(st['results_sha256'])}</code>"),
        ("报告哈希", "Report SHA-256", f"<code class='hash'>{_e(st['report_sha256'])}</code>"),
        ("套件摘要", "Suite digest", f"<code class='hash'>{_e(st['suite_digest'])}</code>"),
    ]
    body = "".join(f"<tr><th>{_bi(zh, en)}</th><td>{v}</td></tr>" for zh, en, v in rows)
    return (
        '<h2>证书 <small>Certificate</small></h2><table class="kv">'
        + body
        + eph
        + "<tr><th>离线核验 <span class='en'>Verify offline</span></th><td><code>santong verify report.json"
        " --trust 信任列表.json --root 根公钥.pub</code><br><span class='muted small'>本页面只是 report.json 的展示；"
        "以签名的 report.json 为准。 / This page renders report.json; the signed report.json is authoritative."
        "</span></td></tr></table>"
    )


def _coverage(doc: dict[str, Any], all_coverage: bool = False) -> str:
    """The selected profile's MUST coverage; with ``all_coverage`` every profile's, the selected one first."""
    rows = []
    cov = doc["report"]["results"]["coverage"]
    chosen = [c for c in cov if c.get("selected")] or cov[:1]
    if all_coverage:
        chosen += [c for c in cov if c not in chosen]
    for r in chosen:
        pct = r["percent_passed"]
        mark = (
            " <span class='chip c-muted'>所选 selected</span>" if r.get("selected") and all_coverage else ""
        )
        rows.append(
            f"<tr><td><b>{_e(r['name_zh'])}</b> {_e(r['name_en'])} <code class='muted'>{_e(r['profile'])}</code>{mark}</td>"
            f"<td class='num'>{r.get('must_applicable', r['must'])}</td>"
            f"<td class='num'>{r['must_passed']}</td><td class='num'>{r['must_failed']}</td>"
            f"<td class='num'>{r.get('must_not_demonstrated', 0)}</td><td class='num'>{r['must_error']}</td>"
            f"<td class='num'>{r.get('must_not_applicable', 0)}</td>"
            f"<td><div class='bar' title='{pct:.1f}%'><i style='width:{min(pct, 100):.1f}%'></i></div>"
            f"<span class='small'>{pct:.1f}%</span></td></tr>"
        )
    return (
        "<h2>MUST 条款覆盖 <small>MUST-clause coverage</small></h2>"
        "<table><tr><th>配置 <span class='en'>Profile</span></th><th class='num'>适用 <span class='en'>Applicable</span></th>"
        "<th class='num'>通过 <span class='en'>Passed</span></th><th class='num'>失败 <span class='en'>Failed</span></th>"
        "<th class='num'>未证实 <span class='en'>Not demonstrated</span></th>"
        "<th class='num'>无法运行 <span class='en'>Could not run</span></th>"
        "<th class='num'>不适用 <span class='en'>N/A</span></th><th>通过率 <span class='en'>Passed %</span></th></tr>"
        + "".join(rows)
        + "</table><p class='muted small'>通过率 = 通过的 MUST 条款 / 适用的 MUST 条款。通过（PASS）要求全部适用的 MUST 条款通过。"
        "<br>Passed % = MUST clauses passed / applicable MUST clauses. PASS needs every applicable MUST clause passed.</p>"
    )


def _clauses(doc: dict[str, Any]) -> str:
    rows = []
    for c in doc["report"]["results"]["clauses"]:
        if c.get("state") == "not_applicable":
            continue
        extra = "" if c["in_profile"] else " <span class='chip c-muted'>配置外 outside profile</span>"
        if c.get("reason_zh"):
            extra += (
                f"<br><span class='small muted'>{_e(c['reason_zh'])} / {_e(c.get('reason_en') or '')}</span>"
            )
        cases = (
            "<br>".join(f"<code title='{_e(x)}'>{_e(x.rpartition('::')[2] or x)}</code>" for x in c["cases"])
            or "<span class='muted'>—</span>"
        )
        rows.append(
            f"<tr><td class='mono id'>{_e(c['id'])}</td><td><span class='lvl lvl-{_e(c['level'])}'>{_e(c['level'])}</span></td>"
            f"<td>{_e(c['title_zh'])}<br><span class='en'>{_e(c['title_en'])}</span>{extra}</td>"
            f"<td>{_chip(c.get('state') or c.get('status', ''))}</td><td class='small'>{cases}</td></tr>"
        )
    return (
        "<h2>条款 <small>Clauses</small></h2><table><tr><th>编号 <span class='en'>ID</span></th>"
        "<th>级别 <span class='en'>Level</span></th><th>标题 <span class='en'>Title</span></th>"
        "<th>结论 <span class='en'>Status</span></th><th>用例 <span class='en'>Cases</span></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _negotiated(r: dict[str, Any]) -> str:
    """The interface version the product negotiated (ST-PROTO-004), when the run learnt it."""
    v = (r.get("run") or {}).get("negotiated_version")
    return f" 协商的接口版本 negotiated interface {_e(v)} ·" if v else ""


def _not_applicable(doc: dict[str, Any]) -> str:
    na = [c for c in doc["report"]["results"]["clauses"] if c.get("state") == "not_applicable"]
    if not na:
        return ""
    rows = "".join(
        f"<tr><td class='mono id'>{_e(c['id'])}</td><td>{_e(c['title_zh'])}<br><span class='en'>{_e(c['title_en'])}</span></td>"
        f"<td>{_e(c.get('reason_zh') or '')}<br><span class='en'>{_e(c.get('reason_en') or '')}</span></td></tr>"
        for c in na
    )
    return (
        f"<h2>不适用的条款 <small>Not applicable clauses</small> ({len(na)})</h2><table><tr><th>编号 <span class='en'>ID</span></th>"
        "<th>标题 <span class='en'>Title</span></th><th>原因 <span class='en'>Reason</span></th></tr>"
        + rows
        + "</table>"
    )


def _cases(doc: dict[str, Any]) -> str:
    res = doc["report"]["results"]
    s = res["summary"]
    out = [
        "<h2>用例与证据 <small>Cases and evidence</small></h2>",
        f"<p>{s['passed']} 通过 passed · {s['failed']} 失败 failed · {s['error']} 无法运行 could not run · "
        f"{s['skipped']} 跳过 skipped · {s['waived']} 豁免 waived · {s['deselected']} 未选 deselected · "
        f"{s['warnings']} 警告 warnings (SHOULD)</p>",
    ]
    other = s.get("deselected_other_subject", 0)
    if other:
        out.append(
            f"<p class='muted small'>另有 {other} 个检验平台方的用例与本产品无关，未列出 / {other} cases that test the "
            "platform side are not about this product and are not listed</p>"
        )
    points = _manifest_points(doc)
    for c in res["cases"]:
        ev = c["evidence"]
        records = "".join(
            f"<tr><th class='mono'>{_e(k)}</th><td>{_value(v)}</td></tr>"
            for k, v in sorted(ev["records"].items())
        )
        samples = "".join(
            f"<div class='small'><b>{_e(sm['name'])}</b></div><pre>{_json(sm['message'])}</pre>"
            for sm in ev["samples"]
        )
        body = ""
        message = _resolve_paths(clean_message(c["message"]), points)
        if message and c["verdict"] != "waived":
            body += f"<div class='small muted'>信息 message</div><pre>{_e(message)}</pre>"
        if c.get("waiver"):
            w = c["waiver"]
            body += f"<p class='small'>豁免 waiver: {_e(w['reason'])} — {_e(w['owner'])}, 至 until {_e(w['expires'])}</p>"
        if records:
            body += f"<div class='small muted'>记录 records</div><table class='kv records'>{records}</table>"
        if samples:
            body += f"<div class='small muted'>样本消息 sample messages</div>{samples}"
        if not body:
            body = "<p class='muted small'>无证据 no evidence recorded</p>"
        warn = (
            ""
            if c["blocking"] or c["verdict"] not in ("failed", "xpassed")
            else " <span class='chip c-warn'>警告 warning</span>"
        )
        opened = " open" if c["verdict"] in ("failed", "xpassed", "error") else ""
        out.append(
            f"<details{opened}><summary>{_chip(c['verdict'])}{warn}<code>{_e(c['id'])}</code>"
            f"<span class='small muted'>{_e(', '.join(c['clauses']))} · {c['duration_s']:.3f} s</span></summary>"
            f"<div>{body}</div></details>"
        )
    return "".join(out)


def _waivers(doc: dict[str, Any]) -> str:
    ws = doc["report"]["results"]["waivers"]
    if not ws:
        return "<h2>豁免 <small>Waivers</small></h2><p class='muted'>无 none</p>"
    rows = "".join(
        f"<tr><td class='mono'>{_e(w['clause'] or w['case'])}</td><td>{_e(w['owner'])}</td><td>{_e(w['reason'])}</td>"
        f"<td class='mono'>{_e(w['expires'])}</td><td>{_chip(w['status'])}</td>"
        f"<td class='small'>{'<br>'.join(_e(x) for x in w['cases']) or '—'}</td></tr>"
        for w in ws
    )
    return (
        "<h2>豁免 <small>Waivers</small></h2><table><tr><th>条款/用例 <span class='en'>Clause/case</span></th>"
        "<th>负责人 <span class='en'>Owner</span></th><th>原因 <span class='en'>Reason</span></th>"
        "<th>到期 <span class='en'>Expires</span></th><th>状态 <span class='en'>Status</span></th>"
        "<th>用例 <span class='en'>Cases</span></th></tr>" + rows + "</table>"
    )


def _deselected(doc: dict[str, Any]) -> str:
    ds = doc["report"]["results"]["deselected"]
    errors = doc["report"]["results"]["collection_errors"]
    out = ""
    if errors:
        out += "<h2>收集错误 <small>Collection errors</small></h2>" + "".join(
            f"<pre>{_e(e)}</pre>" for e in errors
        )
    if ds:
        rows = "".join(
            f"<tr><td class='mono small'>{_e(d['id'])}</td><td class='small'>{_e(', '.join(d['clauses']))}</td>"
            f"<td>{_chip(d['reason'])}</td><td class='small'>{_e(', '.join(d['features']))}</td></tr>"
            for d in ds
        )
        out += (
            "<h2>未选用例 <small>Deselected cases</small></h2><table><tr><th>用例 <span class='en'>Case</span></th>"
            "<th>条款 <span class='en'>Clauses</span></th><th>原因 <span class='en'>Reason</span></th>"
            "<th>所需功能 <span class='en'>Features</span></th></tr>" + rows + "</table>"
        )
    return out


def _appendix(doc: dict[str, Any]) -> str:
    r = doc["report"]
    return (
        "<h2>产品声明与环境 <small>Manifest and environment</small></h2>"
        "<details><summary>产品声明 <span class='en'>Manifest</span> "
        f"<code class='muted'>{_e(r['manifest']['file'])}</code></summary><div><pre>{_json(r['manifest'])}</pre></div></details>"
        f"<details><summary>环境 <span class='en'>Environment</span></summary><div><pre>{_json(r['environment'])}</pre></div></details>"
        f"<details><summary>运行 <span class='en'>Run</span></summary><div><pre>{_json(r['run'])}</pre></div></details>"
    )


def render_html(signed: bytes, *, all_coverage: bool = False) -> str:
    """The HTML page of a signed report document (canonical JSON bytes); ``all_coverage``: the MUST coverage of
    every profile of the product's class (``santong certify --coverage all``), else only the selected profile's."""
    doc = json.loads(signed.decode("utf-8"))
    r = doc["report"]
    title = (
        f"santong {VERDICTS[r['results']['verdict']][1]} — {r['product']['vendor']} {r['product']['model']}"
    )
    failures = _failures(doc)
    parts = [
        _head(doc),
        failures,
        _reasons(doc, bool(failures)),
        _product(doc),
        _coverage(doc, all_coverage),
        _clauses(doc),
        _not_applicable(doc),
        _cases(doc),
        _waivers(doc),
        _deselected(doc),
        _certificate(doc),
        _appendix(doc),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        + "".join(parts)
        + "<footer>santong — 三统一 device-access interface toolkit · report format santong-report/1</footer>"
        "</main></body></html>\n"
    )
