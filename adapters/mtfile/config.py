"""Settings of the mtfile adapter: the drop folder, where files go after import, how the folder is watched.

Example configuration (``adapter:`` section; relative paths are relative to the configuration file)::

    adapter:
      kind: mtfile
      settings:
        folder: /srv/kj/140421000001        # where the KJ system drops its files
        poll_interval_ms: 1000              # how often the folder is looked at
        stable_s: 2                         # a file is judged only once size and mtime are unchanged this long
        rename_convention: false            # true: the KJ system writes under another name and renames to *.txt
        incomplete_grace_s: 120             # a file without its final '||' that stops growing this long → quarantine
        undefined_grace_s: 600              # data about undefined points waits this long for its CDDY → quarantine
        mapping: site.yaml                  # optional site mapping of the KJ system's own sensor-type codes

A file quarantined as incomplete (ST-DATA-041) is looked at again on every scan: once it ends with ``||`` and has
been stable for ``stable_s`` (the KJ system kept writing through its open handle, or the file was completed in
place), it is moved back into the drop folder and imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["MtFileSettings"]


@dataclass(frozen=True)
class MtFileSettings:
    """Where the files are and how long to wait for them.

    ``archive``, ``quarantine`` default to sub-folders of ``folder``; ``state_dir`` (the persisted definitions)
    to ``folder/.santong``. ``mine_code`` (optional) is the only mine whose files are accepted; by default the
    client's ``mine.mine_code``.
    """

    folder: Path
    archive: Path | None = None
    quarantine: Path | None = None
    state_dir: Path | None = None
    poll_interval_ms: int = 1000
    incomplete_grace_s: float = 120.0
    undefined_grace_s: float = 600.0
    mine_code: str = ""
    #: A file is judged only once its size and mtime have not changed for this long (seconds).
    stable_s: float = 2.0
    #: The KJ system writes each file under another name (``*.part``, ``*.tmp``, ``.name``) and renames it to
    #: ``*.txt`` when done: a ``*.txt`` file is then complete when it appears and is judged at once.
    rename_convention: bool = False
    #: Site mapping of the KJ system's own sensor-type codes (``santong validate --mapping`` takes the same file).
    mapping: Path | None = None

    def __post_init__(self) -> None:
        if not 10 <= self.poll_interval_ms <= 3_600_000:
            raise ValueError(
                f"poll_interval_ms 应在 10–3600000 之间，实为 {self.poll_interval_ms} / poll_interval_ms must lie "
                f"between 10 and 3600000, got {self.poll_interval_ms}"
            )
        if not 0 <= self.stable_s <= 3600:
            raise ValueError(
                f"stable_s 应在 0–3600 秒之间，实为 {self.stable_s} / stable_s must lie between 0 and 3600 s, "
                f"got {self.stable_s}"
            )
        for name in ("incomplete_grace_s", "undefined_grace_s"):
            value = getattr(self, name)
            if not 0 <= value <= 7 * 86_400:
                raise ValueError(
                    f"{name} 应在 0–604800 秒之间，实为 {value} / {name} must lie between 0 and 604800 s, got {value}"
                )
        if self.mine_code and not (len(self.mine_code) == 12 and self.mine_code.isdigit()):
            raise ValueError(
                f"mine_code 须为 12 位数字（ST-DATA-001），实为 {self.mine_code!r} / mine_code must be 12 digits "
                f"(ST-DATA-001), got {self.mine_code!r}"
            )
        for name in ("archive", "quarantine", "state_dir"):
            where = getattr(self, name)
            if where is not None and Path(where) == Path(self.folder):
                raise ValueError(
                    f"{name} 不能就是投放目录 folder / {name} must not be the drop folder itself (folder)"
                )

    @property
    def archive_dir(self) -> Path:
        """Where imported files are moved."""
        return Path(self.archive) if self.archive is not None else Path(self.folder) / "archive"

    @property
    def quarantine_dir(self) -> Path:
        """Where bad files are moved, each with ``<name>.reason.txt``."""
        return Path(self.quarantine) if self.quarantine is not None else Path(self.folder) / "quarantine"

    @property
    def state_file(self) -> Path:
        """The persisted definitions (points, outstations, areas, stations) of the files imported so far."""
        base = Path(self.state_dir) if self.state_dir is not None else Path(self.folder) / ".santong"
        return base / "mtfile-definitions.json"
