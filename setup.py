from setuptools import find_packages, setup


def read_version():
    namespace = {}
    with open('crackdino_mm/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='crackdino_mm',
    version=read_version(),
    description='DINOv2 dual-teacher distillation for crack segmentation, '
    'as an MMSegmentation plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='MIT',
    packages=find_packages(include=['crackdino_mm', 'crackdino_mm.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'torchvision>=0.16',
        'onedl-mmengine>=0.10.12,<0.11',
        'onedl-mmcv>=2.3.6,<2.4',
        'onedl-mmsegmentation>=1.4.2,<1.5',
        'onedl-mmpretrain>=1.3.6,<1.4',
        'opencv-python-headless>=4.8',
        'numpy>=1.24',
        'pillow>=9',
        'prettytable>=3.0',
        'tqdm>=4.60',
    ],
    extras_require={
        'tests': ['pytest>=7', 'scipy>=1.10', 'pyyaml>=6'],
        'export': ['onnx>=1.15', 'onnxruntime>=1.17'],
        'analysis': ['seaborn>=0.12'],
        'benchmarks': ['matplotlib>=3.5', 'scipy>=1.10'],
    },
)
