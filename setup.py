"""Install fcos_mm.

torch, mmcv, mmengine and mmdet are deliberately *not* in ``install_requires``:
pip would otherwise pull an unpinned torch (gigabytes of CUDA wheels on a CPU
machine) or try to compile mmcv inside an isolated build environment. Install
them first (``tools/misc/setup_env.sh`` does it, or see README.md), or ask for
the ``mim`` / ``all`` extras knowingly.
"""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    with open(osp.join(HERE, 'fcos_mm', 'version.py'), encoding='utf-8') as f:
        match = re.search(r"^__version__ = '([^']+)'", f.read(), re.M)
    if match is None:
        raise RuntimeError('fcos_mm/version.py defines no __version__')
    return match.group(1)


def parse_requirements(name: str) -> list:
    """Requirement lines of requirements/<name>.txt, comments dropped."""
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def read_readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


if __name__ == '__main__':
    setup(
        name='fcos_mm',
        version=read_version(),
        description='FCOS: fully convolutional one-stage object detection '
        'on mmengine, mmcv and mmdet',
        long_description=read_readme(),
        long_description_content_type='text/markdown',
        keywords='computer vision, object detection, FCOS',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime'),
        extras_require={
            'tests': parse_requirements('tests'),
            'deploy': parse_requirements('deploy'),
            'mim': parse_requirements('mminstall'),
            'all': (parse_requirements('runtime') +
                    parse_requirements('tests') +
                    parse_requirements('deploy') +
                    parse_requirements('mminstall')),
        },
        zip_safe=False)
