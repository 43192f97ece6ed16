"""The ready CPU model: the DeepCrack-trained checkpoint that a user
without a GPU starts from on real photos (its card:
``configs/cpu_benchmark/README.md``, "A ready CPU model"). Paths are
relative to the repository root."""

#: SegFormer MiT-B0 trained on DeepCrack at CPU scale: the best start for
#: a new site of the three DeepCrack-trained CPU models measured
#: (README, "What each step buys").
READY_CPU_CONFIG = \
    'configs/cpu_benchmark/segformer_mit-b0_1k_deepcrack-224x224.py'
READY_CPU_CHECKPOINT = \
    'benchmarks/results/site_adaptation_weights/segformer.pth'


def ready_model_command(photos: str = 'YOUR_PHOTOS/',
                        out_dir: str = 'work_dirs/my_photos') -> str:
    """The command that runs the ready CPU model on a folder of photos and
    writes the inspection report (``OUT_DIR/index.html``).

    Args:
        photos (str): The folder of photos, as written in the command.
            Defaults to ``'YOUR_PHOTOS/'``.
        out_dir (str): The output folder. Defaults to
            ``'work_dirs/my_photos'``.

    Returns:
        str: The ``python tools/infer.py ...`` command line, run from the
        repository root.
    """
    return (f'python tools/infer.py {READY_CPU_CONFIG} '
            f'{READY_CPU_CHECKPOINT} {photos} --out-dir {out_dir}')
