"""Version windows of the OpenMMLab libraries, checked on import."""
import sys
import types

import pytest

import fcos_mm
from fcos_mm import _check_version
from fcos_mm.version import parse_version_info


def test_a_version_outside_the_window_says_what_to_install(monkeypatch):
    fake = types.ModuleType('fakemm')
    fake.__version__ = '2.2.0'
    monkeypatch.setitem(sys.modules, 'fakemm', fake)
    with pytest.raises(ImportError) as err:
        _check_version('fakemm', ('2.0.0', '2.2.0'))
    message = str(err.value)
    assert 'fakemm>=2.0.0,<2.2.0' in message
    assert 'fakemm==2.2.0 is installed' in message
    assert 'setup_env.sh' in message


def test_a_missing_library_says_what_to_install():
    with pytest.raises(ImportError, match=r'needs nosuchmm>=1\.0,<2\.0, '
                       r'which is not installed'):
        _check_version('nosuchmm', ('1.0', '2.0'))


def test_version_info():
    assert parse_version_info('0.1.0') == (0, 1, 0)
    assert parse_version_info('1.2.0rc3') == (1, 2, 0, 'rc3')
    assert fcos_mm.version_info == parse_version_info(fcos_mm.__version__)
