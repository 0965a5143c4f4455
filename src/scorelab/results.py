"""Results of a run: the ``Result`` class.

A ``Result`` is a run's tables and results folder (``scorelab.tables.RunTables``: reading,
writing, the folder format of docs/results.md) with the conveniences a user reaches for
first: ``summary()`` (the headline figures, ``scorelab.metrics.headline``), ``plot(name)``
(a figure of the report) and its table in Jupyter. Those call the metrics and the report,
which read ``RunTables`` themselves: this module sits above them, so nothing they import
comes back here. Runs are made by ``scorelab.runner`` (``scorelab.run``).
"""

from __future__ import annotations

from typing import Any

from scorelab.tables import (
    FORMAT_NAME,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    RunTables,
    default_run_id,
    list_runs,
    people_frame,
)
from scorelab.vocabulary import figure_unit, format_figure

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "READABLE_VERSIONS", "Result", "RunTables", "default_run_id", "list_runs",
    "people_frame",
]


class Result(RunTables):
    """A run's results: metrics per step, end state, scenario and manifest.

    Build one with ``scorelab.run(...)`` or read a results folder with ``Result.open(dir)``.
    ``metrics`` (one row per step), ``groups`` and ``scores`` are always present; ``people``
    (one row per person) is present after a run and in folders saved with ``people=True``.
    Metric functions in ``scorelab.metrics`` take a Result (or a folder).
    """

    def summary(self) -> dict[str, float | str | None]:
        """Headline figures (see ``scorelab.metrics.headline``)."""
        from scorelab import metrics

        return metrics.headline(self)

    def verdict(self) -> list[str]:
        """Three plain sentences on what the system did to people against the twin (who was
        sanctioned and how many wrongly, what lawful behaviour fell, which group lost most);
        see ``scorelab.verdict``."""
        from scorelab.verdict import verdict

        return verdict(self)

    def plot(self, name: str) -> Any:
        """One of the report's figures as a matplotlib Figure (shown inline in Jupyter);
        names: ``scorelab.report.PLOT_NAMES``."""
        from scorelab.report import plot

        return plot(self, name)

    def data_held(self, by: str = "group") -> Any:
        """What is held about people at the end, per ``by`` (group, province, city, urban) and
        overall: people with data held, records, channels and domains per person, the twin's
        (none) beside them (``scorelab.metrics_data.data_held``)."""
        from scorelab import metrics_data

        return metrics_data.data_held(self, by)

    def data_series(self) -> Any:
        """Data held about people step by step, as rollout proceeds (``metrics_data.data_series``)."""
        from scorelab import metrics_data

        return metrics_data.data_series(self)

    def regions_over_time(self, level: str = "city") -> Any:
        """Per-region series summed to ``level`` (city, province, national), with rates per
        1,000 people (``metrics_data.region_series``); the raw table is ``regions``."""
        from scorelab import metrics_data

        return metrics_data.region_series(self, level)

    def trajectory(self, person: int | None = None) -> Any:
        """The sampled people's paths (all, or one ``person``'s); the table is ``trajectories``."""
        from scorelab import metrics_data

        return metrics_data.trajectories(self, person)

    def to_pandas(self, table: str = "metrics") -> Any:
        """One of the run's tables (``metrics``, ``groups``, ``scores``, ``people``, ``regions``,
        ``trajectories`` or ``lending``: ``lending_by_group()``) as a pandas DataFrame (needs
        the ``pandas`` extra)."""
        from scorelab.errors import UsageError, require_extra

        require_extra("pandas", "pandas", "Result.to_pandas()")
        frames = {"metrics": lambda: self.metrics, "groups": lambda: self.groups, "scores": lambda: self.scores,
                  "people": lambda: self.people, "regions": lambda: self.regions,
                  "trajectories": lambda: self.trajectories, "lending": self.lending_by_group}
        if table not in frames:
            raise UsageError(f"to_pandas: no table {table!r}; tables: {', '.join(frames)}")
        return frames[table]().to_pandas()

    def _repr_html_(self) -> str:
        import html

        m = self.manifest
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{html.escape(format_figure(k, v))}</td>"
            f"<td>{html.escape(figure_unit(k) if v is not None else '')}</td></tr>"
            for k, v in self.summary().items()
        )
        said = "".join(f"<li>{html.escape(s)}</li>" for s in self.verdict())
        return (f"<div><b>scorelab run {html.escape(m['run_id'])}</b>: {html.escape(m['scenario'])}, seed {m['seed']}, "
                f"{m['people']:,} people, {m['days']:g} days, against its counterfactual twin<ul>{said}</ul>"
                f"<table><tr><th>what</th><th>value</th><th>unit</th></tr>{rows}</table></div>")
