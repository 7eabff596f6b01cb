"""Training curves: the run's losses and validation metrics (from its
``scalars.json``, handed in as series)."""
from fcos_mm.visualization.svg import line_chart

from ..base import ReportContext, Section, to_floats

#: The y axis of each group's charts.
Y_LABELS = dict(losses='loss', metrics='metric')


class TrainingSection(Section):
    key = 'training'
    title = 'Training curves'

    def present(self, report: dict) -> bool:
        return bool(report.get('training'))

    def build(self, ctx: ReportContext) -> dict:
        if not ctx.training:
            return {}
        return dict(training={
            group: {name: [list(map(float, steps)), to_floats(values)]
                    for name, (steps, values) in series.items()}
            for group, series in ctx.training.items() if series})

    def html(self, report: dict, page) -> str:
        out = ['<h2 id="training">Training curves</h2><div class="grid">']
        for group, series in report['training'].items():
            for name, (steps, values) in series.items():
                finite = [v for v in values if v is not None]
                if not steps or not finite:
                    continue
                # the series is named in the title (no legend over the
                # line); the y axis says what kind (a metric's name can be
                # longer than the axis)
                out.append(line_chart(
                    [(name, steps, values)], f'{group}: {name}',
                    'step', Y_LABELS.get(group, 'value'),
                    xlim=(min(steps), max(steps) or 1),
                    ylim=(min(0.0, min(finite)), max(finite) or 1.0),
                    legend=False))
        out.append('</div>')
        return ''.join(out)
