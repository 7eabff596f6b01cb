"""Loss and metric curves from an mmengine JSON scalar log.

mmengine's ``LocalVisBackend`` appends one JSON object per line to
``<work_dir>/<timestamp>/vis_data/scalars.json`` (and to
``vis_data/<timestamp>.json``): a **training** record (one holding ``loss*``
keys, besides ``lr``, ``time``, ``iter``, ``epoch`` for epoch-based loops
and ``step``, the 1-based global iteration) every ``LoggerHook.interval``
iterations, and a **validation** record after each evaluation, with the
metrics (e.g. ``coco/bbox_mAP``) and ``step``: the global iteration, or the
epoch for epoch-based loops (``LoggerHook(log_metric_by_epoch=...)``).
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

Series = Tuple[List[int], List[float]]

# Keys of a validation record that are bookkeeping, not metrics.
_NOT_METRICS = ('step', 'time', 'data_time', 'iter', 'epoch', 'memory', 'lr')
# What the metric panel shows by default when the log has it.
DEFAULT_METRIC_SUFFIXES = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')


@dataclass
class Curves:
    """Series parsed from one JSON scalar log.

    Attributes:
        losses (dict[str, Series]): ``(steps, values)`` of each ``loss*`` key
            of the training records; steps are global iterations.
        metrics (dict[str, Series]): ``(steps, values)`` of each numeric
            metric of the validation records.
        metric_unit (str): What a metric step counts: ``'iter'``, or
            ``'epoch'`` when the training records carry an epoch.
    """
    losses: Dict[str, Series] = field(default_factory=dict)
    metrics: Dict[str, Series] = field(default_factory=dict)
    metric_unit: str = 'iter'


def _append(series: Dict[str, Series], key: str, step: int,
            value: float) -> None:
    steps, values = series.setdefault(key, ([], []))
    steps.append(step)
    values.append(value)


def load_curves(json_log: str) -> Curves:
    """The loss and metric series, in the order of the log, of a
    ``scalars.json`` (or ``<timestamp>.json``).

    Raises:
        FileNotFoundError, ValueError: naming the file (and the line) that
            is missing, not a JSON object with a ``step``, or empty.
    """
    if not osp.isfile(json_log):
        raise FileNotFoundError(f'No JSON log at {json_log}.')
    curves = Curves()
    records = 0
    with open(json_log) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                raise ValueError(
                    f'{json_log}, line {line_no}: not JSON ({e}).') from e
            if not isinstance(record, dict) or 'step' not in record:
                raise ValueError(f'{json_log}, line {line_no}: expected a '
                                 f'JSON object with a "step", got {line!r}.')
            records += 1
            step = int(record['step'])
            numeric = {
                key: float(value)
                for key, value in record.items() if isinstance(
                    value, (int, float)) and not isinstance(value, bool)
            }
            if any(key.startswith('loss') for key in numeric):
                if 'epoch' in record:
                    curves.metric_unit = 'epoch'
                for key, value in numeric.items():
                    if key.startswith('loss'):
                        _append(curves.losses, key, step, value)
            else:
                for key, value in numeric.items():
                    if key not in _NOT_METRICS:
                        _append(curves.metrics, key, step, value)
    if not records:
        raise ValueError(f'{json_log} holds no log record.')
    return curves


def _pick(available: Dict[str, Series], wanted: Optional[Sequence[str]],
          kind: str) -> List[str]:
    if wanted is None:
        return list(available)
    missing = [key for key in wanted if key not in available]
    if missing:
        raise KeyError(f'No {kind} {missing} in the log; it has '
                       f'{sorted(available)}.')
    return list(wanted)


def plot_curves(curves: Curves,
                out_file: str,
                loss_keys: Optional[Sequence[str]] = None,
                metric_keys: Optional[Sequence[str]] = None,
                title: Optional[str] = None) -> str:
    """Draw the losses (left) and the metrics (right) into a PNG.

    Uses matplotlib's Agg canvas directly, so it needs no display and leaves
    pyplot's global backend alone.

    Args:
        curves (Curves): Series from :func:`load_curves`.
        out_file (str): PNG path; parent folders are created.
        loss_keys (Sequence[str], optional): Losses to draw. Defaults to all.
        metric_keys (Sequence[str], optional): Metrics to draw. Defaults to
            the keys ending in :data:`DEFAULT_METRIC_SUFFIXES` if the log has
            any, else all metrics.
        title (str, optional): Figure title.

    Returns:
        str: ``out_file``.

    Raises:
        KeyError, ValueError: A requested key is not in the log; nothing
            to draw.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    losses = _pick(curves.losses, loss_keys, 'loss')
    if metric_keys is None:
        metric_keys = [
            key for key in curves.metrics
            if key.split('/')[-1] in DEFAULT_METRIC_SUFFIXES
        ] or None
    metrics = _pick(curves.metrics, metric_keys, 'metric')
    panels = [(losses, curves.losses, 'iter', 'loss'),
              (metrics, curves.metrics, curves.metric_unit, 'metric')]
    panels = [panel for panel in panels if panel[0]]  # those with keys
    if not panels:
        raise ValueError('The log has no loss and no metric to plot.')

    fig = Figure(figsize=(6 * len(panels), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    for index, (keys, series, x_label, y_label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), index + 1)
        for key in keys:
            steps, values = series[key]
            marker = 'o' if len(steps) < 30 else None
            ax.plot(steps, values, label=key, marker=marker)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    if title:
        fig.suptitle(title, fontsize='medium')
    fig.tight_layout()
    out_dir = osp.dirname(out_file)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out_file, format='png')
    return out_file
