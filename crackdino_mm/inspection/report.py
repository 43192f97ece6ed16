"""Crack-by-crack tables and the HTML inspection report of a batch of photos.

``InspectionReport`` takes the photos one at a time, as they are measured:
it streams every crack to ``cracks.csv`` and ``cracks.json``, writes the
photo's thumbnail and its own page (the overlay with every crack's box),
and keeps for the end only what ``index.html`` summarises, so a batch of
hundreds of photos holds a few numbers per crack, not its photos. The
pages are plain files with inline styles and a few lines of script:
they open from the disk, without a server or the network.
"""
import csv
import json
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .quantification import (CRACK_DTYPE, MEASURED_AS, CrackTable,
                             area_unit, check_width_limits,
                             width_class_names, width_classes)
from .report_html import ReportSummary, render_index, render_photo_page

# Columns of cracks.csv/.json measured in the table's unit.
LENGTH_COLUMNS = ('length', 'mean_width', 'median_width', 'max_width')


def crack_columns(unit: str) -> tuple:
    """Names of the crack table's columns, each measurement with its unit
    (``length_mm``, ``area_mm2``; box and positions are photo pixels)."""
    names = [f'{name}_{unit}' if name in LENGTH_COLUMNS else
             f'area_{unit}2' if name == 'area' else
             f'{name}_deg' if name == 'orientation' else name
             for name in CRACK_DTYPE.names]
    return ('image', *names, 'width_class')


def thumbnail(img: np.ndarray, max_side: int = 320) -> np.ndarray:
    """The image shrunk (never enlarged) to ``max_side`` on its long side."""
    scale = max_side / max(img.shape[:2])
    if scale >= 1:
        return img
    size = (max(1, round(img.shape[1] * scale)),
            max(1, round(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def unreadable_reason(path: str) -> str:
    """Why an image file could not be decoded, in words for the report.

    Args:
        path (str): A file OpenCV did not decode.

    Returns:
        str: The reason: it cannot be opened, is empty, or is not an image
        OpenCV decodes.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(1)
    except OSError as e:
        return f'cannot be opened: {e.strerror or e}'
    if not head:
        return 'empty file'
    return 'not an image OpenCV can decode (corrupt, truncated or ' \
        'another format)'


def decode_problem(path: str) -> Optional[str]:
    """Why an image OpenCV decoded is not whole (cut short or partly
    corrupt: OpenCV then fills the rest with grey and says nothing), or
    None. Pillow's decoder is the check, as it raises on missing data;
    formats it does not know are not checked."""
    try:
        with Image.open(path) as img:
            img.load()
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError) as e:
        return f'truncated or partly corrupt: only part of it decodes ({e})'
    return None


def read_photo(path: str, flags: int = cv2.IMREAD_COLOR):
    """The image decoded whole with OpenCV ``flags`` and None, or None
    and why it is not (wholly) readable: the one check of every tool that
    reads photos or masks (``tools/infer.py``, ``tools/adapt.py``).
    Pillow looks first: OpenCV's JPEG decoder prints its own warnings on a
    truncated file.

    Args:
        path (str): The image file.
        flags (int): ``cv2.imread`` flags. Defaults to
            ``cv2.IMREAD_COLOR`` (BGR).

    Returns:
        tuple[np.ndarray | None, str | None]: The image and None, or None
        and the reason in words.
    """
    problem = decode_problem(path)
    if problem:
        return None, problem
    img = cv2.imread(path, flags)
    return (None, unreadable_reason(path)) if img is None else (img, None)


class InspectionReport:
    """Writes the crack tables and the HTML report of one output folder.

    A context manager: leaving the ``with`` block, even on an error,
    finishes the tables and writes ``index.html`` (its path in ``index``)
    with the photos measured so far.

    Args:
        out_dir (str): The inference output folder; ``index.html``,
            ``cracks.csv``/``.json``, ``thumbs/`` and ``photos/`` go here.
        unit (str): Unit of the measurements, ``'px'`` or ``'mm'``.
            Defaults to ``'px'``.
        width_limits (Sequence[float]): Increasing widths (in ``unit``)
            that split the cracks into classes by their maximum width;
            empty for no classes. Defaults to empty.
        settings (dict, optional): Shown at the top of the report and
            stored in ``cracks.json`` (threshold, scale, ...). Defaults to
            None.
        max_rows (int): Most cracks listed in the report's table and boxed
            on a photo's page (the widest); the CSV and JSON have them all.
            Defaults to 5000.

    Raises:
        ValueError: If ``width_limits`` are not positive and increasing.
    """

    def __init__(self,
                 out_dir: str,
                 unit: str = 'px',
                 width_limits: Sequence[float] = (),
                 settings: Optional[dict] = None,
                 max_rows: int = 5000):
        self.out_dir = out_dir
        self.unit = unit
        self.width_limits = check_width_limits(width_limits)
        self.class_names = (width_class_names(self.width_limits, unit)
                            if self.width_limits else [])
        self.settings = dict(settings or {})
        self.max_rows = max_rows
        self.photos: List[dict] = []
        self.unreadable: List[dict] = []
        self._widths: List[np.ndarray] = []
        self._classes: List[np.ndarray] = []
        self._top = np.zeros(0, _TOP_DTYPE)
        self._longest = None
        for sub in ('thumbs', 'photos'):
            os.makedirs(osp.join(out_dir, sub), exist_ok=True)
        self._csv_file = open(osp.join(out_dir, 'cracks.csv'), 'w',
                              newline='')
        self._csv = csv.writer(self._csv_file)
        self._columns = crack_columns(unit)
        self._csv.writerow(self._columns)
        self._json = open(osp.join(out_dir, 'cracks.json'), 'w')
        header = dict(measured_as=MEASURED_AS, unit=unit,
                      area_unit=area_unit(unit),
                      width_limits=self.width_limits,
                      width_classes=self.class_names, settings=self.settings)
        self._json.write(json.dumps(header, indent=2)[:-2] +
                         ',\n  "cracks": [')
        self._first_json_row = True
        self.index = None

    def add_photo(self, source: str, overlay: np.ndarray, overlay_file: str,
                  mask_file: str, cracks: CrackTable,
                  name: Optional[str] = None) -> None:
        """Record one segmented photo: its overlay (BGR, photo size), the
        files already written for it, its measured cracks and its name in
        the report. Its cracks go to the tables at once; its thumbnail
        and page are written.

        Args:
            source (str): The photo's file, as the tables name it.
            overlay (np.ndarray): The overlay picture (H, W, 3; BGR).
            overlay_file (str): Where the overlay was written.
            mask_file (str): Where the mask was written.
            cracks (CrackTable): The photo's cracks, in the report's unit.
            name (str, optional): Its name in the report; ``/`` makes
                sub-folders of ``thumbs/`` and ``photos/``, keeping
                same-named photos apart. Defaults to None: the overlay's
                stem.

        Raises:
            ValueError: If ``cracks`` is in another unit than the report.
        """
        if cracks.unit != self.unit:
            raise ValueError(f'{source}: cracks in {cracks.unit}, the '
                             f'report is in {self.unit}')
        index = len(self.photos)
        name = name or osp.splitext(osp.basename(overlay_file))[0]
        thumb_file = osp.join(self.out_dir, 'thumbs', name + '.jpg')
        page_file = osp.join(self.out_dir, 'photos', name + '.html')
        for path in (thumb_file, page_file):
            os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(thumb_file, thumbnail(overlay),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])
        data = cracks.data
        classes = (width_classes(data['max_width'], self.width_limits)
                   if self.width_limits else None)
        self._stream(source, cracks, classes)
        summary = cracks.summary()
        photo = dict(
            source=source, name=name,
            height=overlay.shape[0], width=overlay.shape[1],
            overlay=self._relative(overlay_file),
            mask=self._relative(mask_file),
            thumb=self._relative(thumb_file),
            page=self._relative(page_file), summary=summary,
            class_counts=self._class_counts(classes))
        self.photos.append(photo)
        self._widths.append(data['max_width'].astype(np.float32))
        self._classes.append(np.full(len(data), -1, np.int8)
                             if classes is None else classes.astype(np.int8))
        widest = np.argsort(-data['max_width'], kind='stable')[:self.max_rows]
        shown = _top_records(index, data[widest],
                             classes[widest] if classes is not None else None)
        with open(osp.join(self.out_dir, photo['page']), 'w') as f:
            f.write(render_photo_page(self._summary(photos=self.photos),
                                      photo, shown, len(data)))
        self._top = np.concatenate([self._top, shown])
        self._top = self._top[np.argsort(-self._top['max_width'],
                                         kind='stable')[:self.max_rows]]
        if len(data):
            i = int(np.argmax(data['length']))
            if (self._longest is None
                    or data['length'][i] > self._longest['length']):
                self._longest = _top_records(
                    index, data[i:i + 1],
                    classes[i:i + 1] if classes is not None else None)[0]

    def add_unreadable(self, source: str, reason: str) -> None:
        """Record a photo that could not be segmented, and why.

        Args:
            source (str): The photo's file.
            reason (str): Why, in words (``unreadable_reason``).
        """
        self.unreadable.append(dict(source=source, reason=reason))

    def __enter__(self) -> 'InspectionReport':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> str:
        """Finish the tables and write ``index.html``. Closing twice
        writes nothing more.

        Returns:
            str: The path of ``index.html``.
        """
        if self.index is None:
            self._csv_file.close()
            self._json.write('\n  ],\n  "unreadable": ' +
                             json.dumps(self.unreadable) + '\n}\n')
            self._json.close()
            self.index = osp.join(self.out_dir, 'index.html')
            with open(self.index, 'w') as f:
                f.write(render_index(self.summary(),
                                     time.strftime('%Y-%m-%d %H:%M')))
        return self.index

    def summary(self) -> ReportSummary:
        """Everything ``index.html`` shows, as plain data.

        Returns:
            ReportSummary: The photos, unreadable files, widths, classes
            and the cracks listed, so far.
        """
        totals = np.zeros(len(self.class_names), np.int64)
        for photo in self.photos:
            totals += photo['class_counts']
        return self._summary(
            photos=self.photos, unreadable=self.unreadable,
            widths=(np.concatenate(self._widths) if self._widths else
                    np.zeros(0, np.float32)),
            classes=(np.concatenate(self._classes) if self._classes else
                     np.zeros(0, np.int8)),
            top_cracks=self._top, longest_crack=self._longest,
            class_totals=totals.tolist())

    def _summary(self, **contents) -> ReportSummary:
        return ReportSummary(unit=self.unit, width_limits=self.width_limits,
                             class_names=self.class_names,
                             settings=self.settings, **contents)

    def _class_counts(self, classes) -> np.ndarray:
        if classes is None:
            return np.zeros(0, np.int64)
        return np.bincount(classes, minlength=len(self.class_names))

    def _relative(self, path: str) -> str:
        return osp.relpath(path, self.out_dir).replace(os.sep, '/')

    def _stream(self, source, cracks, classes, chunk: int = 4096) -> None:
        """Append the photo's cracks to the CSV and the JSON, a chunk of
        records at a time (a fragmented mask has hundreds of thousands)."""
        data = cracks.data
        keys = ('image', *self._columns[1:])
        for start in range(0, len(data), chunk):
            part = data[start:start + chunk].copy()
            for name in data.dtype.names:
                if part.dtype[name].kind == 'f':
                    part[name] = significant(part[name])
            records = part.tolist()
            if classes is None:
                names = [None] * len(records)
            else:
                names = [self.class_names[i]
                         for i in classes[start:start + chunk].tolist()]
            self._csv.writerows((source, *record, '' if name is None else
                                 name)
                                for record, name in zip(records, names))
            lines = [json.dumps(dict(zip(keys, (source, *record, name))))
                     for record, name in zip(records, names)]
            self._json.write(('\n    ' if self._first_json_row else
                              ',\n    ') + ',\n    '.join(lines))
            self._first_json_row = False


def significant(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Values rounded to ``digits`` significant digits, so the tables do not
    print floating-point noise (2.7925000000000004)."""
    out = np.asarray(values, np.float64).copy()
    nonzero = np.isfinite(out) & (out != 0)
    scale = 10.0**(digits - 1 -
                   np.floor(np.log10(np.abs(out[nonzero]))))
    out[nonzero] = np.round(out[nonzero] * scale) / scale
    return out


# A crack in the report's table: which photo, its record, its class.
_TOP_DTYPE = np.dtype([('photo', np.int64), ('width_class', np.int64)] +
                      [(n, CRACK_DTYPE[n]) for n in CRACK_DTYPE.names])


def _top_records(photo: int, data: np.ndarray,
                 classes: Optional[np.ndarray]) -> np.ndarray:
    out = np.zeros(len(data), _TOP_DTYPE)
    out['photo'] = photo
    out['width_class'] = -1 if classes is None else classes
    for name in CRACK_DTYPE.names:
        out[name] = data[name]
    return out
