"""Every ``results:`` block of README and docs says what its generator
gives from the committed results JSON, and every such block has one."""
import pytest

from script_modules import harness, script_module

#: The studies whose ``report`` writes README or docs blocks (importing
#: them registers their generators; the README's own come with them).
STUDIES = ('benchmarks/deepcrack_cpu.py', 'benchmarks/crack_transfer_cpu.py',
           'benchmarks/tta_cpu.py', 'benchmarks/ready_model_cpu.py',
           'benchmarks/lipschitz_robustness_cpu.py',
           'benchmarks/site_adaptation_cpu.py')


@pytest.fixture(scope='module')
def blocks():
    for study in STUDIES:
        script_module(study)
    return harness('blocks')


def test_every_block_is_what_the_record_gives(blocks):
    stale = blocks.stale()
    assert not stale, (
        f'blocks {stale} differ from their results JSON: run the owning '
        "study's `report` (python benchmarks/<study>.py report)")


def test_every_marked_block_has_a_generator(blocks):
    unowned = {name: path for name, path in blocks.marked().items()
               if name not in blocks.BLOCKS}
    assert not unowned, f'results blocks with no generator: {unowned}'


def test_a_block_edited_by_hand_is_caught(blocks, tmp_path, monkeypatch):
    monkeypatch.setattr(blocks, 'REPO', str(tmp_path))
    monkeypatch.setattr(blocks, 'BLOCKS', {})
    monkeypatch.setattr(blocks, 'DOCUMENTS', ('*.md', ))
    doc = tmp_path / 'README.md'
    doc.write_text('intro\n<!-- results:iou -->\nold\n<!-- /results:iou -->\n'
                   '<!-- results:orphan -->\n1.0\n<!-- /results:orphan -->\n')
    blocks.register('iou', 'README.md')(lambda: '| IoU |\n|---|\n| 69.77 |')
    assert blocks.stale() == ['iou']
    blocks.write()
    assert blocks.stale() == []
    assert doc.read_text().startswith('intro\n<!-- results:iou -->\n| IoU |')
    doc.write_text(doc.read_text().replace('69.77', '69.8'))
    assert blocks.stale() == ['iou']
    assert set(blocks.marked()) - set(blocks.BLOCKS) == {'orphan'}
