"""The analytic mode against published peak-memory measurements (`validation/measured.json`).

Each row names its source, the framework and hardware, the metric it reports and the model and
strategy in memviz's own vocabulary (TrainingConfig and AnalyticOptions field names). The overhead
terms added to an estimate follow the metric: `allocated` (torch.cuda.max_memory_allocated) has
none, `reserved` (max_memory_reserved) adds the allocator's fragmentation, `nvidia-smi` also the
CUDA context and NCCL buffers.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import viz_app

from ..config import APPLY_ORDER, TrainingConfig
from ..errors import MemvizError
from . import AnalyticOptions, estimate_analytic
from .architecture import Architecture
from .frameworks import options_for
from .model_config_import import import_model_config
from .model_presets import load_model_preset

METRICS = ("allocated", "active", "reserved", "nvidia-smi")
ROW_KEYS = ("id", "source", "framework", "hardware", "metric", "measured_gib", "model", "training")
SOURCE_KEYS = ("title", "url", "where", "quote")
# Overhead options each metric leaves out (set to 0).
EXCLUDED_OVERHEADS = {
    "allocated": ("cuda_context_mib", "allocator_fragmentation", "nccl_buffer_mib_per_group"),
    # active_bytes: the allocator's blocks in use, i.e. allocated rounded up to whole blocks
    "active": ("cuda_context_mib", "allocator_fragmentation", "nccl_buffer_mib_per_group"),
    "reserved": ("cuda_context_mib", "nccl_buffer_mib_per_group"),
    "nvidia-smi": (),
}
MAX_FILE_BYTES = 4 << 20
# Issue #13's targets: median |error| under 8%, no row worse than 20%.
TARGET_MEDIAN_ERROR_PCT = 8.0
TARGET_MAX_ERROR_PCT = 20.0


class ValidationFileError(MemvizError):
    """A measurements file that does not follow the schema."""


@dataclass(frozen=True)
class Measurement:
    """One published peak-memory number and the setup it was measured with."""

    id: str
    source: dict
    framework: str
    hardware: str
    metric: str
    measured_gib: float
    arch: Architecture
    training: dict
    options: dict
    notes: str


@dataclass(frozen=True)
class RowResult:
    measurement: Measurement
    estimate_gib: float
    peak_stage: int
    breakdown_gib: dict

    @property
    def framework_preset(self) -> str:
        """The framework preset the row's options name (custom when none)."""
        return self.measurement.options.get("framework", "custom")

    @property
    def error_pct(self) -> float:
        """Signed: positive when memviz estimates more than was measured."""
        return (self.estimate_gib - self.measurement.measured_gib) / self.measurement.measured_gib * 100


@dataclass(frozen=True)
class ValidationResults:
    rows: tuple[RowResult, ...]

    @property
    def median_abs_error_pct(self) -> float:
        return statistics.median(abs(r.error_pct) for r in self.rows)

    def by_framework(self) -> dict[str, dict]:
        """Per framework preset the rows use: row count, median and largest |error| in %."""
        groups: dict[str, list[float]] = {}
        for r in self.rows:
            groups.setdefault(r.framework_preset, []).append(abs(r.error_pct))
        return {name: {"rows": len(errors), "median_abs_error_pct": statistics.median(errors),
                       "max_abs_error_pct": max(errors)} for name, errors in sorted(groups.items())}

    def to_json(self) -> dict:
        return {
            "rows": [{
                "id": r.measurement.id, "framework": r.measurement.framework, "hardware": r.measurement.hardware,
                "metric": r.measurement.metric, "measured_gib": r.measurement.measured_gib,
                "framework_preset": r.framework_preset,
                "estimate_gib": r.estimate_gib, "error_pct": r.error_pct, "peak_stage": r.peak_stage,
                "breakdown_gib": r.breakdown_gib, "source": r.measurement.source,
            } for r in self.rows],
            "median_abs_error_pct": self.median_abs_error_pct,
            "target_median_abs_error_pct": TARGET_MEDIAN_ERROR_PCT,
            "target_max_abs_error_pct": TARGET_MAX_ERROR_PCT,
            "rows_over_max_target": [r.measurement.id for r in self.rows if abs(r.error_pct) > TARGET_MAX_ERROR_PCT],
            "by_framework": self.by_framework(),
        }


def default_measurements_path() -> Path:
    """`viz_app/validation/measured.json` in an installed wheel, else the checkout's `validation/`."""
    package_dir = Path(viz_app.__file__).resolve().parent
    for candidate in (package_dir / "validation", package_dir.parent / "validation"):
        if (candidate / "measured.json").is_file():
            return candidate / "measured.json"
    raise ValidationFileError(f"no validation/measured.json found next to {package_dir}")


def load_measurements(path: str | Path | None = None) -> list[Measurement]:
    """Read and check a measurements file; errors name the row and the problem."""
    path = Path(path) if path else default_measurements_path()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValidationFileError(f"{path.name}: {path.stat().st_size} bytes is too large")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationFileError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFileError(f"{path.name}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or not data["rows"]:
        raise ValidationFileError(f"{path.name}: expected an object with a non-empty 'rows' list")
    rows = [parse_row(row, index, path.name) for index, row in enumerate(data["rows"], start=1)]
    ids = [r.id for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationFileError(f"{path.name}: duplicate row ids: {', '.join(duplicates)}")
    return rows


def parse_row(row, index: int, file_name: str = "measurements") -> Measurement:
    where = f"{file_name} row {index}"
    if not isinstance(row, dict):
        raise ValidationFileError(f"{where}: a row must be an object")
    where = f"{file_name} row {index} ({row.get('id', 'no id')})"
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValidationFileError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(row["source"], dict) or [k for k in SOURCE_KEYS if not row["source"].get(k)]:
        raise ValidationFileError(f"{where}: source needs {', '.join(SOURCE_KEYS)}")
    if row["metric"] not in METRICS:
        raise ValidationFileError(f"{where}: metric '{row['metric']}' is not one of {', '.join(METRICS)}")
    measured = row["measured_gib"]
    if isinstance(measured, bool) or not isinstance(measured, int | float) or measured <= 0:
        raise ValidationFileError(f"{where}: measured_gib must be a positive number, got {measured!r}")
    training, options = row["training"], row.get("options", {})
    for name, values, allowed in (("training", training, APPLY_ORDER), ("options", options, AnalyticOptions.param)):
        if not isinstance(values, dict):
            raise ValidationFileError(f"{where}: {name} must be an object")
        unknown = sorted(set(values) - set(allowed) - {"name"})
        if unknown:
            raise ValidationFileError(f"{where}: unknown {name} keys: {', '.join(unknown)}")
    return Measurement(row["id"], row["source"], row["framework"], row["hardware"], row["metric"], float(measured),
                       _architecture(row["model"], where), training, options, row.get("notes", ""))


def _architecture(model, where: str) -> Architecture:
    if not isinstance(model, dict):
        raise ValidationFileError(f"{where}: model must be an object")
    try:
        if "preset" in model:
            return load_model_preset(model["preset"])
        return import_model_config(model, model.get("name", where))
    except MemvizError as exc:
        raise ValidationFileError(f"{where}: {exc}") from exc


def row_options(measurement: Measurement) -> AnalyticOptions:
    """The row's options, with the overhead terms its metric does not include set to zero."""
    values = dict(measurement.options)
    values.update({name: 0 for name in EXCLUDED_OVERHEADS[measurement.metric]})
    return options_for(values)


def estimate_row(measurement: Measurement) -> RowResult:
    config = TrainingConfig()
    try:
        config.apply(**{**measurement.arch.config_defaults(), **measurement.training})
        estimate = estimate_analytic(config, measurement.arch, row_options(measurement))
    except (MemvizError, ValueError) as exc:
        raise ValidationFileError(f"row {measurement.id}: {exc}") from exc
    # a row measured on one rank names its pipeline stage; otherwise the most loaded stage counts
    peak = estimate.stages[config.stage] if "stage" in measurement.training else estimate.peak_stage
    breakdown = {name: round(getattr(peak, f"{name}_mib") / 1024, 3)
                 for name in ("activation", "parameter", "gradient", "optimizer", "grad_accumulate", "overhead")}
    return RowResult(measurement, peak.total_mib / 1024, peak.stage, breakdown)


def validate_rows(measurements: list[Measurement]) -> ValidationResults:
    return ValidationResults(tuple(estimate_row(m) for m in measurements))


def format_validation(results: ValidationResults) -> str:
    """A table of measured vs estimated GiB per row, then the median absolute error."""
    header = ("id", "metric", "measured", "memviz", "error")
    rows = [header] + [
        (r.measurement.id, r.measurement.metric, f"{r.measurement.measured_gib:.2f}", f"{r.estimate_gib:.2f}",
         f"{r.error_pct:+.1f}%") for r in results.rows
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["peak memory per GPU in GiB (2^30 bytes): published measurement vs memviz analytic estimate"]
    lines += ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
              strict=True))) for row in rows]
    lines.append("by framework preset:")
    for name, summary in results.by_framework().items():
        lines.append(f"  {name:12} {summary['rows']:3} rows  median |error| {summary['median_abs_error_pct']:5.1f}%  "
                     f"worst {summary['max_abs_error_pct']:5.1f}%")
    median = results.median_abs_error_pct
    over = sum(abs(r.error_pct) > TARGET_MAX_ERROR_PCT for r in results.rows)
    lines.append(f"median absolute error: {median:.1f}% over {len(results.rows)} rows "
                 f"(target < {TARGET_MEDIAN_ERROR_PCT:g}%); {over} row{'' if over == 1 else 's'} "
                 f"over {TARGET_MAX_ERROR_PCT:g}% (target: none)")
    return "\n".join(lines)
