"""The exit-code scheme of every ``santong`` command, and the one way to report an error.

===  ==========================================================================================================
0    成功 / success, verdict PASS
1    不符合：结论 FAIL，或报告不可信 / non-conformance: a FAIL verdict, or a report that must not be trusted
2    用法或环境错误，或无法运行 / usage or environment error (missing file, bad option, cannot bind), COULD NOT RUN
===  ==========================================================================================================

Other codes only where a command documents them (130 after Ctrl-C). Errors are one bilingual line on standard
error — what is wrong and how to fix it — and never a traceback unless ``santong --debug`` is given.

Example::

    from santong._exit import USAGE, CommandError

    if not path.is_file():
        raise CommandError(f"找不到文件 {path}，请检查路径", f"file not found: {path} — check the path")
"""

from __future__ import annotations

import sys
from typing import IO

__all__ = ["FAIL", "INTERRUPTED", "OK", "USAGE", "CommandError", "error"]

#: Success, verdict PASS.
OK = 0
#: A verdict of non-conformance (FAIL), or a report that must not be trusted.
FAIL = 1
#: Usage and environment errors (missing file, bad option, cannot bind), and COULD NOT RUN.
USAGE = 2
#: Interrupted with Ctrl-C (SIGINT).
INTERRUPTED = 130


def error(zh: str, en: str = "", *, code: int = USAGE, stream: IO[str] | None = None) -> int:
    """Print ``✘ 错误 error: <zh> / <en>`` on standard error; return ``code`` (2 by default).

    ``en`` may be left out when ``zh`` already holds both languages (a message from a bilingual exception)."""
    text = f"{zh} / {en}" if en else zh
    print(f"✘ 错误 error: {text}", file=stream or sys.stderr, flush=True)
    return code


class CommandError(Exception):
    """A usage or environment error with its bilingual message and fix; ``santong`` prints it and exits ``code``.

    Example::

        raise CommandError("无法监听 127.0.0.1:80：权限不足", "cannot bind 127.0.0.1:80: permission denied")
    """

    def __init__(self, zh: str, en: str = "", *, code: int = USAGE) -> None:
        super().__init__(f"{zh} / {en}" if en else zh)
        self.zh, self.en, self.code = zh, en, code

    def report(self, stream: IO[str] | None = None) -> int:
        """Print the message; the exit code."""
        return error(self.zh, self.en, code=self.code, stream=stream)
