"""The HTML report: 中文 with English alongside, self-contained (inline CSS, no scripts, no external assets)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["render_html"]

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
th{background:#eef1f4;font-weight:600;font-size:13px;white-space:nowrap}
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
@media print{body{background:#fff}details{break-inside:avoid}details>div{display:block}pre{max-height:none}}
"""


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
    reasons = "".join(
        f"<li>{_e(x['zh'])}<br><span class='en'>{_e(x['en'])}</span></li>" for x in res["reasons"][:30]
    )
    more = len(res["reasons"]) - 30
    if more > 0:
        reasons += f"<li class='muted'>… +{more}</li>"
    return f"""
<div class="head">
  <div>
    <h1>santong 三统一一致性报告 <small>Conformance report</small></h1>
    <div>{_e(p["vendor"])} · {_e(p["model"])} · {_e(p["version"])}</div>
    <div class="muted">配置 Profile: <b>{_e(prof["name_zh"])} {_e(prof["name_en"])}</b> ({_e(prof["name"])}) ·
      产品类别 class: {_e(p["product_class"])} · 规范 spec {_e(r["versions"]["spec"])} ·
      套件 suite {_e(r["versions"]["suite"])} · {_e(r["run"]["started_at"])}</div>
  </div>
  <div class="verdict v-{cls}"><b>{_e(zh)}</b><span>{_e(en)}</span></div>
</div>
{f'<ul class="reasons">{reasons}</ul>' if reasons else ""}"""


def _product(doc: dict[str, Any]) -> str:
    p = doc["report"]["product"]
    rows = "".join(
        f"<tr><th>{_bi(zh, en)}</th><td>{_e(', '.join(p[k]) if isinstance(p.get(k), list) else p.get(k)) or '—'}</td></tr>"
        for k, zh, en in IDENTITY
    )
    return f'<h2>产品 <small>Product</small></h2><table class="kv">{rows}</table>'


def _certificate(doc: dict[str, Any]) -> str:
    c = doc["certificate"]
    st = c["statement"]
    eph = (
        "<tr><th>注意 <span class='en'>Note</span></th><td>临时密钥签名：只能证明报告未被改动，不能证明由谁签署。"
        "<br><span class='en'>Signed with an ephemeral key: proves integrity, not who signed it.</span></td></tr>"
        if st.get("ephemeral_key")
        else ""
    )
    rows = [
        ("签名密钥", "Signing key", f"<code>{_e(c['key_id'])}</code> ({_e(c['algorithm'])})"),
        ("签署时间", "Signed at", _e(st["date"])),
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
        " --public-key 公钥.pub</code><br><span class='muted small'>本页面只是 report.json 的展示；"
        "以签名的 report.json 为准。 / This page renders report.json; the signed report.json is authoritative."
        "</span></td></tr></table>"
    )


def _coverage(doc: dict[str, Any]) -> str:
    rows = []
    for r in doc["report"]["results"]["coverage"]:
        pct = r["percent_passed"]
        rows.append(
            f"<tr><td><b>{_e(r['name_zh'])}</b> {_e(r['name_en'])} <code class='muted'>{_e(r['profile'])}</code></td>"
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


def _causes(doc: dict[str, Any]) -> str:
    causes = doc["report"]["results"].get("root_causes", [])
    if not causes:
        return ""
    items = []
    for g in causes:
        roots = " ".join(f"<code>{_e(r['id'])}</code>" for r in g["root_clauses"])
        follow = ", ".join(_e(r["id"]) for r in g["consequences"])
        items.append(
            f"<li><b>{roots}</b> {_e(g['zh'])}<br><span class='en'>{_e(g['en'])}</span>"
            + (
                f"<br><span class='small muted'>由此导致 following from it: {follow} · {len(g['cases'])} 个用例 cases</span>"
                if follow
                else ""
            )
            + "</li>"
        )
    return (
        "<h2>根本原因 <small>Root causes, the first first</small></h2><ol class='reasons'>"
        + "".join(items)
        + "</ol>"
    )


def _clauses(doc: dict[str, Any]) -> str:
    rows = []
    for c in doc["report"]["results"]["clauses"]:
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


def _cases(doc: dict[str, Any]) -> str:
    res = doc["report"]["results"]
    s = res["summary"]
    out = [
        "<h2>用例与证据 <small>Cases and evidence</small></h2>",
        f"<p>{s['passed']} 通过 passed · {s['failed']} 失败 failed · {s['error']} 无法运行 could not run · "
        f"{s['skipped']} 跳过 skipped · {s['waived']} 豁免 waived · {s['deselected']} 未选 deselected · "
        f"{s['warnings']} 警告 warnings (SHOULD)</p>",
    ]
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
        if c["message"] and c["verdict"] != "waived":
            body += f"<div class='small muted'>信息 message</div><pre>{_e(c['message'])}</pre>"
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
        out.append(
            f"<details><summary>{_chip(c['verdict'])}{warn}<code>{_e(c['id'])}</code>"
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


def render_html(signed: bytes) -> str:
    """The HTML page of a signed report document (canonical JSON bytes)."""
    doc = json.loads(signed.decode("utf-8"))
    r = doc["report"]
    title = (
        f"santong {VERDICTS[r['results']['verdict']][1]} — {r['product']['vendor']} {r['product']['model']}"
    )
    parts = [
        _head(doc),
        _causes(doc),
        _product(doc),
        _coverage(doc),
        _clauses(doc),
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
