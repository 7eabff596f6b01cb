"""Before the model is built: can the pretrained weights a run names be had?

mmengine fetches ``init_cfg=dict(type='Pretrained', checkpoint=...)`` while
it initialises the model, and ``load_from`` after that. Offline, either dies
with a raw ``URLError: Name or service not known``, naming no URL, after the
model was built; and the backbone's ImageNet ``init_cfg`` is fetched even
when ``load_from`` (fine-tuning) replaces those weights right after.

:func:`check_pretrained_sources` finds every remote checkpoint of a config
(:func:`pretrained_sources`: ``http(s)://`` URLs and the ``open-mmlab://``,
``torchvision://``, ``mmcls://`` names mmengine resolves to URLs), and for
each one not already in torch's hub cache (where our loader,
:func:`fcos_mm.utils.checkpoint.load_from_http`, reads and writes it)
opens one TCP connection to its host, with a timeout. If that fails it
raises :class:`PretrainedUnavailableError` naming the config key, the URL,
the cache path and the offline fixes, in the form the user can type.
Nothing is downloaded here. Behind an HTTP(S) proxy (``https_proxy`` and
the like set) the host is not probed: the proxy decides.
"""
import os
import os.path as osp
import socket
import threading
from typing import Any, List, Optional, Tuple
from urllib.parse import urlparse

import torch

from .errors import TrainingStopped

#: Checkpoint names that mmengine fetches over the network.
REMOTE_PREFIXES = ('http://', 'https://', 'open-mmlab://', 'openmmlab://',
                   'torchvision://', 'modelzoo://', 'mmcls://')
#: Seconds to wait for the host to answer.
PROBE_TIMEOUT = 5.0
_PROXY_VARIABLES = ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY',
                    'all_proxy', 'ALL_PROXY')


class PretrainedUnavailableError(TrainingStopped):
    """A remote checkpoint the config names can neither be found in the
    cache nor reached; ``str(error)`` names it and the fix."""


def _init_cfgs(node: Any, key: str) -> List[Tuple[str, Any]]:
    """``(config key, init_cfg)`` of every ``init_cfg`` under ``node``."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            child = f'{key}.{name}'
            if name == 'init_cfg':
                configs = value if isinstance(value, (list, tuple)) else [
                    value
                ]
                for index, init_cfg in enumerate(configs):
                    where = child if len(configs) == 1 else f'{child}.{index}'
                    found.append((where, init_cfg))
            else:
                found += _init_cfgs(value, child)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found += _init_cfgs(value, f'{key}.{index}')
    return found


def pretrained_sources(cfg, init_cfgs: bool = True) -> List[Tuple[str, str]]:
    """``(config key, checkpoint)`` of the remote checkpoints a run loads.

    Args:
        cfg (Config or dict): The config, tool options applied.
        init_cfgs (bool): Also ``Pretrained`` ``init_cfg`` s of the model
            (training initialises the model; testing only loads
            ``load_from``). Defaults to True.

    Returns:
        list[tuple[str, str]]: e.g. ``('model.backbone.init_cfg',
        'open-mmlab://detectron/resnet50_caffe')``, ``('load_from',
        'https://...')``; local files are left out.
    """
    sources = []
    if init_cfgs:
        for key, init_cfg in _init_cfgs(cfg.get('model') or {}, 'model'):
            if (isinstance(init_cfg, dict)
                    and init_cfg.get('type') == 'Pretrained'
                    and isinstance(init_cfg.get('checkpoint'), str)):
                sources.append((key, init_cfg['checkpoint']))
    load_from = cfg.get('load_from')
    if isinstance(load_from, str):
        sources.append(('load_from', load_from))
    return [(key, name) for key, name in sources
            if name.startswith(REMOTE_PREFIXES)]


def resolve_url(name: str) -> str:
    """The URL mmengine downloads for a checkpoint name (its own tables for
    ``open-mmlab://``, ``torchvision://``, ``mmcls://``).

    Raises:
        KeyError: mmengine knows no model of that name.
        ImportError: A ``torchvision://`` name without torchvision, which
            mmengine needs to load it.
    """
    from mmengine.runner.checkpoint import (
        get_deprecated_model_names,
        get_external_models,
        get_mmcls_models,
        get_torchvision_models,
    )
    scheme, _, model = name.partition('://')
    if scheme in ('http', 'https'):
        return name
    if scheme in ('open-mmlab', 'openmmlab'):
        model = get_deprecated_model_names().get(model, model)
        table = get_external_models()
    elif scheme in ('torchvision', 'modelzoo'):
        try:
            table = get_torchvision_models()
        except ImportError as e:
            raise ImportError(
                f'{name}: mmengine loads torchvision:// names through '
                f'torchvision, which is not installed ({e}).') from e
    else:
        table = get_mmcls_models()
    if model not in table:
        raise KeyError(f'{name}: mmengine knows no {scheme}:// model named '
                       f'{model!r}.')
    return table[model]


def hub_cache_path(url: str) -> str:
    """Where our loader caches ``url``: ``<torch hub dir>/checkpoints/<file
    name>``, as :func:`fcos_mm.utils.checkpoint.load_from_http`."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(urlparse(url).path))


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> Optional[str]:
    """Why ``url``'s host cannot be reached (name resolution or a TCP
    connection within ``timeout`` seconds), or None when it answers or a
    proxy is configured. Sends nothing over the connection."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return None
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == 'https' else 80)
    outcome = {}

    def connect() -> None:
        try:
            socket.create_connection((parsed.hostname, port),
                                     timeout=timeout).close()
        except OSError as e:
            outcome['error'] = f'{type(e).__name__}: {e}'

    # name resolution has no timeout of its own: wait for it in a thread
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if thread.is_alive():
        return f'no answer from {parsed.hostname} in {timeout:g} s'
    return outcome.get('error')


def _offline_fix(key: str, url: str, cached: str, fine_tuning: bool) -> str:
    """What to type when ``url`` (of config ``key``) cannot be fetched."""
    option = key if key == 'load_from' else f'{key}.checkpoint'
    fix = (f'download {url} on a machine with internet and copy it to '
           f'{cached}, or pass the local file: --cfg-options '
           f'{option}=/path/to/{osp.basename(cached)}')
    if key != 'load_from' and fine_tuning:
        fix += (f'; or, since load_from replaces these weights anyway, skip '
                f'them: --cfg-options {key}=None (in a child config: '
                f'{_child_config_line(key, "None")})')
    return fix


def _child_config_line(key: str, value: str) -> str:
    """``model.backbone.init_cfg`` -> ``model = dict(backbone=dict(
    init_cfg=None))``; list indices are left to the user."""
    top, *rest = key.split('.')
    text = value
    for name in reversed(rest):
        text = f'dict({name}={text})'
    return f'{top} = {text}'


def check_pretrained_sources(cfg,
                             init_cfgs: bool = True,
                             timeout: float = PROBE_TIMEOUT) -> List[str]:
    """Fail now if a remote checkpoint of ``cfg`` cannot be had.

    Each of :func:`pretrained_sources` is resolved to its URL; one already
    in torch's hub cache is fine, another is probed (:func:`probe`).

    Args:
        cfg (Config or dict): The config, tool options applied.
        init_cfgs (bool): Check ``Pretrained`` ``init_cfg`` s too.
        timeout (float): Seconds to wait for each host.

    Returns:
        list[str]: The URLs checked.

    Raises:
        PretrainedUnavailableError: One cannot be reached nor is cached; the
            message names the key, the URL, the cache path and the fixes.
    """
    fine_tuning = bool(cfg.get('load_from'))
    checked = []
    for key, name in pretrained_sources(cfg, init_cfgs):
        option = key if key == 'load_from' else f'{key}.checkpoint'
        try:
            url = resolve_url(name)
        except (KeyError, ImportError) as e:
            fix = ('Fix the name' if isinstance(e, KeyError) else
                   'Install torchvision')
            raise PretrainedUnavailableError(
                f'{key}: {e.args[0]} {fix}, or pass a local '
                f'file: --cfg-options {option}=/path/to/file.pth') from e
        cached = hub_cache_path(url)
        checked.append(url)
        if osp.isfile(cached):
            continue
        reason = probe(url, timeout)
        if reason is None:
            continue
        shown = name if name == url else f'{name!r} ({url})'
        raise PretrainedUnavailableError(
            f'{key} = {shown} cannot be downloaded ({reason}) and is not in '
            f"torch's hub cache ({cached}). Offline: "
            f'{_offline_fix(key, url, cached, fine_tuning)}.')
    return checked
