"""A training step of fcos_mm's FCOS against mmdet 3.3's, in one process.

Builds both from CONFIG's model (mmdet's with the assigner's options given
back to its head), loads mmdet's random weights into ours, and prints loss
parity, the median train-step time, the peak memory of a step, and the aten
calls and host syncs of ``bbox_head.loss``, the host syncs of a whole step
and the graph breaks of the head's forward + loss, each as ours / mmdet;
with ``--compile [--cuda-graphs]`` also ours compiled whole (compile time,
graphs compiled, step time, memory).

Example::

    python tools/analysis_tools/benchmark_train.py CONFIG \
        --device cuda --gts 300 --amp [--compile [--cuda-graphs]]

with CONFIG e.g. the improvements config,
``configs/fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_8xb2-1x_coco.py``.
"""
import argparse

from fcos_mm.benchmarks.benchmark_train import (
    add_train_step_args,
    benchmark_train,
    format_train_benchmark,
    train_step_setup,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_step_args(parser)
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also ours compiled whole (model.compile_loss): step time, '
        'compile time, graphs compiled, peak memory')
    parser.add_argument(
        '--cuda-graphs',
        action='store_true',
        help='with --compile: the compiled loss in CUDA graphs')
    parser.add_argument(
        '--backend',
        default=None,
        help="torch.compile backend (default inductor; 'aot_eager' checks "
        'the trace quickly)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg, batch = train_step_setup(args)
    results = benchmark_train(
        cfg.model,
        **batch,
        compile=args.compile or args.cuda_graphs,
        cuda_graphs=args.cuda_graphs,
        compile_kwargs=dict(backend=args.backend) if args.backend else None)
    print(format_train_benchmark(results))


if __name__ == '__main__':
    main()
