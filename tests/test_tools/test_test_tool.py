"""tools/test.py on a checkpoint that tools/train.py wrote."""
import glob
import json
import os.path as osp
import pickle
import re
import socket


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_test_tool_prints_coco_table_dumps_and_draws(tmp_path, tiny_config,
                                                     tools, tool_env):
    config = tiny_config(batch_size=2, max_epochs=1, evaluation=True)
    work_dir = str(tmp_path / 'work')
    proc = tools.run(
        [tools.python, 'tools/train.py', config, '--work-dir', work_dir],
        tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    out = str(tmp_path / 'results.pkl')
    test_dir = str(tmp_path / 'test')
    # Two CPU processes (gloo), one image each; rank 0 gathers the results.
    proc = tools.run([
        'bash', 'tools/dist_test.sh', config,
        osp.join(work_dir, 'epoch_1.pth'), '2', '--work-dir', test_dir,
        '--out', out, '--show-dir', 'vis', '--report',
        str(tmp_path / 'report'), '--cfg-options',
        'model.test_cfg.score_thr=0.0'
    ], dict(tool_env, PORT=str(_free_port())))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    # once: the report's own evaluation of the same predictions is quiet
    assert log.count(
        'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all') == 1
    assert log.count('bbox_mAP_copypaste') == 1
    # Progress: each rank's single image, with the ETA.
    assert 'Epoch(test) [1/1]    eta:' in log
    assert 'Load checkpoint from' in log

    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert sorted(r['img_id'] for r in results) == [1000, 1001]
    for r in results:
        boxes = r['pred_instances']['bboxes']
        assert boxes.shape[1] == 4 and 0 < len(boxes) <= 100
    # mmdet's visualizer draws on rank 0 only: its image (the first).
    drawn = glob.glob(osp.join(test_dir, '*', 'vis', '*.jpg'))
    assert [osp.basename(p) for p in drawn] == ['001000.jpg']

    # --report (rank 0, from the gathered predictions): its AP is the one
    # the test printed
    report = json.load(open(tmp_path / 'report' / 'report.json'))
    printed = re.search(r'bbox_mAP_copypaste: ([0-9.]+)', log).group(1)
    assert f'{report["coco"]["values"][0]:.3f}' == printed
    assert report['summary']['images'] == 2
    assert osp.exists(tmp_path / 'report' / 'report.html')
    assert log.count('report: ') == 1
    # the report read the test's COCO evaluation: it ran once
    assert log.count('Evaluating bbox...') == 1


def test_out_must_be_a_pickle(tools, tool_env):
    proc = tools.run([
        tools.python, 'tools/test.py', tools.r50_config, 'x.pth', '--out',
        'results.json'
    ], tool_env)
    assert proc.returncode == 2
    assert '--out must end in .pkl or .pickle' in proc.stderr
