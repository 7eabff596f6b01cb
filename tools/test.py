"""Test (evaluate) a trained FCOS detector.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--amp] [--compile] [--precision {auto,f32,bf16}]
        [--report DIR] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Prints the COCO bbox table (CocoMetric) at the end. CHECKPOINT may be an
ONNX file (run by onnxruntime) or an OpenVINO model.xml from
tools/deployment/export.py.
``--report DIR`` then writes the evaluation report (report.html, .json,
CSVs; see tools/analysis_tools/eval_report.py) from the same predictions
and the COCO evaluation the test just ran (it is not run again).
"""
import argparse
import os
import sys

import fcos_mm  # noqa: F401  (version checks, safe checkpoint loading)
from fcos_mm.datasets.class_check import DataCheckError
from fcos_mm.deployment.cpu_inference import PRECISIONS
from fcos_mm.engine.runner_setup import (
    build_runner,
    check_before_first_step,
    setup_test_cfg,
)
from fcos_mm.utils.dist import destroy_dist
from fcos_mm.utils.tool_args import load_tool_config, parse_tool_args


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a '
                                     'detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or an exported .onnx / OpenVINO model.xml')
    parser.add_argument(
        '--work-dir', help='where to save the evaluation metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show-dir',
        help='draw predictions into this folder (inside the run folder of '
        'the work dir)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='CPU: bf16 autocast + channels_last where the CPU has bf16 '
        'matrix units (else fp32, with a note why) and BatchNorm folding; '
        'CUDA: fp16 autocast')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='CPU: torch.compile (inductor, freezing) backbone, neck and '
        'head (eager, with a warning, where it cannot compile)')
    parser.add_argument(
        '--precision',
        default='auto',
        choices=PRECISIONS,
        help='OpenVINO models: auto (bf16 where the CPU has bf16 units, '
        'else f32), f32 or bf16')
    parser.add_argument(
        '--report',
        metavar='DIR',
        help='write the evaluation report (report.html, report.json, CSVs) '
        'into DIR')
    args = parse_tool_args(parser, argv, 'test_dataloader.batch_size=2')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must end in .pkl or .pickle, got {args.out}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_tool_config(args)
    setup_test_cfg(
        cfg,
        args.checkpoint,
        config_path=args.config,
        work_dir=args.work_dir,
        show_dir=args.show_dir,
        amp=args.amp,
        precision=args.precision,
        compile=args.compile)
    try:
        check_before_first_step(cfg, 'test')
    except DataCheckError as e:  # the whole message: each problem's fix
        sys.exit(f'fcos_mm: {e}')
    runner = build_runner(cfg, args.launcher)
    out = args.out
    if out is None and args.report is not None:
        out = os.path.join(args.report, 'predictions.pkl')
    if out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=out))
    runner.test()
    if args.report is not None:
        write_report(cfg, args, out, runner.test_evaluator.metrics)


def write_report(cfg, args: argparse.Namespace, results_pkl: str,
                 metrics) -> None:
    """The evaluation report of the predictions just dumped (main
    process only: it holds the gathered results), reading the COCO
    evaluation the test just ran (``metrics``: the test evaluator's) rather
    than running it again."""
    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    from mmengine.fileio import load

    from fcos_mm.analysis.fcos_report_section import FCOSDiagnosticsSection
    from fcos_mm.evaluation.report import (
        evaluated_metric,
        predictions_from_results,
        report_from_predictions,
    )
    paths = report_from_predictions(
        cfg, predictions_from_results(load(results_pkl)), args.report,
        meta=dict(config=args.config, checkpoint=args.checkpoint),
        coco_metric=evaluated_metric(metrics),
        extra_sections=[FCOSDiagnosticsSection.from_config(cfg)])
    print(f'report: {paths["html"]}', flush=True)


if __name__ == '__main__':
    main()
    # a live process group at exit can abort a finished run (SIGABRT)
    destroy_dist()
