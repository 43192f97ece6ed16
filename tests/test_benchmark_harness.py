"""benchmarks/harness: records merged under the lock, relative paths,
command lines, mmengine run logs and Markdown blocks."""
import glob
import json
import os.path as osp

import pytest

from script_modules import harness, run_sittings, script_module

records = harness('records')
commands = harness('commands')
report = harness('report')


def _record_many(path, sitting):
    for i in range(20):
        records.record(path, f'{sitting}/{i}', value=i)


def test_sittings_recording_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / 'r.json')
    run_sittings(_record_many, (path, 'a'), (path, 'b'))
    assert len(records.load(path)) == 40


def test_record_merges_parts_one_level_deep(tmp_path):
    path = str(tmp_path / 'r.json')
    records.record(path, 'x', test={'DeepCrack': 1}, train=dict(a=1))
    records.record(path, 'x', test={'Crack500': 2}, note='n')
    assert records.load(path) == dict(x=dict(
        test={'DeepCrack': 1, 'Crack500': 2}, train=dict(a=1), note='n'))


def test_relative_text_removes_the_machine_paths():
    repo, parent = records.REPO, osp.dirname(records.REPO)
    command = (f'python {repo}/tools/test.py x.py --cfg-options '
               f'data_root={parent}/shared/data/DeepCrack')
    assert records.relative_text(dict(c=[command])) == dict(c=[
        'python tools/test.py x.py --cfg-options '
        'data_root=../shared/data/DeepCrack'])
    assert records.relative(osp.join(repo, 'data')) == 'data'
    assert not osp.isabs(records.default_data_root())


def test_command_lines():
    assert commands.train_command('c.py', 'w', ['a=1'], ['--resume']) == [
        'python', 'tools/train.py', 'c.py', '--work-dir', 'w', '--resume',
        '--cfg-options', 'a=1']
    assert commands.test_command('c.py', 'k.pth', 'w', ['a=1'],
                                 tta=True) == [
        'python', 'tools/test.py', 'c.py', 'k.pth', '--work-dir', 'w',
        '--tta', '--cfg-options', 'a=1']
    assert commands.data_root_options('d', ('test_dataloader', )) == [
        'test_dataloader.dataset.data_root=d']


def test_replace_marked_block(tmp_path):
    path = tmp_path / 'README.md'
    path.write_text('intro\n<!-- results:site -->\nold\n'
                    '<!-- /results:site -->\nend\n')
    assert report.replace_marked_block(str(path), 'site', '| a |\n')
    assert path.read_text() == ('intro\n<!-- results:site -->\n| a |\n'
                                '<!-- /results:site -->\nend\n')
    assert not report.replace_marked_block(str(path), 'site', '| a |')
    with pytest.raises(ValueError, match='results:other'):
        report.replace_marked_block(str(path), 'other', 'x')


def test_write_section_replaces_or_appends(tmp_path):
    path = str(tmp_path / 'RESULTS.md')
    report.write_section(path, 'a', ['one'])
    report.write_section(path, 'b', ['two'])
    report.write_section(path, 'a', ['three'])
    assert open(path).read() == ('<!-- a -->\nthree\n<!-- /a -->\n\n'
                                 '<!-- b -->\ntwo\n<!-- /b -->\n')


def test_read_test_metrics_takes_the_newest_run(tmp_path):
    for run, iou in (('20260101_000000', 10.0), ('20260102_000000', 45.5)):
        (tmp_path / run).mkdir()
        (tmp_path / run / f'{run}.json').write_text(
            json.dumps(dict(crack_iou=iou, ods=60.0, time=0.2,
                            data_time=0.01)))
    assert commands.read_test_metrics(str(tmp_path)) == dict(crack_iou=45.5,
                                                          ods=60.0)
    (tmp_path / '20260103_000000').mkdir()  # a run that wrote nothing
    assert commands.read_test_metrics(str(tmp_path))['crack_iou'] == 45.5
    (tmp_path / '20260104_000000').mkdir()
    (tmp_path / '20260104_000000' / '20260104_000000.json').write_text(
        json.dumps(dict(time=0.2)))
    with pytest.raises(RuntimeError, match='no crack metrics'):
        commands.read_test_metrics(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='no <timestamp>.json'):
        commands.read_test_metrics(str(tmp_path / '20260103_000000'))


def test_read_scalars_skips_start_up(tmp_path):
    run = tmp_path / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    records = [
        dict(loss=2.0, time=9.0, data_time=1.0, step=25),
        dict(loss=1.0, time=2.0, data_time=0.2, step=50),
        dict(loss=0.5, time=4.0, data_time=0.4, step=75),
    ]
    (run / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')
    parsed = commands.read_scalars(str(tmp_path))
    assert parsed['step_seconds'] == pytest.approx(3.0)
    assert parsed['data_seconds'] == pytest.approx(0.3)
    assert parsed['final_loss'] == 0.5
    (run / 'scalars.json').write_text(json.dumps(dict(lr=0.1)) + '\n')
    with pytest.raises(RuntimeError, match='no training step'):
        commands.read_scalars(str(tmp_path))


def test_records_are_written_with_relative_paths(tmp_path):
    path = str(tmp_path / 'r.json')
    absolute = osp.join(records.REPO, 'work_dirs', 'x.py')
    records.record(path, 'run', command=f'python tools/test.py {absolute}')
    assert records.load(path) == dict(run=dict(
        command='python tools/test.py work_dirs/x.py'))


def test_command_block_wraps_long_commands():
    command = 'python tools/train.py ' + ' '.join(
        f'option{i}=value' for i in range(30))
    lines = report.command_block([('run a', command)], width=60)
    assert lines[:4] == ['<details><summary>1 recorded command</summary>',
                         '', '```bash', '# run a']
    assert lines[-3:] == ['```', '', '</details>']
    assert max(len(line) for line in lines) <= 60
    body = ' '.join(line.rstrip(' \\').strip() for line in lines[4:-3])
    assert body == command


def test_reflow_wraps_prose_and_leaves_tables_and_code():
    prose = ' '.join(['word'] * 40)
    table = '| ' + ' | '.join(['cell'] * 30) + ' |'
    code = 'python tools/train.py ' + 'x=1 ' * 30
    lines = report.reflow([prose, table, '```bash', code, '```',
                           '- ' + prose], width=50)
    assert table in lines and code in lines
    assert all(len(line) <= 50 for line in lines
               if line not in (table, code))
    item = lines[lines.index('```', lines.index('```bash') + 1) + 1:]
    assert item[0].startswith('- word') and item[1].startswith('  word')
    assert ' '.join(line.strip() for line in item) == '- ' + prose


def test_recorded_seconds_sum_every_timed_run():
    record = dict(a=dict(train=dict(wall_seconds=10.0), test=dict(
        DeepCrack=dict(wall_seconds=5.0, metrics=dict(crack_iou=50.0))),
        speed=dict(seconds_per_image=3.0)), b=[dict(seconds=1.5)],
        c=dict(train_wall_seconds=2.0, seconds='n/a'))
    assert report.recorded_seconds(record) == 10.0 + 5.0 + 1.5 + 2.0


def _recorded_study_commands(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == 'command' and str(item).startswith(
                    'python benchmarks/'):
                yield item
            else:
                yield from _recorded_study_commands(item)
    elif isinstance(value, list):
        for item in value:
            yield from _recorded_study_commands(item)


def test_recorded_study_commands_still_parse():
    """Every ``python benchmarks/<study>.py ...`` command the results
    record is one its study still accepts."""
    commands_seen = set()
    for path in glob.glob(osp.join(records.RESULTS_DIR, '*.json')):
        commands_seen |= set(_recorded_study_commands(records.load(path)))
    assert commands_seen
    for command in sorted(commands_seen):
        script, *argv = command.split()[1:]
        script_module(script).parse_args(argv)
