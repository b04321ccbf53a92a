"""The SPEC.md section on MT/T 1201 text files, rendered from the field tables the parser reads with.

``scripts/generate.py`` appends :func:`render` to SPEC.md, so the documented layouts cannot drift from the parser:
a field's kind in ``_filetypes`` is both how the parser reads it and what the table below says.
"""

from __future__ import annotations

from santong.adapters.mtfile._filetypes import HEADER, SUPPORTED_TYPES, FileType
from santong.protocols._catalogue import load_data

__all__ = ["render"]


def _table(t: FileType) -> list[str]:
    lines = [
        "| 序号 No. | 字段 | field | 必填 required | 格式 format | 条款 clause |",
        "|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(t.specs, 1):
        zh, en = s.format()
        required = "是 yes" if s.required else "否 no"
        lines.append(f"| {i} | {s.zh} | {s.en} | {required} | {zh} / {en} | {s.clause} |")
    return lines


def _aliases() -> list[str]:
    lines = [
        "| 代码 code | 名称 name | 别名 aliases | 旧代码 legacy |",
        "|---|---|---|---|",
    ]
    for e in load_data("dictionary.yaml")["sensor_types"]:
        aliases = "、".join(e.get("aliases") or []) or "—"
        legacy = ", ".join(str(v) for v in (e.get("legacy") or {}).values() if v) or "—"
        lines.append(f"| {e['code']} | {e['name_zh']} | {aliases} | {legacy} |")
    return lines


def render() -> list[str]:
    """The section's lines (Markdown)."""
    lines = [
        "## MT/T 1201 文本文件 / MT/T 1201 text files",
        "",
        "本节由解析器使用的字段表（adapters/mtfile/_filetypes.py）生成。文件名 `{煤矿编码 12 位}_{类型}_{yyyyMMddHHmmss}.txt`"
        "（ST-DATA-040、ST-DATA-046）；编码 UTF-8 或 GBK，可带 BOM（ST-DATA-043）；字段以 `;` 分隔，每条记录以 `~` 结尾，"
        "文件以 `||` 结尾（ST-DATA-041、ST-DATA-042）；记录之间可有换行（CRLF 或 LF），不影响含义；记录最后一个字段后多写一个 `;`"
        "（KJ 系统常见）可以接受，少字段或多于一个多余字段不可以。时间为北京时间，导入时转为 UTC（ST-DATA-044）。第一条记录是表头：",
        "",
        "This section is generated from the field tables the parser reads with (adapters/mtfile/_filetypes.py). File "
        "name `{mine code, 12 digits}_{TYPE}_{yyyyMMddHHmmss}.txt` (ST-DATA-040, ST-DATA-046); UTF-8 or GBK, with or "
        "without BOM (ST-DATA-043); fields separated by `;`, each record ends with `~`, the file with `||` "
        "(ST-DATA-041, ST-DATA-042); line breaks (CRLF or LF) between records carry no meaning; one `;` after a "
        "record's last field (common in KJ exports) is accepted, a missing field or more than one extra is not. "
        "Times are China local time, converted to UTC on import (ST-DATA-044). The first record is the header:",
        "",
        *_table(HEADER),
        "",
        "```",
        HEADER.example,
        "```",
        "",
        "### 类型字段的解析 / How the type field is resolved",
        "",
        "传感器类型字段（CDDY、CDSS、TJSJ、YCBJ）以及测点编码中的 4 位类型段按以下顺序解析为数据字典代码（比较前做 NFKC 规范化、"
        "去空白、不区分大小写、去掉末尾的“传感器”）：1. 字典代码（A001）；2. 现场映射（`santong validate --mapping site.yaml`、"
        "mtfile 适配器的 `mapping` 设置，格式见 protocols/data/site_mapping.schema.json；只用于 MT/T 文件，认证从不接受现场映射）；"
        "3. 字典中文名称（甲烷）；4. 字典别名（瓦斯、CO）；5. 字典旧代码（M0101、1101）。都不匹配时不作猜测：违反 ST-DATA-010，"
        "并列出名称包含该文字的条目（如“开停”→ S001 设备开停、S003 局扇开停），由持有文件的人在现场映射中写明。量程、单位和门限随后"
        "取自该字典条目（或目录中的 CDDY 定义）。每个别名只指向一个条目：",
        "",
        "The sensor-type field (CDDY, CDSS, TJSJ, YCBJ) and the 4-character type segment of point codes resolve to a "
        "data-dictionary code in this order (compared after NFKC normalisation, without blanks, case-insensitively, "
        "without a trailing 传感器): 1. the dictionary code (A001); 2. the site mapping (`santong validate --mapping "
        "site.yaml`, the mtfile adapter's `mapping` setting; format protocols/data/site_mapping.schema.json; MT/T files "
        "only, certification never accepts one); 3. the dictionary's Chinese name (甲烷); 4. a dictionary alias (瓦斯, "
        "CO); 5. a dictionary legacy code (M0101, 1101). Nothing is guessed when none matches: ST-DATA-010, listing the "
        "entries whose names contain the text (e.g. 开停 → S001 设备开停, S003 局扇开停) for the file holder to state "
        "in the site mapping. Ranges, units and thresholds then come from that entry (or from the folder's CDDY "
        "definitions). Each alias names exactly one entry:",
        "",
        *_aliases(),
        "",
        "### 实时数据与测点定义 / Real-time records and their definitions",
        "",
        "目录中有 CDDY 时，每条 CDSS 记录的传感器类型（按上节解析）必须与 CDDY 对该测点定义的类型相同，否则该记录违反 ST-DATA-004"
        "（测点与其定义一致）；写法不能唯一对应一个条目（如“开停”）时，只要候选条目之一是定义的类型即可；其他解析不出的写法违反 "
        "ST-DATA-010。没有 CDDY 时，测点按其第一条记录的类型从数据字典定义，之后的记录同样与之比较。",
        "",
        "When the folder holds a CDDY, the sensor type of every CDSS record (resolved as above) must be the type the "
        "CDDY defines for that point; a record that disagrees breaks ST-DATA-004 (point agrees with its definition). "
        "A text that names no single entry (e.g. 开停) is accepted when one of its candidates is the defined type; any "
        "other unresolved text breaks ST-DATA-010. Without a CDDY, a point is defined from the dictionary by its first "
        "record's type, and its later records are compared with that.",
        "",
    ]
    for t in SUPPORTED_TYPES.values():
        lines += [
            f"### {t.code} · {t.name_zh} / {t.name_en} → {t.message}",
            "",
            *_table(t),
            "",
            "```",
            t.example,
            "```",
            "",
        ]
    return lines
