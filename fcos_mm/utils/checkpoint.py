"""Safe checkpoint loading under torch's ``weights_only`` unpickler.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
numpy arrays and :class:`~mmengine.logging.HistoryBuffer` objects that
mmengine 0.10's Runner saves, so a checkpoint just trained could not be
tested or resumed. Falling back to ``weights_only=False`` would let a
downloaded ``.pth`` run arbitrary code. Instead we load with
``weights_only=True`` plus an allow-list, :func:`safe_globals`: numpy's
array / scalar / dtype reconstructors, HistoryBuffer, and a ``getattr`` that
serves only HistoryBuffer's statistics. Anything else is refused with an
:class:`UnsafeCheckpointError` naming the file and the globals it wanted (a
user who trusts the file can allow their types with
``torch.serialization.add_safe_globals``).

Nothing here runs on import: the tools, ``register_all_modules`` and
``init_detector`` call :func:`register_safe_checkpoint_loader`.
"""
import contextlib
import os
import os.path as osp
import pickle
from typing import IO, Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.runner.checkpoint import CheckpointLoader

MapLocation = Optional[Union[str, torch.device, Callable]]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asked to unpickle a global outside the allow-list."""


def _numpy_globals() -> List[Any]:
    """numpy objects a pickled array, scalar or dtype refers to."""
    found = [np.ndarray, np.dtype]
    # numpy 2 moved numpy.core to numpy._core; pickles name either module.
    for name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            module = __import__(name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        found += [module._reconstruct, module.scalar]
    # Each dtype has its own class (numpy.dtypes.Float64DType, ...), which a
    # pickled dtype names since numpy 1.25.
    found += sorted(
        {type(np.dtype(scalar)) for scalar in np.sctypeDict.values()},
        key=lambda dtype_class: dtype_class.__name__)
    return found


_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``builtins.getattr`` while unpickling, serving only HistoryBuffer's
    statistics (pickled as ``getattr(HistoryBuffer, 'min')``): a general
    ``getattr`` would let a pickle walk to anything (``__subclasses__`` and
    on to ``os.system``)."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not on the allow-list: only '
        f'HistoryBuffer statistics {_HISTORY_BUFFER_STATISTICS} are.')


def safe_globals() -> List[Any]:
    """The allow-list of globals our checkpoints may unpickle.

    Entries are classes/functions, or ``(stand-in, 'module.name')`` pairs
    that torch's unpickler serves under that name.
    """
    from mmengine.logging import HistoryBuffer
    return _numpy_globals() + [
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')
    ]


def _allow_list() -> List[Any]:
    """:func:`safe_globals` less the ``(stand-in, name)`` pairs before torch
    2.6, which cannot register them."""
    from packaging.version import parse
    entries = safe_globals()
    if parse(torch.__version__).release < (2, 6):
        entries = [entry for entry in entries if not isinstance(entry, tuple)]
    return entries


def _unsafe_globals_in(f: Union[str, IO[bytes]]) -> List[str]:
    """Names of the globals in checkpoint ``f`` that the allow-list lacks."""
    allowed = {
        entry[1] if isinstance(entry, tuple) else
        f'{entry.__module__}.{entry.__qualname__}' for entry in safe_globals()
    }
    try:
        wanted = torch.serialization.get_unsafe_globals_in_checkpoint(f)
    except Exception:  # an old (non-zip) format: the error says enough
        return []
    return [name for name in wanted if name not in allowed]


def _reason(error: Exception) -> str:
    """The part of torch's long weights_only message that says why."""
    text = str(error).split('WeightsUnpickler error:', 1)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _torch_load(f: Union[str, IO[bytes]], name: str,
                map_location: MapLocation) -> Any:
    """``torch.load(f, weights_only=True)`` with our allow-list (torch >=
    2.5; before, it is torch's own once registered); errors name the file."""
    allow = getattr(torch.serialization, 'safe_globals', None)
    try:
        with allow(_allow_list()) if allow else contextlib.nullcontext():
            return torch.load(f, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        if hasattr(f, 'seek'):
            f.seek(0)
        names = _unsafe_globals_in(f)
        refused = names or 'Unsupported global' in str(e) or (
            'not on the allow-list' in str(e))
        if not refused:
            raise ValueError(
                f'{name} is not a readable torch checkpoint ({_reason(e)}): '
                f'is it corrupt, truncated, or not a .pth file (e.g. an '
                f'HTML error page saved by a failed download)?') from e
        listed = ', '.join(names) if names else _reason(e)
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: it asks to unpickle '
            f'Python objects outside the allow-list of safe globals '
            f'({listed}). Loading it could run arbitrary code. If you made '
            f'this file and trust it, allow just those types with '
            f'torch.serialization.add_safe_globals([...]).') from e
    except RuntimeError as e:
        # torch's zip reader: "PytorchStreamReader failed reading zip ..."
        if 'PytorchStreamReader' not in str(e):
            raise
        raise ValueError(f'{name} is not a readable torch checkpoint '
                         f'(corrupt or truncated): {e}') from e


def load_safely(path: str, map_location: MapLocation = None) -> Any:
    """``torch.load`` a file with ``weights_only=True`` and our allow-list.

    Args:
        path (str): A local checkpoint file.
        map_location: As for :func:`torch.load`.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        UnsafeCheckpointError: The pickle references a global that is not
            allowed. Nothing from the file has been executed.
        ValueError: The file is not a readable torch checkpoint.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint file {path} can not be found.')
    return _torch_load(path, path, map_location)


def load_from_local(filename: str, map_location: MapLocation = None) -> Any:
    """:func:`load_safely`, registered under this name because mmengine logs
    a loader by its name past ``load_from_`` ("Loads checkpoint by local
    backend"; ``load_safely`` read "by y backend")."""
    return load_safely(filename, map_location)


def load_from_http(filename: str, map_location: MapLocation = None) -> Any:
    """Download once into the torch hub cache, then :func:`load_safely`.

    In a distributed run the first process of each node downloads while the
    others wait; a process that still finds no file (a node-local cache on
    another node) downloads it itself.
    """
    from urllib.parse import urlparse

    from mmengine.dist import barrier, get_dist_info, get_local_rank
    model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))

    def fetch() -> None:
        if not osp.exists(cached):
            os.makedirs(model_dir, exist_ok=True)
            torch.hub.download_url_to_file(filename, cached, progress=True)

    if get_local_rank() == 0:
        fetch()
    if get_dist_info()[1] > 1:
        barrier()
    fetch()
    return load_safely(cached, map_location)


def load_from_openmmlab(filename: str,
                        map_location: MapLocation = None) -> Any:
    """Resolve ``open-mmlab://NAME`` as mmengine does, then load safely."""
    from mmengine.runner.checkpoint import (
        _get_mmengine_home,
        get_deprecated_model_names,
        get_external_models,
    )
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    url = get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    return load_safely(osp.join(_get_mmengine_home(), url), map_location)


def load_from_torchvision(filename: str,
                          map_location: MapLocation = None) -> Any:
    """Resolve ``torchvision://NAME`` (or ``modelzoo://``), load safely."""
    from mmengine.runner.checkpoint import get_torchvision_models
    url = get_torchvision_models()[filename.split('://', 1)[1]]
    return load_from_http(url, map_location)


def load_from_mmcls(filename: str, map_location: MapLocation = None) -> Any:
    """Resolve ``mmcls://NAME`` as mmengine does, then load safely."""
    from mmengine.runner.checkpoint import (
        _process_mmcls_checkpoint,
        get_mmcls_models,
    )
    url = get_mmcls_models()[filename.split('://', 1)[1]]
    return _process_mmcls_checkpoint(load_from_http(url, map_location))


def load_from_ceph(filename: str, map_location: MapLocation = None) -> Any:
    """Read ``s3://`` / ``petrel://`` bytes, then unpickle them safely."""
    import io

    from mmengine.fileio import get_file_backend
    backend = get_file_backend(filename, backend_args=dict(backend='petrel'))
    with io.BytesIO(backend.get(filename)) as buffer:
        return _torch_load(buffer, filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Add the allow-list to torch's own and route mmengine's checkpoint
    loaders through the safe ones above.

    This covers ``load_checkpoint``, ``Runner.load_checkpoint``,
    ``Runner.resume`` and ``init_cfg=dict(type='Pretrained')`` for every
    scheme but ``pavi://``. On torch 2.4 / 2.5, which cannot register the
    getattr stand-in, Runner checkpoints are refused with a clear message.
    """
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(_allow_list())
    for prefixes, loader in (
        ('', load_from_local),
        (('http://', 'https://'), load_from_http),
        (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
        (('modelzoo://', 'torchvision://'), load_from_torchvision),
        ('mmcls://', load_from_mmcls),
        ((r'(\S+\:)?s3://', r'(\S+\:)?petrel://'), load_from_ceph),
    ):
        CheckpointLoader.register_scheme(prefixes, loader=loader, force=True)


# -- a checkpoint of another class count ----------------------------------
CLASSIFIER_NAMES = ('conv_cls', 'fc_cls')


def _unwrapped_key(key: str) -> str:
    """``key`` as the model names it (mmengine strips ``module.`` when it
    loads)."""
    return key[len('module.'):] if key.startswith('module.') else key


def mismatched_weights(state_dict: dict,
                       model: torch.nn.Module) -> List[Tuple[str, tuple,
                                                             tuple]]:
    """``(key in state_dict, checkpoint shape, model shape)`` of each tensor
    whose shape differs from the model's tensor of that name."""
    own = model.state_dict()
    found = []
    for key, value in state_dict.items():
        target = own.get(_unwrapped_key(key))
        if (isinstance(value, torch.Tensor) and target is not None
                and tuple(value.shape) != tuple(target.shape)):
            found.append((key, tuple(value.shape), tuple(target.shape)))
    return found


def class_counts(mismatched: List[Tuple[str, tuple, tuple]],
                 model: torch.nn.Module) -> Optional[Tuple[str, int, int]]:
    """``(config key, classes of the checkpoint, classes of the model)``
    when one of ``mismatched`` is a head's classifier (``conv_cls``,
    ``fc_cls``; a softmax head's background output counted out), else
    None."""
    modules = dict(model.named_modules())
    for key, saved, wanted in mismatched:
        parts = _unwrapped_key(key).split('.')
        if len(parts) < 3 or parts[-2] not in CLASSIFIER_NAMES:
            continue
        head_name = '.'.join(parts[:-2])
        head = modules.get(head_name)
        num_classes = getattr(head, 'num_classes', None)
        if num_classes is None:
            continue
        extra = wanted[0] - num_classes  # 1 for a softmax background
        return (f'model.{head_name}.num_classes', saved[0] - extra,
                num_classes)
    return None


def _state_dict_of(checkpoint: dict) -> dict:
    return checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else {}


def check_checkpoint_classes(checkpoint: dict, model: torch.nn.Module,
                             filename: str) -> None:
    """Raise when ``checkpoint`` was trained for another number of classes
    than ``model`` predicts (testing and inference: the classifier would be
    left random and every score meaningless).

    Raises:
        ValueError: Naming both counts, the layer and the fix.
    """
    mismatched = mismatched_weights(_state_dict_of(checkpoint), model)
    counts = class_counts(mismatched, model)
    if counts is None:
        return
    key, saved, wanted = counts
    layers = ', '.join(_unwrapped_key(name) for name, _, _ in mismatched)
    raise ValueError(
        f'Checkpoint {filename} was trained for {saved} classes, but the '
        f'config\'s {key} is {wanted} ({layers}: shapes '
        f'{", ".join(str(s) for _, s, _ in mismatched)} in the checkpoint, '
        f'{", ".join(str(s) for _, _, s in mismatched)} in the model): its '
        f'classifier would stay random and every score be meaningless. Use '
        f'the config the checkpoint was trained with (or --cfg-options '
        f'{key}={saved} and that many classes), or fine-tune it on your '
        f'classes first: tools/train.py CONFIG --cfg-options '
        f'load_from={filename}.')


def reinit_mismatched_weights(checkpoint: dict, model: torch.nn.Module,
                              filename: str) -> Optional[str]:
    """For fine-tuning (``load_from``): replace each tensor of
    ``checkpoint`` whose shape differs from ``model``'s by the model's own,
    initialised one, so the load leaves those layers as initialised with no
    "size mismatch" print; returns the one log line saying which and why
    (None when nothing differs)."""
    state_dict = _state_dict_of(checkpoint)
    mismatched = mismatched_weights(state_dict, model)
    if not mismatched:
        return None
    own = model.state_dict()
    for key, _, _ in mismatched:
        state_dict[key] = own[_unwrapped_key(key)].detach().clone()
    counts = class_counts(mismatched, model)
    why = (f'the checkpoint has {counts[1]} classes, this config '
           f'{counts[2]} ({counts[0]})' if counts else 'their shapes differ')
    layers = ', '.join(
        f'{_unwrapped_key(key)} {saved} -> {wanted}'
        for key, saved, wanted in mismatched)
    return (f'load_from {filename}: re-initialised {len(mismatched)} '
            f'tensor(s) whose shape differs from the model\'s, because {why}: '
            f'{layers}. They start from their initialisation and are trained '
            f'from scratch; everything else is loaded.')


# -- checks before saving ------------------------------------------------
def nonfinite_tensors(state: Any, prefix: str = '') -> List[str]:
    """The dotted names of the floating-point tensors in a (nested) state
    that hold NaN or inf; one host read for all of them."""
    names, tensors = [], []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() or value.is_complex():
                names.append(name)
                tensors.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f'{name}.{key}' if name else str(key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f'{name}.{index}' if name else str(index))

    walk(state, prefix)
    if not tensors:
        return []
    finite = torch.stack(
        [torch.isfinite(t).all().to('cpu') for t in tensors]).tolist()
    return [name for name, ok in zip(names, finite) if not ok]


def describe_nonfinite(names: List[str], limit: int = 5) -> str:
    """``a, b, c and 7 more``."""
    shown = ', '.join(names[:limit])
    more = len(names) - limit
    return f'{shown} and {more} more' if more > 0 else shown
