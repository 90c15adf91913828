"""dbt through dagster-dbt, without the costs dbt pays again on every invocation.

- Before every `dbt build` dagster-dbt runs `dbt --version` to learn which engine it drives
  (dbt-core or Fusion): a second Python process importing dbt, 3-5 s of a small day's run. When
  the executable is the `dbt` of this very environment, the installed dbt-core states it.
- dagster-dbt builds a dbt adapter in this process for every invocation, to query the built
  relations afterwards; the row counts come from dbt's log instead, so none is built.
- dbt re-parses the whole project (10-30 s here) unless the saved parse state matches the
  invocation: same CLI `--vars`, same rendered connection (the DuckDB path is under DATA_DIR).
  So the partition window travels in the environment (`extra_env`, read by the dbt macros only
  at execution, see `dbt/macros/partition_window.sql`), and the state each invocation leaves is
  kept per DATA_DIR (`parse_state_dir`) and handed to the next one. dbt still checks every hash
  itself: a stale state costs one full parse, never a wrong manifest.
"""

import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, DbtCliInvocation
from packaging import version

# dagster-dbt's per-invocation target directories: `<op>-<run id[:7]>-<uuid[:7]>`, or
# `<uuid[:7]>` outside a run.
INVOCATION_DIR = re.compile(r"(?:.+-[0-9a-f]{7}-)?[0-9a-f]{7}")


class DbtCoreCliResource(DbtCliResource):
    """`DbtCliResource` that reads this environment's dbt-core version instead of running dbt,
    passes extra environment variables and reuses the parse state of earlier invocations."""

    # Where the parse state of this warehouse is kept between invocations (none: dbt's own).
    parse_state_dir: str | None = None
    # Every invocation leaves a target directory of its own (manifest, compiled SQL, run
    # results: about 10 MB): the newest are kept to look at after a failure, and the rest once
    # they are old enough that no invocation can still be writing them.
    kept_invocation_dirs: int = 5
    invocation_dir_min_age_seconds: int = 6 * 3600

    @cached_property
    def _cli_version(self) -> version.Version:
        found = shutil.which(self.dbt_executable)
        if found and Path(found).parent == Path(sys.executable).parent:
            from dbt.version import __version__

            return version.parse(__version__)
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        # dagster-dbt loads dbt's whole configuration in this process for an adapter that only
        # its `fetch_row_counts` / `fetch_column_metadata` use; the row counts come from dbt's
        # own log instead (dbt/macros/log_row_count.sql), so no adapter is built.
        return None

    def cli(self, args, *, extra_env: Mapping[str, str] | None = None, **kwargs) -> DbtCliInvocation:
        target_path = kwargs.pop("target_path", None) or self._get_unique_target_path(context=kwargs.get("context"))
        absolute = target_path if target_path.is_absolute() else Path(self.project_dir) / target_path
        saved = self._saved_parse_state()
        if saved is not None and saved.exists():
            # dagster-dbt copies the project's own state only where none is present yet.
            absolute.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, absolute / PARTIAL_PARSE_FILE_NAME)
        with _environment(extra_env or {}):  # the subprocess copies os.environ as it starts
            return super().cli(args, target_path=target_path, **kwargs)

    def keep_parse_state(self, invocation: DbtCliInvocation) -> None:
        """Save the parse state `invocation` left (after it ended) for the next invocation."""
        saved = self._saved_parse_state()
        left = invocation.target_path / PARTIAL_PARSE_FILE_NAME
        if saved is None or not left.exists():
            return
        saved.parent.mkdir(parents=True, exist_ok=True)
        staged = saved.with_name(f".{saved.name}.{uuid.uuid4().hex}")
        shutil.copyfile(left, staged)
        os.replace(staged, saved)  # concurrent runs each leave a whole file

    def prune_invocation_dirs(self, finished: DbtCliInvocation, now: float | None = None) -> list[Path]:
        """Remove earlier invocations' target directories beyond the newest `kept_invocation_dirs`
        that are older than `invocation_dir_min_age_seconds`; returns those removed."""
        cutoff = (time.time() if now is None else now) - self.invocation_dir_min_age_seconds
        aged = []
        for entry in finished.target_path.parent.iterdir():
            if entry.is_dir() and INVOCATION_DIR.fullmatch(entry.name):
                with suppress(FileNotFoundError):  # another run pruning too
                    aged.append((entry.stat().st_mtime, entry))
        aged.sort(reverse=True)
        removed = [entry for mtime, entry in aged[self.kept_invocation_dirs :] if mtime < cutoff]
        for entry in removed:
            shutil.rmtree(entry, ignore_errors=True)
        return removed

    def _saved_parse_state(self) -> Path | None:
        if self.parse_state_dir is None:
            return None
        return Path(self.parse_state_dir) / f"{self.target or 'default'}-{PARTIAL_PARSE_FILE_NAME}"


@contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
