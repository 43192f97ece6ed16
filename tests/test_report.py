"""The inspection report: crack tables and HTML pages, read back with
html.parser: links resolve to files and ids, rows match photos and cracks,
unreadable photos are listed, nothing is fetched from the network."""
import csv
import json
import os.path as osp
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import pytest

from crackdino_mm.inspection.quantification import measure_each_crack
from crackdino_mm.inspection.report_html import ReportSummary, render_index
from crackdino_mm.inspection.report import (InspectionReport, significant,
                                            thumbnail, unreadable_reason)
from crackdino_mm.inspection.visualization import overlay_mask


class Page(HTMLParser):
    """Links, ids and table rows (cells' text, data-v and links) of a page."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.links, self.ids, self.tables = [], set(), {}
        self.styles, self.text = [], []
        self._table = self._row = self._cell = None
        with open(path) as f:
            self.feed(f.read())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ('href', 'src'):
            if key in attrs:
                self.links.append((tag, attrs[key]))
                if self._cell is not None:
                    self._cell['links'].append(attrs[key])
        if 'id' in attrs:
            self.ids.add(attrs['id'])
        if 'style' in attrs:
            self.styles.append((attrs.get('id'), attrs['style']))
        if tag == 'table':
            self._table = self.tables.setdefault(attrs.get('class', ''), [])
        elif tag == 'tr' and self._table is not None:
            self._row = []
        elif tag in ('td', 'th') and self._row is not None:
            self._cell = dict(tag=tag, text='', v=attrs.get('data-v'),
                              links=[])

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == 'tr' and self._row is not None:
            if self._row and self._row[0]['tag'] == 'td':
                self._table.append(self._row)
            self._row = None
        elif tag == 'table':
            self._table = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell['text'] += data


def check_links(page):
    """Every link is local and resolves: files exist, fragments are ids of
    the page they point into. Returns the pages linked to."""
    linked = []
    for tag, link in page.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, (page.path, link)
        target = (osp.normpath(osp.join(osp.dirname(page.path),
                                        unquote(parts.path)))
                  if parts.path else page.path)
        assert osp.isfile(target), (page.path, link)
        if parts.fragment:
            ids = page.ids if target == page.path else Page(target).ids
            assert parts.fragment in ids, (page.path, link)
        if target.endswith('.html') and target != page.path:
            linked.append(target)
    return linked


def band(shape, p0, p1, width):
    mask = np.zeros(shape, np.uint8)
    cv2.line(mask, p0, p1, 1, width)
    return mask


# Photos with awkward names (space, '#', '&', '%'), their cracks drawn.
PHOTOS = {
    'wall 1.jpg': [((20, 30), (280, 40), 3), ((40, 150), (250, 190), 9),
                   ((150, 60), (160, 120), 5)],
    'slab#2 & co%.jpg': [((10, 10), (200, 180), 5)],
    'empty.jpg': [],
}


def make_report(out, max_rows=5000, width_limits=(0.1, 0.3), fail_at=None):
    """The report of PHOTOS; with fail_at, an error is raised inside the
    report's block before that photo."""
    tables = {}
    with InspectionReport(str(out), 'mm', width_limits,
                          settings=dict(threshold=0.5),
                          max_rows=max_rows) as report:
        add_photos(report, out, tables, fail_at)
        report.add_unreadable('in/broken <1>.png', 'empty file')
    return report.index, tables


def add_photos(report, out, tables, fail_at):
    for name, cracks in PHOTOS.items():
        if name == fail_at:
            raise RuntimeError('stopped')
        img = np.full((220, 300, 3), 128, np.uint8)
        mask = np.zeros(img.shape[:2], np.uint8)
        for p0, p1, width in cracks:
            mask |= band(mask.shape, p0, p1, width)
        stem = osp.splitext(name)[0]
        overlay_file = str(out / 'overlays' / (stem + '.jpg'))
        mask_file = str(out / 'masks' / (stem + '.png'))
        overlay = overlay_mask(img, mask)
        for path, data in ((overlay_file, overlay), (mask_file, mask * 255)):
            (out / osp.basename(osp.dirname(path))).mkdir(exist_ok=True)
            cv2.imwrite(path, data)
        tables[name] = measure_each_crack(mask, mm_per_pixel=0.04)
        report.add_photo('in/' + name, overlay, overlay_file, mask_file,
                         tables[name])


def test_an_error_midway_leaves_a_whole_report_of_what_was_measured(
        tmp_path):
    with pytest.raises(RuntimeError, match='stopped'):
        make_report(tmp_path, fail_at='slab#2 & co%.jpg')
    data = json.load(open(tmp_path / 'cracks.json'))
    assert {c['image'] for c in data['cracks']} == {'in/wall 1.jpg'}
    rows = Page(str(tmp_path / 'index.html')).tables['sortable photos']
    assert [r[1]['v'] for r in rows] == ['wall 1']


def test_report_pages_links_and_rows(tmp_path):
    index, tables = make_report(tmp_path)
    page = Page(index)
    photo_pages = check_links(page)
    for path in set(photo_pages):
        check_links(Page(path))
    # Self-contained: no stylesheet, script or image from elsewhere.
    assert all(tag in ('a', 'img') for tag, _ in page.links)
    # One row per photo, in order, with its thumbnail, overlay and mask.
    rows = page.tables['sortable photos']
    assert [r[1]['v'] for r in rows] == [osp.splitext(n)[0] for n in PHOTOS]
    for row, (name, table) in zip(rows, tables.items()):
        stem = osp.splitext(name)[0]
        links = [unquote(link) for cell in row for link in cell['links']]
        assert {f'thumbs/{stem}.jpg', f'overlays/{stem}.jpg',
                f'masks/{stem}.png', f'photos/{stem}.html'} <= set(links)
        assert int(row[3]['v']) == len(table)
        thumb = cv2.imread(str(tmp_path / 'thumbs' / (stem + '.jpg')))
        assert thumb.shape[:2] == (220, 300)  # small photos stay as they are
    # One row per crack, widest first, linking to its box on its photo.
    cracks = page.tables['sortable cracks']
    expected = sorted(((osp.splitext(name)[0], c['id'], c['max_width'])
                       for name, t in tables.items() for c in t.rows()),
                      key=lambda c: -c[2])
    assert [(r[0]['v'], int(r[1]['v'])) for r in cracks] == [
        (stem, i) for stem, i, _ in expected]
    np.testing.assert_allclose([float(r[2]['v']) for r in cracks],
                               [w for *_, w in expected], rtol=1e-5)
    assert unquote(cracks[0][1]['links'][0]) == (
        f'photos/{expected[0][0]}.html#crack-{expected[0][1]}')
    # Width classes: the counts in the summary are the cracks' classes.
    classes = [r[6]['text'] for r in cracks]
    summary = {r[0]['text']: int(r[1]['text'])
               for r in page.tables['classes']}
    assert summary == {name: classes.count(name) for name in
                       ('< 0.1 mm', '0.1-0.3 mm', '>= 0.3 mm')}
    assert sum(summary.values()) == len(cracks) == 4
    # The histogram's bars, stacked by class, count the same cracks.
    bars = re.findall(r'fill="(#\w+)"><title>[^<]*: (\d+) crack',
                      open(index).read())
    per_colour = {}
    for colour, count in bars:
        per_colour[colour] = per_colour.get(colour, 0) + int(count)
    assert sorted(per_colour.values()) == sorted(
        n for n in summary.values() if n)
    # The unreadable photo with its reason; the widest crack in the summary.
    text = ' '.join(page.text)
    assert 'in/broken <1>.png' in text and 'empty file' in text
    assert f'{expected[0][2]:.3f} mm' in text


def test_photo_page_boxes_every_crack(tmp_path):
    index, tables = make_report(tmp_path)
    page = Page(str(tmp_path / 'photos' / 'wall 1.html'))
    table = tables['wall 1.jpg']
    assert {f'crack-{i}' for i in table.data['id']} <= page.ids
    styles = dict(page.styles)
    for crack in table.data:
        style = styles[f'crack-{crack["id"]}']
        assert f'left:{100 * crack["box_x"] / 300:.3f}%' in style
        assert f'height:{100 * crack["box_h"] / 220:.3f}%' in style
    assert len(page.tables['sortable cracks']) == len(table)
    assert Page(str(tmp_path / 'photos' / 'empty.html')).tables == {}


def test_crack_tables_have_every_crack(tmp_path):
    index, tables = make_report(tmp_path, max_rows=2)
    rows = list(csv.DictReader(open(tmp_path / 'cracks.csv')))
    expected = [(f'in/{name}', c) for name, t in tables.items()
                for c in t.rows()]
    assert len(rows) == len(expected) == 4
    for row, (image, crack) in zip(rows, expected):
        assert row['image'] == image and int(row['id']) == crack['id']
        assert float(row['max_width_mm']) == pytest.approx(
            crack['max_width'], rel=1e-5)
        assert float(row['area_mm2']) == pytest.approx(crack['area'],
                                                       rel=1e-5)
    # One unit per column: lengths in mm, areas in mm², the box in pixels.
    assert list(rows[0]) == [
        'image', 'id', 'box_x', 'box_y', 'box_w', 'box_h', 'area_mm2',
        'length_mm', 'mean_width_mm', 'median_width_mm', 'max_width_mm',
        'max_x', 'max_y', 'orientation_deg', 'width_class']
    data = json.load(open(tmp_path / 'cracks.json'))
    assert data['width_classes'] == ['< 0.1 mm', '0.1-0.3 mm', '>= 0.3 mm']
    assert [c['width_class'] for c in data['cracks']] == [
        r['width_class'] for r in rows]
    assert data['unreadable'] == [dict(source='in/broken <1>.png',
                                       reason='empty file')]
    # The report lists the two widest and says where the rest are.
    page = Page(index)
    assert len(page.tables['sortable cracks']) == 2
    assert 'The 2 widest of 4 cracks' in ' '.join(page.text)
    # Both headers say how length and width are measured.
    assert data['measured_as'].startswith('Length: along each crack')
    assert "weighted by their lengths" in data['measured_as']
    assert any(text.startswith('Length: along each crack')
               for text in page.text)


def test_report_without_width_limits(tmp_path):
    index, _ = make_report(tmp_path, width_limits=())
    page = Page(index)
    assert 'classes' not in page.tables
    assert 'width class' not in [c['text'] for c in
                                 page.tables['sortable cracks'][0]]
    rows = list(csv.DictReader(open(tmp_path / 'cracks.csv')))
    assert {r['width_class'] for r in rows} == {''}
    with pytest.raises(ValueError, match='increasing'):
        InspectionReport(str(tmp_path / 'bad'), 'mm', [0.3, 0.1])


def test_report_refuses_mixed_units(tmp_path):
    report = InspectionReport(str(tmp_path), 'mm')
    with pytest.raises(ValueError, match='x.jpg: cracks in px'):
        report.add_photo('x.jpg', np.zeros((8, 8, 3), np.uint8), 'o.jpg',
                         'm.png', measure_each_crack(np.zeros((8, 8))))


def test_significant_digits():
    values = significant(np.array([2.7925000000000004, 62.46165000000025,
                                   0.0, -1.234567891e-7]))
    assert [repr(v) for v in values.tolist()] == [
        '2.7925', '62.4617', '0.0', '-1.23457e-07']


def test_thumbnail_and_reasons(tmp_path):
    assert thumbnail(np.zeros((3000, 4000, 3), np.uint8)).shape == (240, 320,
                                                                    3)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'not an image')
    assert unreadable_reason(str(empty)) == 'empty file'
    assert 'decode' in unreadable_reason(str(garbage))
    assert 'cannot be opened' in unreadable_reason(str(tmp_path / 'gone'))


# tools/infer.py end to end. The model is a random student, but every
# window's prediction is replaced by two drawn cracks, 3 and 9 pixels wide,
# and a speck: what the report shows is then known.
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'crackdino-student_vit-t4_synthetic-224x224.py')
DRAWN_PREDICTION_RUNNER = """
import runpy, sys
import cv2, numpy as np, torch
from crackdino_mm.apis import CrackPredictor
def drawn(self, img):
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.line(mask, (10, 15), (w - 10, 25), 1.0, 2)
    cv2.line(mask, (10, h - 30), (w - 10, h - 20), 1.0, 7)
    mask[h // 2, w // 2] = 1
    return mask
CrackPredictor.probability = drawn
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def test_infer_writes_the_report(tmp_path):
    import subprocess
    import sys

    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS
    checkpoint = str(tmp_path / 'student.pth')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    src = tmp_path / 'in'
    src.mkdir()
    for name, size in (('a.jpg', (100, 130)), ('b c.png', (224, 300))):
        cv2.imwrite(str(src / name), np.full((*size, 3), 90, np.uint8))
    (src / 'broken.png').write_bytes(b'not an image')
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, '-c', DRAWN_PREDICTION_RUNNER,
         osp.join(REPO, 'tools', 'infer.py'), CONFIG, checkpoint, str(src),
         '--out-dir', str(out), '--mm-per-pixel', '0.5', '--width-limits',
         '1', '2', '--min-length', '3'],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1 and 'broken.png' in proc.stderr
    page = Page(str(out / 'index.html'))
    check_links(page)
    assert [r[1]['v'] for r in page.tables['sortable photos']] == ['a', 'b c']
    # Two cracks a photo (the speck is under the minimum length), each in
    # its width class: about 1.5 and 4.5 mm.
    cracks = list(csv.DictReader(open(out / 'cracks.csv')))
    assert [(osp.basename(c['image']), c['id'], c['width_class'])
            for c in cracks] == [
        ('a.jpg', '1', '1-2 mm'), ('a.jpg', '2', '>= 2 mm'),
        ('b c.png', '1', '1-2 mm'), ('b c.png', '2', '>= 2 mm')]
    images = json.load(open(out / 'measurements.json'))['images']
    for image in images:  # the per-photo totals are the cracks' sums
        mine = [c for c in cracks if c['image'] == image['image']]
        assert len(mine) == image['num_cracks'] == 2
        assert sum(float(c['length_mm']) for c in mine) == pytest.approx(
            image['length_mm'], rel=1e-4)
        assert image['max_width_mm'] == pytest.approx(
            max(float(c['max_width_mm']) for c in mine), rel=1e-4)
    assert len(page.tables['sortable cracks']) == 4
    assert {r[0]['text']: r[1]['text'] for r in page.tables['classes']} == {
        '< 1 mm': '0', '1-2 mm': '2', '>= 2 mm': '2'}
    assert str(src / 'broken.png') in ' '.join(page.text)


@pytest.mark.parametrize('args,error', [
    (['--width-limits', '0.1'], '--mm-per-pixel'),
    (['--mm-per-pixel', '0.1', '--width-limits', '0.3', '0.1'], 'increasing'),
])
def test_infer_width_limits_are_increasing_millimetres(args, error, capsys):
    """Width limits are in mm, so they need the scale, and in order."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'infer', osp.join(REPO, 'tools', 'infer.py'))
    infer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer)
    with pytest.raises(SystemExit) as exit_info:
        infer.parse_args(['config.py', 'model.pth', 'photos/', *args])
    assert exit_info.value.code == 2
    assert error in capsys.readouterr().err


def test_box_labels_open_inwards_with_units(tmp_path):
    """A crack's label names its units and opens towards the photo's
    inside, so it is not cut off at the right or top edge."""
    mask = np.zeros((200, 300), np.uint8)
    cv2.line(mask, (10, 150), (60, 150), 1, 3)  # left, low
    cv2.line(mask, (240, 5), (290, 5), 1, 3)  # right, at the top
    report = InspectionReport(str(tmp_path), 'mm')
    img = np.zeros((200, 300, 3), np.uint8)
    report.add_photo('p.jpg', img, str(tmp_path / 'p.jpg'),
                     str(tmp_path / 'p.png'),
                     measure_each_crack(mask, mm_per_pixel=0.1))
    page = open(tmp_path / 'photos' / 'p.html').read()
    found = {anchor: css for css, anchor in
             re.findall(r'class="([^"]*)" id="(crack-\d)"', page)}
    assert found == {'crack-1': 'box flip below', 'crack-2': 'box'}
    assert re.search(r'#2: 0\.\d+ mm wide, 5\.\d+ mm long', page)
    assert 'not measured' in page  # the legend


def test_the_index_renders_from_plain_data():
    """The renderer needs no report: a summary written by hand renders."""
    summary = ReportSummary(unit='px', width_limits=[], class_names=[],
                            settings=dict(threshold=0.3), photos=[],
                            unreadable=[dict(source='a <b>.jpg',
                                             reason='empty file')])
    page = render_index(summary, '2026-12-04 10:00')
    assert 'a &lt;b&gt;.jpg' in page and 'threshold: 0.3' in page
    assert 'No photo was segmented.' in page
