"""The FCOS detector: backbone -> neck -> :class:`FCOSHead`."""
import contextlib
import logging
from typing import Optional, Union

import torch
import torch.nn as nn
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log

from fcos_mm.registry import MODELS, fcos_mm_scope
from fcos_mm.utils.stopwatch import Stopwatch

from ..utils import (
    GT_CHECKED,
    ground_truth_checked,
    prepare_ground_truth,
)


def inference_autocast(model: nn.Module):
    """A CPU autocast context to ``model.inference_autocast`` (a no-op if
    unset), as the detector's ``predict`` and the benchmark use it."""
    dtype = getattr(model, 'inference_autocast', None)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast('cpu', dtype=dtype)


@MODELS.register_module()
class FCOS(SingleStageDetector):
    """`FCOS <https://arxiv.org/abs/1904.01355>`_, a single-stage detector.

    mmdet's :class:`SingleStageDetector` does the work, with its arguments,
    building the parts in our scope (:func:`fcos_mm_scope`).

    In training, a forward pre-hook of the data preprocessor checks the
    ground truth on the host, before the batch goes to the device
    (:func:`~fcos_mm.models.utils.prepare_ground_truth`), so that the step
    itself has no host sync; with ``compile_loss`` it also pads each image's
    boxes to a few bucket sizes, so that a new box count does not recompile.

    Args:
        compile_loss (bool or dict, optional): ``torch.compile`` the training
            forward and loss (:meth:`loss`) with these keyword arguments
            (True: none), ``fullgraph=True`` and ``dynamic=False`` unless
            given: each new batch shape (image size, box bucket) compiles
            once. Defaults to None: eager.
        cuda_graphs (bool): With ``compile_loss``, capture the compiled
            forward and backward in CUDA graphs (``mode='reduce-overhead'``);
            without CUDA, a warning and the compiled loss without graphs.
            Defaults to False.
        gt_min_bucket (int): With ``compile_loss``, the smallest padded box
            count (:func:`~fcos_mm.models.utils.gt_bucket`); above the most
            boxes of an image, one bucket for the whole data set. Defaults
            to 8.
        recompile_limit (int): With ``compile_loss``, raise Dynamo's
            (process-wide) ``recompile_limit`` to at least this many batch
            shapes; past it, new shapes run eagerly (Dynamo warns). The
            multi-scale config can make 96 batch shapes with
            ``pad_size_divisor=32``, 26 with 128 (see the README).
            Defaults to 64.
        Other arguments: as mmdet's :class:`SingleStageDetector`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 bbox_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 compile_loss: Union[bool, dict, None] = None,
                 cuda_graphs: bool = False,
                 gt_min_bucket: int = 8,
                 recompile_limit: int = 64) -> None:
        with fcos_mm_scope():
            super().__init__(backbone, neck, bbox_head, train_cfg, test_cfg,
                             data_preprocessor, init_cfg)
        self.compile_loss = compile_options(compile_loss, cuda_graphs)
        self.gt_min_bucket = gt_min_bucket
        self.recompile_limit = recompile_limit
        self._compiled_loss = None
        self.data_preprocessor.register_forward_pre_hook(
            self._prepare_batch, with_kwargs=True)

    def _prepare_batch(self, module: nn.Module, args: tuple,
                       kwargs: dict) -> None:
        """The data preprocessor's pre-hook: :func:`prepare_ground_truth`
        of a training batch that has ground truth, padded with
        ``compile_loss``."""
        data = args[0] if args else kwargs.get('data')
        training = args[1] if len(args) > 1 else kwargs.get('training')
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if training and samples and all(
                'gt_instances' in sample for sample in samples):
            prepare_ground_truth(samples, self.bbox_head.num_classes,
                                 pad_to_bucket=self.compile_loss is not None,
                                 min_bucket=self.gt_min_bucket)

    def loss(self, batch_inputs: torch.Tensor,
             batch_data_samples: SampleList) -> dict:
        """mmdet's ``loss``, compiled on the first call with
        ``compile_loss``; then on samples holding only the ground truth,
        checked and padded (here, if the data preprocessor's hook did
        not)."""
        if self.compile_loss is None:
            return super().loss(batch_inputs, batch_data_samples)
        # padded already when the data preprocessor's hook prepared them;
        # in direct use checked here (one sync) and padded
        prepare_ground_truth(
            batch_data_samples, self.bbox_head.num_classes,
            pad_to_bucket=True, min_bucket=self.gt_min_bucket,
            check=not ground_truth_checked(
                [sample.metainfo for sample in batch_data_samples]))
        # the compiled loss sees the ground truth and the flag only: each
        # metainfo value it read (img_id, flip, ...) would be a guard, and
        # a recompile whenever it changes
        loss_samples = []
        for sample in batch_data_samples:
            loss_sample = DetDataSample(metainfo={GT_CHECKED: True})
            loss_sample.gt_instances = sample.gt_instances
            loss_samples.append(loss_sample)
        first = self._compiled_loss is None
        if first:
            dynamo_config = torch._dynamo.config
            dynamo_config.recompile_limit = max(
                dynamo_config.recompile_limit, self.recompile_limit)
            self._compiled_loss = torch.compile(
                super().loss, **self.compile_loss)
            print_log(compiling_message(batch_inputs.device), 'current')
            watch = Stopwatch().start()
        if self.compile_loss.get('mode') == 'reduce-overhead':
            # a new step: the graphs' outputs of the last one (read by the
            # loggers by now) may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
        losses = self._compiled_loss(batch_inputs, loss_samples)
        if first:
            print_log(
                f'torch.compile: the forward and loss compiled in '
                f'{watch.elapsed():.0f} s (the backward compiles '
                f'when it first runs); each new batch shape (image size, box '
                f'bucket) compiles once more.', 'current')
        return losses

    def __getstate__(self) -> dict:
        """Copies and pickles leave the compiled loss behind: it is bound to
        this module, and compiles again on the copy's first use."""
        return dict(super().__getstate__(), _compiled_loss=None)

    def predict(self,
                batch_inputs: torch.Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """mmdet's ``predict``, under bf16 CPU autocast with channels_last
        input when :func:`~fcos_mm.deployment.prepare_cpu_inference` set
        ``inference_autocast`` (post-processing stays float32: the head
        casts its outputs)."""
        if getattr(self, 'inference_autocast', None) is None:
            return super().predict(batch_inputs, batch_data_samples, rescale)
        with inference_autocast(self):
            return super().predict(
                batch_inputs.contiguous(memory_format=torch.channels_last),
                batch_data_samples, rescale)


def compiling_message(device: torch.device) -> str:
    """What the first compiled step logs before it starts: that it
    compiles, and roughly for how long (a first CPU step of ~5 minutes on
    2 cores was seen in issue 26, with nothing logged meanwhile)."""
    expected = ('minutes on CPU (about 5 on 2 cores)' if device.type == 'cpu'
                else 'a minute or more on GPU')
    return (f'torch.compile (--compile / model.compile_loss): compiling the '
            f'training forward, loss and backward in the first step; expect '
            f'{expected} before the first iteration is logged.')


def compile_options(compile_loss: Union[bool, dict, None],
                    cuda_graphs: bool = False) -> Optional[dict]:
    """``torch.compile`` keyword arguments of :class:`FCOS`'s
    ``compile_loss`` and ``cuda_graphs``, or None for eager."""
    if compile_loss is None or compile_loss is False:
        if cuda_graphs:
            raise ValueError('FCOS: cuda_graphs needs compile_loss')
        return None
    # static shapes: a symbolic image size would still be specialised on
    # the assigner's window sizes, so each new size recompiles either way
    options = dict(fullgraph=True, dynamic=False)
    if isinstance(compile_loss, dict):
        options.update(compile_loss)
    elif compile_loss is not True:
        raise ValueError('FCOS: compile_loss must be a bool or a dict of '
                         f'torch.compile arguments, got {compile_loss!r}')
    if cuda_graphs and not torch.cuda.is_available():
        print_log(
            'FCOS: cuda_graphs needs CUDA, which is not available; the loss '
            'is compiled without CUDA graphs', 'current',
            level=logging.WARNING)
    elif cuda_graphs:
        options['mode'] = 'reduce-overhead'
    return options
