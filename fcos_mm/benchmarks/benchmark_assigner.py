"""FCOSPointAssigner against mmdet's ``FCOSHead.get_targets``.

Both sides assign the same random boxes on the points of a padded
``height x width`` batch (default 800x1344, 2 images, centre sampling on) for
several box counts. Each measurement runs in its own subprocess
(``python -m fcos_mm.benchmarks.benchmark_assigner``) so that its peak RSS
is clean: the worker builds its inputs, warms its code up on a few boxes,
resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), runs, and
reports ``VmHWM - VmRSS-before`` as the extra peak memory. The parent
checks that our labels and foreground targets equal mmdet's exactly (and
that every box count has positives to compare) and prints a table and a
pass/fail line against the goals (extra peak memory at most 1/8 of mmdet's
and time at most 1/2, at the goal box counts).
"""
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Sequence, Tuple

from .harness import format_table, random_boxes, timed_turns

STRIDES = (8, 16, 32, 64, 128)
REGRESS_RANGES = ((-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8))
NUM_CLASSES = 80

#: What a measurement depends on, with the tool's defaults.
DEFAULT_SETTING = dict(
    images=2,
    height=800,
    width=1344,
    center_sampling=True,
    radius=1.5,
    max_pairs=None,
    repeat=3,
    threads=1,
    seed=0,
    warmup=True)

#: Most seconds of timed runs per measurement (the first always runs).
TIME_BUDGET_S = 2.0


# ------------------------------------------------------------------ worker
def _status_kib(field: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/self/status."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError('no {} in /proc/self/status'.format(field))


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if refused."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _max_rss_kib() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def grid_sizes(setting: dict) -> list:
    """``(H_l, W_l)`` of each level's point grid."""
    return [(math.ceil(setting['height'] / s), math.ceil(setting['width'] / s))
            for s in STRIDES]


def make_inputs(setting: dict, num_boxes: int):
    """Points of the padded batch and the boxes and labels of each image:
    log-uniform sides from 4 px to the image size, as in COCO; a third of
    the boxes integer (points on edges, equal areas: ties)."""
    import torch
    from mmdet.models.task_modules import MlvlPointGenerator
    points = MlvlPointGenerator(STRIDES, offset=0.5).grid_priors(
        grid_sizes(setting), dtype=torch.float32, device='cpu')
    shape = (setting['height'], setting['width'])
    boxes, labels = [], []
    for img in range(setting['images']):
        gen = torch.Generator().manual_seed(setting['seed'] * 1000 + img)
        b = random_boxes(num_boxes, shape, gen, 4, spread='log')
        b[:num_boxes // 3] = b[:num_boxes // 3].round()
        boxes.append(b)
        labels.append(
            torch.randint(0, NUM_CLASSES, (num_boxes, ), generator=gen))
    return points, boxes, labels


def build_side(setting: dict, side: str) -> Callable:
    """A function ``(points, boxes, labels) -> (labels, targets)`` per level,
    images concatenated, targets in pixels."""
    import torch
    if side == 'mmdet':
        from mmdet.models.dense_heads import FCOSHead
        from mmengine.structures import InstanceData
        head = FCOSHead(
            num_classes=NUM_CLASSES,
            in_channels=1,
            feat_channels=1,
            stacked_convs=1,
            strides=STRIDES,
            regress_ranges=REGRESS_RANGES,
            center_sampling=setting['center_sampling'],
            center_sample_radius=setting['radius'],
            norm_on_bbox=False,
            norm_cfg=None,
            init_cfg=None)

        def run(points, boxes, labels):
            with torch.no_grad():
                return head.get_targets(points, [
                    InstanceData(bboxes=b, labels=lab)
                    for b, lab in zip(boxes, labels)
                ])

        return run

    from fcos_mm.registry import TASK_UTILS
    cfg = dict(
        type='FCOSPointAssigner',
        regress_ranges=REGRESS_RANGES,
        center_sampling=setting['center_sampling'],
        center_sample_radius=setting['radius'])
    if setting['max_pairs'] is not None:
        cfg['max_pairs'] = setting['max_pairs']
    assigner = TASK_UTILS.build(cfg)

    def run(points, boxes, labels):
        # the whole batch at once on the grid windows, as the head does
        num = [p.size(0) for p in points]
        res = assigner.assign_batch(points, STRIDES, boxes, labels,
                                    NUM_CLASSES, grid_sizes(setting))
        # (N, P_l, ...) per level -> (N * P_l, ...), as mmdet's
        return ([x.flatten(0, 1) for x in res.labels.split(num, 1)],
                [x.flatten(0, 1) for x in res.bbox_targets.split(num, 1)])

    return run


def worker(setting: dict, side: str, num_boxes: int, out: str) -> None:
    """Measure one side at one box count; save its targets and figures."""
    import torch
    torch.set_num_threads(setting['threads'])
    run = build_side(setting, side)
    points, boxes, labels = make_inputs(setting, num_boxes)
    if setting['warmup']:
        # warm up on a few boxes: lazy kernel set-up is no part of the figure
        run(points, [b[:5] for b in boxes], [lab[:5] for lab in labels])
    before = _status_kib('VmRSS')
    exact = _reset_peak_rss()
    if not exact:
        before = _max_rss_kib()
    outputs = []
    runs = dict(assign=lambda: outputs.append(run(points, boxes, labels)))
    # the peak of the first run only; later runs only re-use memory
    times = timed_turns(runs, 0, 1)['assign']
    peak = _status_kib('VmHWM') if exact else _max_rss_kib()
    times += timed_turns(runs, 0, setting['repeat'] - 1,
                         budget_s=TIME_BUDGET_S - times[0])['assign']
    torch.save(
        dict(result=outputs[0], extra_kib=max(peak - before, 0),
             time=min(times), exact_peak=exact), out)


# ------------------------------------------------------------------ parent
def measure(setting: dict, side: str, num_boxes: int, tmpdir: str) -> Dict:
    """Run one worker subprocess and load what it saved."""
    import torch
    out = osp.join(tmpdir, '{}_{}.pth'.format(side, num_boxes))
    # the worker imports this fcos_mm, installed or not
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    cmd = [
        sys.executable, '-m', __name__, side,
        str(num_boxes), out,
        json.dumps(setting)
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(
            'benchmark worker {} at {} boxes failed:\n{}'.format(
                side, num_boxes, proc.stderr[-4000:]))
    return torch.load(out, weights_only=True)


def compare(ours: Dict, ref: Dict) -> Tuple[bool, int]:
    """Whether labels are equal everywhere and targets at the positives, and
    how many positives mmdet found."""
    import torch
    got_labels, got_targets = ours['result']
    want_labels, want_targets = ref['result']
    same, num_pos = True, 0
    for gl, gt, wl, wt in zip(got_labels, got_targets, want_labels,
                              want_targets):
        fg = wl < NUM_CLASSES
        num_pos += int(fg.sum())
        same &= torch.equal(gl, wl) and torch.equal(gt[fg], wt[fg])
    return same, num_pos


#: The table's columns: '|' columns separate the groups.
COLUMNS = [('boxes', '>6'), ('|', '>1'), ('mmdet MiB', '>10.1f'),
           ('ours MiB', '>8.1f'), ('ratio', '>7.3f'), ('|', '>1'),
           ('mmdet s', '>9.3f'), ('ours s', '>8.3f'), ('ratio', '>7.3f'),
           ('|', '>1'), ('identical', '>9'), ('pos', '>6')]


def benchmark_assigner(boxes: Sequence[int] = (50, 300, 1000),
                       goal_boxes: Sequence[int] = (300, 1000),
                       memory_goal: float = 1 / 8,
                       time_goal: float = 1 / 2,
                       log: Callable[[str], None] = print,
                       **setting) -> bool:
    """Measure both sides at each box count, ``log`` the table line by
    line, and say whether the targets are identical and the goals hold.

    Args:
        boxes (Sequence[int]): Box counts per image to measure.
        goal_boxes (Sequence[int]): Box counts at which the goals must
            hold.
        memory_goal (float): Most extra peak memory, over mmdet's.
        time_goal (float): Most time, over mmdet's.
        log (callable): Takes each line of the table.
        **setting: Overrides of :data:`DEFAULT_SETTING`.

    Returns:
        bool: PASS (identical targets with positives at every box count,
        goals held at the goal box counts).
    """
    unknown = set(setting) - set(DEFAULT_SETTING)
    if unknown:
        raise TypeError(f'unknown settings {sorted(unknown)}; known: '
                        f'{sorted(DEFAULT_SETTING)}')
    setting = dict(DEFAULT_SETTING, **setting)
    if setting['repeat'] < 1:
        raise ValueError('repeat (--repeat) must be at least 1')
    log('FCOS targets, {} image(s) of {}x{}, centre sampling {}, '
        '{} torch thread(s), {}'.format(
            setting['images'], setting['height'], setting['width'],
            'on (radius {})'.format(setting['radius'])
            if setting['center_sampling'] else 'off', setting['threads'],
            'warmed up on 5 boxes' if setting['warmup'] else 'cold'))
    header = format_table(COLUMNS, [], sep=' ')[0]
    log(header)
    log('-' * len(header))
    ok = True
    with tempfile.TemporaryDirectory() as tmpdir:
        for num_boxes in boxes:
            ref = measure(setting, 'mmdet', num_boxes, tmpdir)
            ours = measure(setting, 'ours', num_boxes, tmpdir)
            mem_ratio = ours['extra_kib'] / max(ref['extra_kib'], 1)
            time_ratio = ours['time'] / ref['time']
            same, num_pos = compare(ours, ref)
            log(format_table(COLUMNS, [[
                num_boxes, '|', ref['extra_kib'] / 1024,
                ours['extra_kib'] / 1024, mem_ratio, '|', ref['time'],
                ours['time'], time_ratio, '|', 'yes' if same else 'NO',
                num_pos
            ]], sep=' ')[1])
            ok &= same and num_pos > 0
            if num_boxes in goal_boxes:
                ok &= (mem_ratio <= memory_goal and time_ratio <= time_goal)
            if not (ref['exact_peak'] and ours['exact_peak']):
                log('  (peak RSS from ru_maxrss: /proc/self/clear_refs '
                    'not writable)')
    log('{}: identical targets at every box count; extra peak memory <= '
        '{:.3g} and time <= {:.3g} of mmdet\'s at {} boxes'.format(
            'PASS' if ok else 'FAIL', memory_goal, time_goal,
            ', '.join(map(str, goal_boxes))))
    return ok


def _worker_main(argv: List[str]) -> None:
    side, num_boxes, out, setting = argv
    worker(json.loads(setting), side, int(num_boxes), out)


if __name__ == '__main__':
    _worker_main(sys.argv[1:])
