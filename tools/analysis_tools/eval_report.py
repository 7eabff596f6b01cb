"""Write the evaluation report of a model on its config's test set.

    python tools/analysis_tools/eval_report.py CONFIG (CKPT | RESULTS.pkl)
        --out DIR [--compare OTHER.pkl] [--log scalars.json]
        [--backend auto|faster_coco_eval|pycocotools] [--num-gallery 12]
        [--cfg-options KEY=VALUE ...]

With a checkpoint the test set is run first (as tools/test.py does; the
predictions are kept in DIR/predictions.pkl); a RESULTS.pkl is what
``tools/test.py --out`` wrote. DIR receives report.html (self-contained:
open it in any browser, offline), report.json and a CSV per table. See
fcos_mm/evaluation/report/ for the sections and the thresholds.
"""
import argparse
import copy
import os
import os.path as osp

from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file')
    parser.add_argument(
        'source', help='a checkpoint (.pth) or tools/test.py --out results '
        '(.pkl)')
    parser.add_argument('--out', required=True, help='report folder')
    parser.add_argument('--compare', help='another run\'s results (.pkl) '
                        'on the same images')
    parser.add_argument('--log', help='a training scalars.json for the '
                        'training curves')
    parser.add_argument('--backend', default='auto',
                        choices=['auto', 'faster_coco_eval', 'pycocotools'])
    parser.add_argument('--num-gallery', type=int, default=12,
                        help='images per gallery')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def run_test(cfg, checkpoint: str, config_path: str, out_pkl: str) -> None:
    """tools/test.py on ``checkpoint``, its predictions dumped to
    ``out_pkl``."""
    from mmdet.evaluation import DumpDetResults

    from fcos_mm.engine.runner_setup import build_runner, setup_test_cfg
    setup_test_cfg(cfg, checkpoint, config_path=config_path,
                   work_dir=osp.join(osp.dirname(out_pkl), 'test'))
    runner = build_runner(cfg, 'none')
    runner.test_evaluator.metrics.append(
        DumpDetResults(out_file_path=out_pkl))
    runner.test()


def main(argv=None) -> str:
    args = parse_args(argv)
    from mmengine.fileio import load

    from fcos_mm.analysis.fcos_report_section import FCOSDiagnosticsSection
    from fcos_mm.evaluation.report import (
        predictions_from_results,
        report_from_predictions,
    )
    cfg = load_tool_config(args)
    os.makedirs(args.out, exist_ok=True)
    meta = dict(config=args.config)
    if args.source.endswith(('.pkl', '.pickle')):
        results_pkl = args.source
        meta['predictions'] = args.source
    else:
        results_pkl = osp.join(args.out, 'predictions.pkl')
        # setup_test_cfg edits nested parts; the report reads the original
        run_test(copy.deepcopy(cfg), args.source, args.config, results_pkl)
        meta['checkpoint'] = args.source
    predictions = predictions_from_results(load(results_pkl))
    compare = None
    if args.compare:
        compare = predictions_from_results(load(args.compare))
        meta['compare'] = args.compare  # named in the report
    paths = report_from_predictions(
        cfg, predictions, args.out, compare=compare, log=args.log,
        meta=meta, backend=args.backend, num_gallery=args.num_gallery,
        extra_sections=[FCOSDiagnosticsSection.from_config(cfg)])
    print(f'report: {paths["html"]} (and report.json, '
          f'{len(paths["csv"])} CSVs in {args.out}); analysis '
          f'{paths["report"]["meta"]["analysis_seconds"]:.1f} s')
    return paths['html']


if __name__ == '__main__':
    main()
