"""HTML of the inspection report: the index page and one page per photo.

Plain HTML with inline CSS, an inline SVG histogram and a few lines of
vanilla script that sort the tables; ``string.Template`` and
``html.escape`` from the standard library suffice, so there is no
templating dependency. Every value from a file name or a path is escaped,
and links are percent-encoded.
"""
import html
from dataclasses import dataclass, field
from string import Template
from typing import List, Optional
from urllib.parse import quote

import numpy as np

from .quantification import MEASURED_AS


@dataclass
class ReportSummary:
    """What the pages show, as plain data: the renderer's only input.

    ``photos`` are dicts (source, name, height, width, the overlay, mask,
    thumbnail and page paths relative to the report, the photo's
    ``summary`` and ``class_counts``); ``top_cracks`` and
    ``longest_crack`` are crack records with ``photo`` (an index into
    ``photos``) and ``width_class`` (-1: none).
    """
    unit: str
    width_limits: list
    class_names: list
    settings: dict
    photos: List[dict]
    unreadable: List[dict] = field(default_factory=list)
    widths: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    top_cracks: np.ndarray = field(default_factory=lambda: np.zeros(0))
    longest_crack: Optional[np.void] = None
    class_totals: List[int] = field(default_factory=list)

# Width classes from green (narrowest) to red (widest).
CLASS_COLOURS = ('#2e7d32', '#9e9d24', '#f9a825', '#ef6c00', '#c62828')
NO_CLASS_COLOUR = '#546e7a'

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto;
       max-width: 1320px; padding: 0 20px 40px; }
h1 { font-size: 24px; margin: 20px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #ddd;
     padding-bottom: 4px; }
a { color: #0b57d0; }
.meta, .note { color: #555; }
.cards { display: grid; gap: 12px;
         grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; }
.card b { display: block; font-size: 22px; }
.card small { display: block; color: #555; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px;
         text-align: right; vertical-align: middle; }
th { background: #f5f5f5; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: ' \\2195'; color: #999; }
table.sortable th[aria-sort=ascending]::after { content: ' \\25B2'; }
table.sortable th[aria-sort=descending]::after { content: ' \\25BC'; }
.swatch { display: inline-block; width: 11px; height: 11px;
          border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
img.thumb { display: block; max-width: 200px; max-height: 150px; }
.path { color: #666; font-size: 12px; word-break: break-all; }
.photo { position: relative; overflow: hidden; margin: 10px 0; }
.photo img { display: block; width: 100%; height: auto; }
.box { position: absolute; min-width: 6px; min-height: 6px;
       outline: 1px solid rgba(0, 229, 255, .75); scroll-margin: 35vh; }
.box.flip span { left: auto; right: 0; }
.box.below span { top: 100%; }
.box span { display: none; position: absolute; left: 0; top: 0;
            background: #ffeb3b; color: #000; font-size: 12px;
            padding: 0 4px; white-space: nowrap; }
.box i { display: none; position: absolute; width: 16px; height: 16px;
         margin: -10px 0 0 -10px; border: 2px solid #ff1744;
         border-radius: 50%; }
.box:hover span, .box:target span, .box:hover i, .box:target i {
  display: block; }
.box:target { outline: 3px solid #ffeb3b; outline-offset: 2px; z-index: 2;
              box-shadow: 0 0 0 200vmax rgba(0, 0, 0, .45); }
"""

# Sorts a table by the clicked column (numbers by the cells' data-v).
SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute('aria-sort') === 'descending' ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var d = (x === undefined || isNaN(x) || isNaN(y)) ?
        String(x).localeCompare(String(y)) : x - y;
      return dir * d;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    table.querySelectorAll('th').forEach(function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
  });
});
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
$body
<script>$script</script>
</body>
</html>
""")

INDEX_BODY = Template("""<header>
<h1>Crack inspection report</h1>
<p class="meta">$meta</p>
<p class="note">$measured_as</p>
</header>
<section id="summary">
<h2>Summary</h2>
<div class="cards">$cards</div>
$classes
</section>
<section id="histogram">
<h2>Crack widths</h2>
$histogram
</section>
<section id="photos">
<h2>Photos ($num_photos)</h2>
$photos
</section>
<section id="cracks">
<h2>Cracks ($num_cracks)</h2>
$cracks
</section>
<section id="unreadable">
<h2>Photos that could not be read ($num_unreadable)</h2>
$unreadable
</section>""")

LEGEND = ('<span class="swatch" style="background:#ff4000"></span>crack '
          '(measured) <span class="swatch" style="background:#c8c8c8;'
          'outline:1px dashed #555"></span>piece below --min-length or '
          '--min-area (drawn grey and dashed, not measured)')

PHOTO_BODY = Template("""<header>
<p><a href="${up}index.html">&larr; Inspection report</a></p>
<h1>$name</h1>
<p class="meta">$meta</p>
</header>
<p class="note">$note</p>
<p class="legend">$legend</p>
<div class="photo" style="max-width: ${width}px">
<img src="$overlay" width="$width" height="$height" alt="$name_attr">
$boxes
</div>
<h2>Cracks ($num_cracks)</h2>
$table""")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _url(path: str) -> str:
    """A relative link to a file: percent-encoded, then escaped."""
    return _e(quote(path))


def _num(value: float) -> str:
    """A measurement with three or four significant digits."""
    value = float(value)
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 \
        else 3
    return f'{value:.{digits}f}'


def _colour(cls: int, num_classes: int) -> str:
    """Class ``cls`` of ``num_classes`` on the green-to-red scale."""
    if cls < 0:
        return NO_CLASS_COLOUR
    if num_classes <= 1:
        return CLASS_COLOURS[0]
    top = len(CLASS_COLOURS) - 1
    return CLASS_COLOURS[round(cls * top / (num_classes - 1))]


def _cell(text: str, value=None, css: str = '') -> str:
    """A table cell; ``value`` (data-v) is what the table sorts by."""
    if isinstance(value, float):
        value = f'{value:.6g}'
    attrs = f' data-v="{_e(value)}"' if value is not None else ''
    attrs += f' class="{css}"' if css else ''
    return f'<td{attrs}>{text}</td>'


def _header(names, sort_by=None, text_columns=()) -> str:
    cells = []
    for name in names:
        attrs = ' class="text"' if name in text_columns else ''
        if name == sort_by:
            attrs += ' aria-sort="descending"'
        cells.append(f'<th{attrs}>{_e(name)}</th>')
    return '<thead><tr>' + ''.join(cells) + '</tr></thead>'


def _crack_rows(report, cracks, with_photo: bool) -> str:
    """Table rows of cracks (records with ``photo`` and ``width_class``)."""
    rows = []
    for crack in cracks:
        photo = report.photos[int(crack['photo'])]
        anchor = f'crack-{int(crack["id"])}'
        cls = int(crack['width_class'])
        cells = []
        if with_photo:
            cells.append(_cell(
                f'<a href="{_url(photo["page"])}">{_e(photo["name"])}</a>',
                photo['name'], 'text'))
        cells.append(_cell(
            f'<a href="{_url(photo["page"])}#{anchor}">'
            f'#{int(crack["id"])}</a>' if with_photo else
            f'<a href="#{anchor}">#{int(crack["id"])}</a>',
            int(crack['id'])))
        for name in ('max_width', 'mean_width', 'median_width', 'length'):
            cells.append(_cell(_num(crack[name]), float(crack[name])))
        if report.class_names:
            colour = _colour(cls, len(report.class_names))
            cells.append(_cell(
                f'<span class="swatch" style="background:{colour}"></span>'
                f'{_e(report.class_names[cls])}', cls, 'text'))
        cells.append(_cell(f'{float(crack["orientation"]):.0f}&deg;',
                           float(crack['orientation'])))
        cells.append(_cell(
            f'{int(crack["box_x"])}, {int(crack["box_y"])}; '
            f'{int(crack["box_w"])}&times;{int(crack["box_h"])}',
            int(crack['box_w']) * int(crack['box_h'])))
        rows.append('<tr>' + ''.join(cells) + '</tr>')
    return '\n'.join(rows)


def _crack_table(report, cracks, with_photo: bool) -> str:
    unit = report.unit
    names = (['photo'] if with_photo else []) + [
        'crack', f'max width ({unit})', f'mean width ({unit})',
        f'median width ({unit})', f'length ({unit})'] + (
        ['width class'] if report.class_names else []) + [
        'orientation', 'box (x, y; w\u00d7h px)']
    return ('<table class="sortable cracks">' +
            _header(names, f'max width ({unit})', ('photo', 'width class'))
            + '<tbody>\n' +
            _crack_rows(report, cracks, with_photo) +
            '\n</tbody></table>')


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten >= raw."""
    power = 10.0**np.floor(np.log10(raw))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10)
                      if m * power >= raw - 1e-12))


def _count(value: int) -> str:
    """A count for an axis: 950, 12k, 1.5M."""
    for size, suffix in ((1e6, 'M'), (1e3, 'k')):
        if value >= size:
            return f'{value / size:.3g}{suffix}'
    return str(value)


def histogram_svg(widths: np.ndarray, classes: np.ndarray, limits,
                  unit: str) -> str:
    """Bar chart of crack widths as inline SVG: each bar stacked by width
    class (``classes``, -1 for none), the limits drawn as dashed lines.

    Args:
        widths (np.ndarray): The cracks' widths.
        classes (np.ndarray): Their width classes, -1 for none.
        limits (Sequence[float]): The limits between classes.
        unit (str): The widths' unit, for the axis.

    Returns:
        str: The ``<svg>`` element, or a note when there are no cracks.
    """
    if not len(widths):
        return '<p class="note">No cracks.</p>'
    top = max(float(widths.max()), 1e-6)
    step = _nice_step(top / 24)
    bins = int(np.floor(top / step)) + 1
    num_classes = len(limits) + 1
    where = np.minimum((widths / step).astype(np.int64), bins - 1)
    counts = np.bincount(where * num_classes + np.maximum(classes, 0),
                         minlength=bins * num_classes).reshape(
                             bins, num_classes)
    width, height, left, right, top_gap, bottom = 900, 290, 64, 24, 24, 46
    plot_w, plot_h = width - left - right, height - top_gap - bottom
    bar = plot_w / bins
    most = int(counts.sum(1).max())
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {width} {height}" style="max-width:{width}px;'
             f'width:100%" aria-label="histogram of maximum crack widths">']
    base = top_gap + plot_h
    count_step = max(1, int(np.ceil(_nice_step(most / 5))))
    for value in range(0, most + 1, count_step):
        y = base - plot_h * value / most
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="12" '
                     f'text-anchor="end">{_count(value)}</text>'
                     f'<line x1="{left - 4}" x2="{left + plot_w}" '
                     f'y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>')
    for i in range(bins):
        y = base
        for cls in range(num_classes):
            count = int(counts[i, cls])
            if not count:
                continue
            h = plot_h * count / most
            y -= h
            colour = _colour(cls if limits else -1, num_classes)
            parts.append(
                f'<rect x="{left + i * bar + 1:.1f}" y="{y:.1f}" '
                f'width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{i * step:g}-{(i + 1) * step:g} '
                f'{_e(unit)}: {count} crack(s)</title></rect>')
    label_every = max(1, int(np.ceil(bins / 10)))
    for i in range(0, bins + 1, label_every):
        x = left + i * bar
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" '
                     f'y2="{base + 5}" stroke="#444"/>'
                     f'<text x="{x:.1f}" y="{base + 18}" font-size="12" '
                     f'text-anchor="middle">{i * step:g}</text>')
    for limit in limits:
        x = left + limit / step * bar
        if x > left + plot_w + 0.5:
            continue
        anchor = 'end' if x > left + plot_w - 60 else 'start'
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_gap - 4}" '
            f'y2="{base}" stroke="#000" stroke-dasharray="5 4"/>'
            f'<text x="{x + (-4 if anchor == "end" else 4):.1f}" '
            f'y="{top_gap - 8}" font-size="12" text-anchor="{anchor}">'
            f'{limit:g} {_e(unit)}</text>')
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" '
        f'stroke="#444"/><text x="{left + plot_w / 2:.0f}" '
        f'y="{height - 8}" font-size="13" text-anchor="middle">maximum '
        f'width of each crack ({_e(unit)})</text><text x="14" '
        f'y="{top_gap + plot_h / 2:.0f}" font-size="13" text-anchor="middle" '
        f'transform="rotate(-90 14 {top_gap + plot_h / 2:.0f})">cracks'
        '</text></svg>')
    return ''.join(parts)


def _card(value: str, label: str, detail: str = '') -> str:
    return (f'<div class="card"><b>{value}</b>{_e(label)}'
            + (f'<small>{detail}</small>' if detail else '') + '</div>')


def _crack_link(report, crack) -> str:
    photo = report.photos[int(crack['photo'])]
    return (f'<a href="{_url(photo["page"])}#crack-{int(crack["id"])}">'
            f'{_e(photo["name"])} #{int(crack["id"])}</a>')


def _summary_cards(report) -> str:
    unit = report.unit
    num_cracks = sum(p['summary'].num_cracks for p in report.photos)
    length = sum(p['summary'].length for p in report.photos)
    cards = [_card(str(len(report.photos)), 'photos measured'),
             _card(str(num_cracks), 'cracks'),
             _card(f'{_num(length)} {unit}', 'total crack length')]
    longest = report.longest_crack
    if longest is not None:
        cards.append(_card(f'{_num(longest["length"])} {unit}',
                           'longest crack', _crack_link(report, longest)))
    if len(report.top_cracks):
        widest = report.top_cracks[0]
        cards.append(_card(f'{_num(widest["max_width"])} {unit}',
                           'widest crack (maximum width)',
                           _crack_link(report, widest)))
    cards.append(_card(str(len(report.unreadable)), 'photos not read',
                       '<a href="#unreadable">see below</a>'
                       if report.unreadable else ''))
    return ''.join(cards)


def _class_table(report) -> str:
    if not report.class_names:
        return ('<p class="note">No width limits were given: the cracks are '
                'not sorted into width classes.</p>')
    totals = report.class_totals
    rows = ''.join(
        f'<tr><td class="text"><span class="swatch" style="background:'
        f'{_colour(i, len(totals))}"></span>{_e(name)}</td><td>{count}</td>'
        '</tr>' for i, (name, count) in enumerate(
            zip(report.class_names, totals)))
    return ('<table class="classes"><thead><tr><th class="text">width class '
            '(by maximum width)</th><th>cracks</th></tr></thead><tbody>' +
            rows + '</tbody></table>')


def _photo_table(report) -> str:
    unit = report.unit
    rows = []
    for photo in report.photos:
        s = photo['summary']
        rows.append(
            '<tr>' +
            _cell(f'<a href="{_url(photo["overlay"])}"><img class="thumb" '
                  f'loading="lazy" src="{_url(photo["thumb"])}" '
                  f'alt="overlay of {_e(photo["name"])}"></a>', css='text') +
            _cell(f'<a href="{_url(photo["page"])}">{_e(photo["name"])}</a>'
                  f'<div class="path">{_e(photo["source"])}</div>',
                  photo['name'], 'text') +
            _cell(f'{photo["width"]}&times;{photo["height"]}',
                  photo['width'] * photo['height']) +
            _cell(str(s.num_cracks), s.num_cracks) +
            _cell(_num(s.length), s.length) +
            _cell(_num(s.max_width), s.max_width) +
            _cell(f'<a href="{_url(photo["overlay"])}">overlay</a> &middot; '
                  f'<a href="{_url(photo["mask"])}">mask</a> &middot; '
                  f'<a href="{_url(photo["page"])}">cracks</a>', css='text') +
            '</tr>')
    if not rows:
        return '<p class="note">No photo was segmented.</p>'
    names = ['overlay', 'photo', 'size (px)', 'cracks',
             f'total length ({unit})', f'max width ({unit})', 'files']
    return ('<table class="sortable photos">' +
            _header(names, text_columns=('overlay', 'photo', 'files')) +
            '<tbody>\n' + '\n'.join(rows) + '\n</tbody></table>')


def _settings(report) -> str:
    """The settings line; a setting's unit, if any, follows its name
    after a double underscore (``min_length__px``)."""
    items = [f'unit: {report.unit}']
    for key, value in report.settings.items():
        if value is None:
            continue
        name, _, unit = key.partition('__')
        if isinstance(value, float):
            value = f'{value:g}'
        items.append(f'{name.replace("_", " ")}: {value}' +
                     (f' {unit}' if unit else ''))
    return ' &middot; '.join(_e(item) for item in items)


def render_index(report: ReportSummary, generated: str) -> str:
    """The report's front page: summary, histogram, photos, cracks and the
    photos that could not be read."""
    total = len(report.widths)
    shown = report.top_cracks
    if len(shown):
        note = ('<p class="note">Click a column to sort; a crack opens its '
                'photo with its box highlighted.' +
                (f' The {len(shown)} widest of {total} cracks are listed; '
                 '<a href="cracks.csv">cracks.csv</a> has them all.'
                 if len(shown) < total else '') + '</p>')
        cracks = note + _crack_table(report, shown, with_photo=True)
    else:
        cracks = '<p class="note">No cracks.</p>'
    unreadable = ('<ul>' + ''.join(
        f'<li><code>{_e(item["source"])}</code>: {_e(item["reason"])}</li>'
        for item in report.unreadable) + '</ul>' if report.unreadable else
        '<p class="note">None.</p>')
    body = INDEX_BODY.substitute(
        meta=f'Generated {_e(generated)} &middot; ' + _settings(report) +
        ' &middot; tables: <a href="cracks.csv">cracks.csv</a>, '
        '<a href="cracks.json">cracks.json</a>',
        measured_as=_e(MEASURED_AS), cards=_summary_cards(report),
        classes=_class_table(report),
        histogram=histogram_svg(report.widths, report.classes,
                                report.width_limits, report.unit),
        num_photos=len(report.photos), photos=_photo_table(report),
        num_cracks=total, cracks=cracks,
        num_unreadable=len(report.unreadable), unreadable=unreadable)
    return PAGE.substitute(title='Crack inspection report', style=STYLE,
                           body=body, script=SCRIPT)


def render_photo_page(report: ReportSummary, photo: dict,
                      cracks: np.ndarray, total: int) -> str:
    """One photo's page: its overlay with a box per crack (``#crack-<id>``
    highlights one) and its table of cracks.

    Args:
        report (ReportSummary): The report so far (unit, classes, ...).
        photo (dict): The photo's entry of ``ReportSummary.photos``.
        cracks (np.ndarray): The records of the cracks shown (with
            ``photo`` and ``width_class``).
        total (int): How many cracks the photo has in all.

    Returns:
        str: The page's HTML.
    """
    height, width = photo['height'], photo['width']
    boxes = []
    for crack in cracks:
        anchor = f'crack-{int(crack["id"])}'
        cls = int(crack['width_class'])
        # Where the width is largest, within the box.
        widest_x = 100 * (crack['max_x'] - crack['box_x'] + .5) / (
            crack['box_w'])
        widest_y = 100 * (crack['max_y'] - crack['box_y'] + .5) / (
            crack['box_h'])
        label = (f'#{int(crack["id"])}: {_num(crack["max_width"])} '
                 f'{report.unit} wide, {_num(crack["length"])} '
                 f'{report.unit} long' +
                 (f' ({report.class_names[cls]})' if cls >= 0 else ''))
        # The label opens towards the photo's larger side, so it fits.
        place = (' flip' if crack['box_x'] + crack['box_w'] / 2 > width / 2
                 else '') + (' below' if crack['box_y'] < height / 10 else '')
        boxes.append(
            f'<a class="box{place}" id="{anchor}" href="#{anchor}" '
            f'title="{_e(label)}" '
            f'style="left:{100 * crack["box_x"] / width:.3f}%;'
            f'top:{100 * crack["box_y"] / height:.3f}%;'
            f'width:{100 * crack["box_w"] / width:.3f}%;'
            f'height:{100 * crack["box_h"] / height:.3f}%">'
            f'<span>{_e(label)}</span><i style="left:{widest_x:.2f}%;'
            f'top:{widest_y:.2f}%"></i></a>')
    s = photo['summary']
    up = '../' * photo['page'].count('/')
    meta = (f'{_e(photo["source"])} &middot; {width}&times;{height} px '
            f'&middot; {s.num_cracks} crack(s), {_num(s.length)} '
            f'{report.unit} long, widest {_num(s.max_width)} {report.unit} '
            f'&middot; <a href="{_url(up + photo["overlay"])}">overlay</a>'
            f' &middot; <a href="{_url(up + photo["mask"])}">mask</a>')
    note = ('Each box frames a crack: hover over it, or open a crack from a '
            'table, to see its measurements and a red ring where it is '
            'widest.')
    if len(cracks) < total:
        note += (f' The {len(cracks)} widest of {total} cracks are boxed '
                 'and listed.')
    body = PHOTO_BODY.substitute(
        name=_e(photo['name']), name_attr=_e(photo['name']), meta=meta,
        note=note, width=width, height=height,
        overlay=_url(up + photo['overlay']), up=up, legend=LEGEND,
        boxes='\n'.join(boxes),
        num_cracks=total,
        table=_crack_table(report, cracks, with_photo=False)
        if len(cracks) else '<p class="note">No cracks.</p>')
    return PAGE.substitute(title=_e(photo['name']) + ' - cracks',
                           style=STYLE, body=body, script=SCRIPT)
