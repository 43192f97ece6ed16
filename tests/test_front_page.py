"""The README's generated front-page lines that read the site study."""
import json

import pytest

from script_modules import harness

front_page = harness('front_page')


def test_the_start_bullet_reads_site_level_contrasts_and_seed_counts(
        tmp_path, monkeypatch):
    """Which model to start from: the site-level contrasts with the seeds
    each site has in both arms (a range while some sites lack seeds)."""
    results = {}
    for site, gain in (('S1', 2.0), ('S2', 4.0), ('S3', 3.0)):
        for name in ('crackdino', 'student_plain', 'segformer'):
            seeds = ('', '@s1', '@s2') if site != 'S3' else ('', )
            for seed in seeds:
                iou = 10.0 + gain * (name == 'segformer') - \
                    (name == 'student_plain')
                results[f'{name}{seed}/{site}/finetune/k10/d0'] = dict(
                    iou=iou)
    path = tmp_path / 'site_adaptation_cpu.json'
    path.write_text(json.dumps(results))
    monkeypatch.setattr(front_page, 'SITE_ADAPTATION', str(path))
    line = front_page.glance_starts()
    segformer, student = line.split('photos of the site: ')[1].split('; ')
    assert segformer.startswith('SegFormer vs full method +3.0 IoU '
                                '[95 % CI +0.5, +5.5]')
    assert '3 sites, 1 to 3 training seeds a site' in segformer
    assert student.startswith('full method vs student alone +1.0 IoU')
    with pytest.raises(KeyError):
        path.write_text(json.dumps({
            k: v for k, v in results.items() if 'student_plain' not in k}))
        front_page.glance_starts()
