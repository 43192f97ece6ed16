"""The README's generated front-page lines that read the site study."""
import json

import pytest

from script_modules import harness

front_page = harness('front_page')


def test_the_start_bullet_reads_site_level_contrasts_and_seed_counts(
        tmp_path, monkeypatch):
    """Which model to start from and what the teachers add: the
    site-level contrasts with the seeds each site has in both arms (a
    range while some sites lack seeds)."""
    results = {}
    for site, gain in (('S1', 2.0), ('S2', 4.0), ('S3', 3.0)):
        for name in ('crackdino', 'student_plain', 'segformer'):
            seeds = ('', '@s1', '@s2') if site != 'S3' else ('', )
            for seed in seeds:
                iou = 10.0 + gain * (name == 'segformer') - \
                    (name == 'student_plain')
                results[f'{name}{seed}/{site}/finetune/k10/d0'] = dict(
                    iou=iou)
        # The teachers, seed 0 only: +1, +2, +3 over fine-tuning.
        results[f'crackdino/{site}/finetune_distill/k10/d0'] = dict(
            iou=10.0 + gain - 1.0)
    path = tmp_path / 'site_adaptation_cpu.json'
    path.write_text(json.dumps(results))
    monkeypatch.setattr(front_page, 'SITE_ADAPTATION', str(path))
    line = front_page.glance_starts()
    starts, teachers = line.split('photos of the site: ')[1].split('. ')
    segformer, student = starts.split('; ')
    assert segformer.startswith('SegFormer vs full method +3.0 IoU '
                                '[95 % CI +0.5, +5.5]')
    assert '3 sites, 1 to 3 training seeds a site' in segformer
    assert student.startswith('full method vs student alone +1.0 IoU')
    # mean 2, sd 1: 2 +- t(2) / sqrt(3) = 2 +- 2.48, p 0.074; the largest
    # of the three p-values, so Holm keeps it (2 x 0.035 below it).
    assert teachers.endswith(': +2.0 IoU [95 % CI -0.5, +4.5], p=0.074 '
                             '(Holm 0.07), 3 sites, 1 training seed a '
                             'site.')
    with pytest.raises(KeyError):
        path.write_text(json.dumps({
            k: v for k, v in results.items() if 'student_plain' not in k}))
        front_page.glance_starts()
