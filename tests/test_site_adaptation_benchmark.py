"""The site-adaptation benchmark's pieces: its draws are tools/adapt.py's,
its label-free threshold, its statistics."""
import numpy as np
import pytest

from script_modules import harness, script_module

bench = script_module('benchmarks/site_adaptation_cpu.py')
stats = harness('stats')
records = harness('records')


def test_draws_are_the_photos_the_tool_labels(tmp_path):
    from crackdino_mm.apis import load_site_photos
    from crackdino_mm.apis.site_photos import photo_key
    import cv2
    site = tmp_path / 'Site'
    for split in ('train_img', 'train_lab'):
        (site / split).mkdir(parents=True)
    for i in range(12):
        mask = np.zeros((20, 20), np.uint8)
        mask[5, :] = 255
        cv2.imwrite(str(site / 'train_img' / f'{i:02d}.jpg'),
                    np.full((20, 20, 3), 128, np.uint8))
        cv2.imwrite(str(site / 'train_lab' / f'{i:02d}.jpg'), mask)
    args = bench.parse_args(['run', '--crack-sets-root', str(tmp_path)])
    for k, d in ((1, 0), (3, 2), (10, 4)):
        labelled, pool = harness('sites').draw('Site', k, d, args)
        photos = load_site_photos(str(site / 'train_img'),
                                  str(site / 'train_lab'), k=k, seed=d)
        assert labelled == [photo_key(p.path) for p in photos]
        assert len(pool) == 12


def test_otsu_threshold_splits_two_modes():
    otsu_threshold = harness('site_arms').otsu_threshold
    rng = np.random.default_rng(0)
    background = rng.normal(0.1, 0.03, 5000).clip(0, 1)
    crack = rng.normal(0.7, 0.05, 500).clip(0, 1)
    t = otsu_threshold([np.concatenate([background, crack])])
    assert (crack > t).all() and (background < t).mean() > 0.999
    assert otsu_threshold([np.concatenate([background, crack + 0.2])
                           .clip(0, 1)]) > 0.15


@pytest.mark.parametrize('df, quantile', [(1, 12.706), (4, 2.776),
                                          (19, 2.093), (100, 1.984)])
def test_t_quantiles_match_the_tables(df, quantile):
    assert stats.t_quantile_975(df) == pytest.approx(quantile, abs=1e-3)


def test_paired_contrast_is_the_paired_t_test():
    a = [1.0, 2.0, 3.0, 4.0, 5.5]
    b = [0.5, 2.2, 2.1, 3.0, 4.0]
    c = stats.paired_contrast(a, b)
    diffs = np.subtract(a, b)
    t = diffs.mean() / (diffs.std(ddof=1) / np.sqrt(5))
    assert c['mean'] == pytest.approx(0.74)
    assert t == pytest.approx(2.6065, abs=1e-4)
    # two-sided p of t = 2.6065 with 4 degrees of freedom
    assert c['p'] == pytest.approx(0.0596, abs=1e-4)
    half = 2.776445 * diffs.std(ddof=1) / np.sqrt(5)
    assert c['low'] == pytest.approx(0.74 - half, abs=1e-5)
    with pytest.raises(ValueError, match='differ in length'):
        stats.paired_contrast([1, 2], [1])


def test_run_pairs_the_adapting_arms_draw_by_draw(tmp_path, monkeypatch):
    """The adapting arms of one draw and site run back to back (a run cut
    short leaves pairs), label-free ones first; recorded cells are
    skipped."""
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    monkeypatch.setattr(bench, 'MapCache', lambda source, args: None)
    calls = []

    def adapt(cache, arm, site, k, d, args):
        calls.append((arm, k, d, site))
        return dict(iou=0.0, seconds=0.0)

    monkeypatch.setattr(bench, 'adapt_arm', adapt)
    args = bench.parse_args(['run', '--sources', 'crackdino', '--arms',
                             'finetune', 'finetune_distill',
                             'label_free_norm', '--ks', '0', '1', '3',
                             '--draws', '2', '--sites', 'Crack500',
                             'GAPs384'])
    records.record(bench.RESULTS, bench.result_key(
        'crackdino', 'Crack500', 'finetune', 1, 0), iou=1.0)
    bench.cmd_run(args)
    assert calls[:4] == [('label_free_norm', 0, d, s) for d in (0, 1)
                         for s in ('Crack500', 'GAPs384')]
    assert calls[4:7] == [('finetune_distill', 1, 0, 'Crack500'),
                          ('finetune', 1, 0, 'GAPs384'),
                          ('finetune_distill', 1, 0, 'GAPs384')]
    assert len(calls) == 4 + 2 * 2 * 2 * 2 - 1
    monkeypatch.setattr(bench, 'adapt_arm', None)
    bench.cmd_run(args)  # everything recorded: nothing runs


def test_only_a_source_with_teachers_runs_their_arms(tmp_path,
                                                    monkeypatch):
    """The distillation and its time control run for the full method and
    are skipped for the student alone."""
    monkeypatch.setattr(bench, 'RESULTS', str(tmp_path / 'r.json'))
    monkeypatch.setattr(bench, 'source_checkpoint', lambda name: __file__)
    calls = []

    def adapt(cache, arm, site, k, d, args):
        calls.append((cache, arm))
        return dict(iou=0.0, seconds=0.0)

    monkeypatch.setattr(bench, 'adapt_arm', adapt)
    monkeypatch.setattr(bench, 'MapCache', lambda source, args: source)
    bench.cmd_run(bench.parse_args([
        'run', '--sources', 'student_plain', 'crackdino', '--arms',
        'finetune', 'finetune_distill', 'finetune_long', '--ks', '10',
        '--draws', '1', '--sites', 'Crack500']))
    assert calls == [('student_plain', 'finetune'), ('crackdino', 'finetune'),
                     ('crackdino', 'finetune_distill'),
                     ('crackdino', 'finetune_long')]


def test_site_mean_table_averages_site_means_and_counts_draws():
    """A site with more draws weighs no more than one with fewer; a cell
    that some site lacks stays empty."""
    results = {}
    values_by_site = ([10, 20], [30], [40], [50], [60], [70], [80], [90])
    assert len(values_by_site) == len(bench.SITES)
    for site, values in zip(bench.SITES, values_by_site):
        for d, v in enumerate(values):
            results[bench.result_key('src', site, 'finetune', 5, d)] = dict(
                iou=v)
    results[bench.result_key('src', 'Crack500', 'finetune', 1, 0)] = dict(
        iou=99)
    for site in bench.SITES:
        for d in range(bench.DRAWS):
            results[bench.result_key('src', site, 'none', 0, d)] = dict(
                iou=1.0)
    rows = {line.split(' | ')[0][2:]: line.strip('| ').split(' | ')[1:]
            for line in bench.site_mean_table(results, 'src')[2:]}
    ks = list(bench.KS)
    # (15 + 30 + 40 + ... + 90) / 8 over 9 (site, draw) cells
    assert rows['finetune'][ks.index(5)] == '54.4 (9)'
    assert rows['finetune'][ks.index(1)] == ''
    assert rows['none'][ks.index(0)] == '1.0'
    assert set(rows) == {'finetune', 'none'}


def _site_results():
    results = {}
    for source in ('student_plain', 'crackdino'):
        for site in bench.SITES:
            for d in range(2):
                results[bench.result_key(source, site, 'none', 0, d)] = dict(
                    iou=10.0, seconds=0.0)
                for arm, k in (('threshold', 1), ('finetune', 5)):
                    results[bench.result_key(source, site, arm, k, d)] = \
                        dict(iou=20.0 + d, seconds=3.0)
    return results


def test_site_table_is_one_table_naming_each_site_once():
    lines = bench.site_table(_site_results(), 'crackdino', 'iou')
    assert lines[0].startswith('| site | arm |')
    assert [line.split(' | ')[0][2:] for line in lines[2:]] == [
        name for site in bench.SITES for name in (site, '', '')]
    assert '| 20.5 [14.1, 26.9] |' in lines[4]


def test_plot_gives_each_arm_one_colour_and_one_legend(monkeypatch):
    plots = harness('plots')
    saved = {}
    monkeypatch.setattr(plots, 'save_with_legend', lambda fig, handles,
                        path: saved.update(fig=fig, handles=handles))
    bench.plot(_site_results())
    assert [h.get_label() for h in saved['handles']] == list(bench.ARMS)
    colours = {}
    for ax in saved['fig'].axes:
        assert ax.get_legend() is None
        for line, arm in zip(ax.get_lines(), ('none', 'threshold',
                                              'finetune')):
            colours.setdefault(arm, set()).add(line.get_color())
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == 3


def test_coverage_counts_sites_per_source_and_seed_and_names_the_gaps():
    """The docs' coverage table: sites per source at each training seed,
    ks that measure alike share a row, and a site no source has is named."""
    results = {'source/crackdino': dict(command='x')}
    sites = bench.SITES
    for site in sites[:3]:
        for k in (5, 10):
            results[bench.result_key('crackdino', site, 'finetune', k,
                                     0)] = dict(iou=1.0)
    results[bench.result_key('crackdino@s2', sites[0], 'finetune', 10,
                             1)] = dict(iou=1.0)
    results[bench.result_key('segformer', sites[3], 'finetune', 10,
                             0)] = dict(iou=1.0)
    table, seeds = bench.coverage_table(results)
    assert seeds == [0, 2]
    rows = [line.strip('| ').split(' | ') for line in table.split('\n')[2:]]
    order = list(bench.SOURCES)
    assert len(rows) == 2
    k5, k10 = rows
    assert k5[:2] == ['finetune', '5']
    assert k5[2 + order.index('crackdino')] == '3 / 0'
    assert k5[2 + order.index('segformer')] == '0 / 0'
    assert k5[-1] == ', '.join(sites[3:])
    assert k10[2 + order.index('crackdino')] == '3 / 1'
    assert k10[2 + order.index('segformer')] == '1 / 0'
    assert k10[-1] == ', '.join(sites[4:])
