"""Benchmark FCOSPointAssigner against mmdet's FCOSHead.get_targets.

Both sides assign the same random boxes on the points of a padded
``height x width`` batch (default 800x1344, 2 images, centre sampling on) for
several box counts. Each measurement runs in its own subprocess so that its
peak RSS is clean: the worker builds its inputs, warms its code up on a few
boxes, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), runs,
and reports ``VmHWM - VmRSS-before`` as the extra peak memory. The parent
checks that our labels and foreground targets equal mmdet's exactly (and
that every box count has positives to compare) and
prints a table and a pass/fail line against the goals (extra peak memory at
most 1/8 of mmdet's and time at most 1/2, at the goal box counts).

Example::

    python tools/analysis_tools/benchmark_assigner.py
    python tools/analysis_tools/benchmark_assigner.py --boxes 50 300 \\
        --no-center-sampling
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

STRIDES = (8, 16, 32, 64, 128)
REGRESS_RANGES = ((-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8))
NUM_CLASSES = 80
MIB = 1024 * 1024


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Peak memory and time of FCOSPointAssigner vs mmdet '
        'FCOSHead.get_targets, and equality of their targets')
    parser.add_argument('--boxes', type=int, nargs='+',
                        default=[50, 300, 1000],
                        help='box counts per image to measure')
    parser.add_argument('--goal-boxes', type=int, nargs='*',
                        default=[300, 1000],
                        help='box counts at which the goals must hold')
    parser.add_argument('--images', type=int, default=2)
    parser.add_argument('--height', type=int, default=800)
    parser.add_argument('--width', type=int, default=1344)
    parser.add_argument('--no-center-sampling', action='store_true',
                        help='turn centre sampling off (on by default)')
    parser.add_argument('--radius', type=float, default=1.5,
                        help='center_sample_radius')
    parser.add_argument('--max-pairs', type=int, default=None,
                        help="our assigner's max_pairs (default: its own)")
    parser.add_argument('--repeat', type=int, default=3,
                        help='most timed runs per measurement (the fastest '
                        'counts); stops after 2 s of runs')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads on both sides')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-warmup', action='store_true',
                        help='measure a cold first call (lazy kernel and '
                        'allocator set-up count as extra memory)')
    parser.add_argument('--memory-goal', type=float, default=1 / 8)
    parser.add_argument('--time-goal', type=float, default=1 / 2)
    # internal: run one side in this process and write its results
    parser.add_argument('--worker', choices=['mmdet', 'ours'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--num-boxes', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


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


def grid_sizes(args: argparse.Namespace) -> list:
    """``(H_l, W_l)`` of each level's point grid."""
    return [(math.ceil(args.height / s), math.ceil(args.width / s))
            for s in STRIDES]


def make_inputs(args: argparse.Namespace, num_boxes: int):
    """Points of the padded batch and the boxes and labels of each image."""
    import torch
    from mmdet.models.task_modules import MlvlPointGenerator
    points = MlvlPointGenerator(STRIDES, offset=0.5).grid_priors(
        grid_sizes(args), dtype=torch.float32, device='cpu')
    boxes, labels = [], []
    for img in range(args.images):
        gen = torch.Generator().manual_seed(args.seed * 1000 + img)
        size = torch.tensor([args.width, args.height], dtype=torch.float32)
        # log-uniform sides from 4 px to the image size, as in COCO
        log_wh = torch.rand(num_boxes, 2, generator=gen) * math.log(
            float(max(args.height, args.width)) / 4)
        wh = torch.minimum(4 * log_wh.exp(), size)
        xy = torch.rand(num_boxes, 2, generator=gen) * (size - wh)
        b = torch.cat([xy, xy + wh], 1)
        # integer boxes put points on edges and make equal areas (ties)
        b[:num_boxes // 3] = b[:num_boxes // 3].round()
        boxes.append(b)
        labels.append(
            torch.randint(0, NUM_CLASSES, (num_boxes, ), generator=gen))
    return points, boxes, labels


def build_side(args: argparse.Namespace, side: str):
    """A function ``(points, boxes, labels) -> (labels, targets)`` per level,
    images concatenated, targets in pixels."""
    import torch
    center_sampling = not args.no_center_sampling
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
            center_sampling=center_sampling,
            center_sample_radius=args.radius,
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
        center_sampling=center_sampling,
        center_sample_radius=args.radius)
    if args.max_pairs is not None:
        cfg['max_pairs'] = args.max_pairs
    assigner = TASK_UTILS.build(cfg)

    def run(points, boxes, labels):
        # the whole batch at once on the grid windows, as the head does
        num = [p.size(0) for p in points]
        res = assigner.assign_batch(points, STRIDES, boxes, labels,
                                    NUM_CLASSES, grid_sizes(args))
        # (N, P_l, ...) per level -> (N * P_l, ...), as mmdet's
        return ([x.flatten(0, 1) for x in res.labels.split(num, 1)],
                [x.flatten(0, 1) for x in res.bbox_targets.split(num, 1)])

    return run


def worker(args: argparse.Namespace) -> None:
    """Measure one side at one box count; save its targets and figures."""
    import torch
    torch.set_num_threads(args.threads)
    run = build_side(args, args.worker)
    points, boxes, labels = make_inputs(args, args.num_boxes)
    if not args.no_warmup:
        # warm up on a few boxes: lazy kernel set-up is no part of the figure
        run(points, [b[:5] for b in boxes], [lab[:5] for lab in labels])
    before = _status_kib('VmRSS')
    exact = _reset_peak_rss()
    if not exact:
        import resource
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    while len(times) < args.repeat and sum(times) < 2.0:
        start = time.perf_counter()
        result = run(points, boxes, labels)
        times.append(time.perf_counter() - start)
        if len(times) == 1:
            # peak of the first run only; later runs only re-use memory
            if exact:
                peak = _status_kib('VmHWM')
            else:
                import resource
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.save(
        dict(result=result, extra_kib=max(peak - before, 0),
             time=min(times), exact_peak=exact), args.out)


# ------------------------------------------------------------------ parent
def measure(args: argparse.Namespace, side: str, num_boxes: int,
            tmpdir: str) -> Dict:
    """Run one worker subprocess and load what it saved."""
    import torch
    out = os.path.join(tmpdir, '{}_{}.pth'.format(side, num_boxes))
    cmd = [
        sys.executable,
        os.path.abspath(__file__), '--worker', side, '--num-boxes',
        str(num_boxes), '--out', out, '--images',
        str(args.images), '--height',
        str(args.height), '--width',
        str(args.width), '--radius',
        str(args.radius), '--repeat',
        str(args.repeat), '--threads',
        str(args.threads), '--seed',
        str(args.seed)
    ]
    if args.no_center_sampling:
        cmd.append('--no-center-sampling')
    if args.no_warmup:
        cmd.append('--no-warmup')
    if args.max_pairs is not None:
        cmd += ['--max-pairs', str(args.max_pairs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
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


def main(argv: List[str] = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit('--repeat must be at least 1')
    if args.worker:
        worker(args)
        return 0
    print('FCOS targets, {} image(s) of {}x{}, centre sampling {}, '
          '{} torch thread(s), {}'.format(
              args.images, args.height, args.width,
              'off' if args.no_center_sampling else 'on (radius {})'.format(
                  args.radius), args.threads,
              'cold' if args.no_warmup else 'warmed up on 5 boxes'))
    header = ('{:>6} | {:>10} {:>8} {:>7} | {:>9} {:>8} {:>7} | {:>9} '
              '{:>6}'.format('boxes', 'mmdet MiB', 'ours MiB', 'ratio',
                             'mmdet s', 'ours s', 'ratio', 'identical',
                             'pos'))
    print(header)
    print('-' * len(header))
    ok = True
    with tempfile.TemporaryDirectory() as tmpdir:
        for num_boxes in args.boxes:
            ref = measure(args, 'mmdet', num_boxes, tmpdir)
            ours = measure(args, 'ours', num_boxes, tmpdir)
            mem_ratio = ours['extra_kib'] / max(ref['extra_kib'], 1)
            time_ratio = ours['time'] / ref['time']
            same, num_pos = compare(ours, ref)
            print('{:>6} | {:>10.1f} {:>8.1f} {:>7.3f} | {:>9.3f} {:>8.3f} '
                  '{:>7.3f} | {:>9} {:>6}'.format(
                      num_boxes, ref['extra_kib'] / 1024,
                      ours['extra_kib'] / 1024, mem_ratio, ref['time'],
                      ours['time'], time_ratio, 'yes' if same else 'NO',
                      num_pos))
            ok &= same and num_pos > 0
            if num_boxes in args.goal_boxes:
                ok &= (mem_ratio <= args.memory_goal
                       and time_ratio <= args.time_goal)
            if not (ref['exact_peak'] and ours['exact_peak']):
                print('  (peak RSS from ru_maxrss: /proc/self/clear_refs '
                      'not writable)')
    print('{}: identical targets at every box count; extra peak memory <= '
          '{:.3g} and time <= {:.3g} of mmdet\'s at {} boxes'.format(
              'PASS' if ok else 'FAIL', args.memory_goal, args.time_goal,
              ', '.join(map(str, args.goal_boxes))))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
