"""The report's files: ``report.json``, a CSV per table and
``report.html``, each written atomically (a later ``--compare`` or a
reader never sees half a file)."""
import csv
import io
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

from fcos_mm.utils.atomic_io import atomic_write

from ..functional import EvalData
from .html import render_html
from .sections import default_sections


def csv_text(header: Sequence[str], rows) -> str:
    """A CSV of ``rows`` (lists) under ``header``; None is empty."""
    buffer = io.StringIO(newline='')
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(['' if value is None else value for value in row])
    return buffer.getvalue()


def write_tables(report: dict, out_dir: str,
                 sections: Sequence) -> List[str]:
    """A CSV of every table of the present ``sections`` in ``out_dir``;
    their paths, in section order."""
    paths = []
    for section in sections:
        if not section.present(report):
            continue
        for name, header, rows in section.tables(report):
            path = osp.join(out_dir, name)
            atomic_write(csv_text(header, rows), path)
            paths.append(path)
    return paths


def write_report(report: dict, out_dir: str, data: EvalData,
                 thumb_size: int = 320,
                 sections: Sequence = None) -> Dict[str, object]:
    """``report.html``, ``report.json`` and the CSVs in ``out_dir``.

    Args:
        report (dict): :func:`~.driver.build_report`'s result.
        out_dir (str): Folder (made if missing).
        data (EvalData): The evaluation (the galleries' images and boxes).
        thumb_size (int): Longest side of a gallery picture.
        sections (Sequence[Section], optional): The sections that built
            ``report``; :func:`~.sections.default_sections` by default.

    Returns:
        dict: ``html``, ``json`` paths and ``csv`` (a list).
    """
    if sections is None:
        sections = default_sections()
    os.makedirs(out_dir, exist_ok=True)
    json_path = osp.join(out_dir, 'report.json')
    atomic_write(json.dumps(report, indent=1), json_path)
    csvs = write_tables(report, out_dir, sections)
    html_path = osp.join(out_dir, 'report.html')
    atomic_write(render_html(report, data, sections, thumb_size), html_path)
    return dict(html=html_path, json=json_path, csv=csvs)
