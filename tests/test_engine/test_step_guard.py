"""The step guard of our optimizer wrappers: a step with a non-finite loss or
gradient leaves weights, optimizer state and BatchNorm statistics
bit-identical; a healthy step is bit-identical to mmengine's wrapper; no
host sync is added."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper as MMEngineOptimWrapper

from fcos_mm.benchmarks import count_ops
from fcos_mm.engine.optim_wrappers import (
    RECORD_FIELDS,
    AmpOptimWrapper,
    AutocastOptimWrapper,
    OptimWrapper,
    guard_narrow_strided_convs,
    pack_record,
    unpack_records,
)
from fcos_mm.engine.optim_wrappers.step_guard import first_true, grad_norms


class TinyNet(nn.Module):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.cls = nn.Linear(8, 4)
        self.reg = nn.Linear(8, 2)

    def forward(self, x):
        feat = self.bn(self.conv(x)).relu().mean((2, 3))
        return self.cls(feat), self.reg(feat)


def batch(seed):
    return torch.randn(4, 3, 6, 6,
                       generator=torch.Generator().manual_seed(seed))


def losses(model, x, poison=None):
    """Two loss terms; ``poison`` ('nan'/'inf') makes the second
    non-finite."""
    cls, reg = model(x)
    terms = dict(loss_cls=cls.pow(2).mean(), loss_bbox=reg.abs().mean())
    if poison is not None:
        terms['loss_bbox'] = terms['loss_bbox'] * float(poison)
    return terms


def make(wrapper_type=OptimWrapper, guard=True, fused=False, **kwargs):
    model = TinyNet()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
        fused=fused)
    wrapper = wrapper_type(optimizer=optimizer, **kwargs)
    if guard:
        wrapper.enable_step_guard()
    return model, wrapper


def train_step(model, wrapper, x, poison=None, grad_hook=None):
    with wrapper.optim_context(model):
        terms = losses(model, x, poison)
    handle = grad_hook() if grad_hook else None
    wrapper.update_params(sum(terms.values()))
    if handle is not None:
        handle.remove()
    return terms


def state_of(model, wrapper):
    """Everything a step may change, cloned bit for bit."""
    state = {f'p.{k}': v.detach().clone() for k, v in model.state_dict(
    ).items()}
    for index, (param, s) in enumerate(wrapper.optimizer.state.items()):
        for key, value in s.items():
            state[f'o.{index}.{key}'] = value.clone()
    return state


def assert_bit_identical(before, after):
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key].view(torch.uint8)
                           if before[key].is_floating_point() else
                           before[key], after[key].view(torch.uint8)
                           if after[key].is_floating_point() else
                           after[key]), key


def record(wrapper):
    [values] = unpack_records(wrapper.last_step_record['values'].tolist())
    return values


def test_records_are_packed_and_read_by_name():
    first = dict(loss_scale=1024.0, overflow=False, grad_norm=2.5,
                 first_nonfinite=-1, loss_nonfinite=torch.tensor(False),
                 skipped=torch.tensor(True))
    second = dict(first, grad_norm=float('inf'), first_nonfinite=3)
    packed = [pack_record(torch.device('cpu'), **fields)
              for fields in (first, second)]
    assert packed[0].dtype == torch.float64
    assert packed[0].shape == (len(RECORD_FIELDS), )
    rows = unpack_records(torch.cat(packed).tolist())
    assert rows == [
        dict(skipped=1.0, loss_nonfinite=0.0, grad_norm=2.5,
             first_nonfinite=-1.0, overflow=0.0, loss_scale=1024.0),
        dict(skipped=1.0, loss_nonfinite=0.0, grad_norm=float('inf'),
             first_nonfinite=3.0, overflow=0.0, loss_scale=1024.0)]
    with pytest.raises(ValueError, match='has the fields'):
        pack_record(torch.device('cpu'), skipped=True)
    with pytest.raises(ValueError, match='not whole records'):
        unpack_records([0.0] * (len(RECORD_FIELDS) + 1))


CLIPS = [None, dict(max_norm=0.5), dict(max_norm=0.5, norm_type=1),
         dict(type='value', clip_value=0.01)]


@pytest.mark.parametrize('clip_grad', CLIPS)
def test_healthy_steps_equal_mmengine_bit_for_bit(clip_grad):
    model, ours = make(clip_grad=copy.deepcopy(clip_grad))
    ref_model = TinyNet()
    ref = MMEngineOptimWrapper(
        optimizer=torch.optim.SGD(
            ref_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4),
        clip_grad=copy.deepcopy(clip_grad))
    for seed in range(3):
        train_step(model, ours, batch(seed))
        train_step(ref_model, ref, batch(seed))
        assert_bit_identical(state_of(ref_model, ref), state_of(model, ours))
        assert record(ours)['skipped'] == 0


@pytest.mark.parametrize('wrapper_type', [OptimWrapper, AutocastOptimWrapper])
@pytest.mark.parametrize('poison', ['nan', 'inf'])
def test_nonfinite_loss_term_leaves_everything_bit_identical(
        wrapper_type, poison):
    model, wrapper = make(wrapper_type, clip_grad=dict(max_norm=1.0))
    for seed in range(2):
        train_step(model, wrapper, batch(seed))
    before = state_of(model, wrapper)
    terms = train_step(model, wrapper, batch(2), poison=poison)
    assert not torch.isfinite(terms['loss_bbox'])
    assert_bit_identical(before, state_of(model, wrapper))
    rec = record(wrapper)
    assert rec['skipped'] == 1 and rec['loss_nonfinite'] == 1
    assert rec['overflow'] == 0
    # The run goes on: the next healthy step updates the weights again.
    train_step(model, wrapper, batch(3))
    assert record(wrapper)['skipped'] == 0
    assert not torch.equal(before['p.cls.weight'], model.cls.weight)


@pytest.mark.parametrize('wrapper_type', [OptimWrapper, AutocastOptimWrapper])
def test_nonfinite_gradient_of_one_parameter_is_named(wrapper_type):
    model, wrapper = make(wrapper_type)
    train_step(model, wrapper, batch(0))
    before = state_of(model, wrapper)

    def poison_reg_bias():
        return model.reg.bias.register_hook(
            lambda grad: grad * float('nan'))

    terms = train_step(model, wrapper, batch(1), grad_hook=poison_reg_bias)
    assert all(torch.isfinite(v) for v in terms.values())
    assert_bit_identical(before, state_of(model, wrapper))
    rec = record(wrapper)
    assert rec['skipped'] == 1 and rec['loss_nonfinite'] == 0
    assert rec['grad_norm'] != rec['grad_norm']  # NaN
    params = wrapper.last_step_record['params']
    assert params[int(rec['first_nonfinite'])] is model.reg.bias


@pytest.mark.parametrize('fused', [False, True])
def test_a_skipped_first_step_creates_no_optimizer_state(fused):
    model, wrapper = make(fused=fused)
    reference, ref_wrapper = make(fused=fused, guard=False)
    before = state_of(model, wrapper)
    train_step(model, wrapper, batch(0), poison='nan')
    assert len(wrapper.optimizer.state) == 0
    assert_bit_identical(before, state_of(model, wrapper))
    # ... so the next step is the first one, as in an unguarded run.
    train_step(model, wrapper, batch(1))
    train_step(reference, ref_wrapper, batch(1))
    assert_bit_identical(state_of(reference, ref_wrapper),
                         state_of(model, wrapper))


def test_fused_optimizer_skips_through_found_inf():
    model, wrapper = make(fused=True)
    train_step(model, wrapper, batch(0))
    before = state_of(model, wrapper)
    train_step(model, wrapper, batch(1), poison='inf')
    assert_bit_identical(before, state_of(model, wrapper))
    assert not hasattr(wrapper.optimizer, 'found_inf')


def test_batchnorm_statistics_of_a_skipped_step_are_restored():
    model, wrapper = make()
    train_step(model, wrapper, batch(0))
    mean = model.bn.running_mean.clone()
    # A NaN input poisons the forward's batch statistics as well.
    x = batch(1)
    x[0, 0, 0, 0] = float('nan')
    train_step(model, wrapper, x)
    assert torch.equal(model.bn.running_mean, mean)
    assert int(model.bn.num_batches_tracked) == 1
    assert record(wrapper)['skipped'] == 1


def test_guard_off_is_the_plain_wrapper():
    model, wrapper = make(guard=False)
    train_step(model, wrapper, batch(0), poison='nan')
    assert wrapper.last_step_record is None
    assert not torch.isfinite(model.reg.weight).all()


def test_grad_norms_match_torch_and_name_the_first_bad_one():
    grads = [torch.randn(3), torch.randn(2, dtype=torch.float64),
             torch.randn(4)]
    per, total = grad_norms(grads)
    assert torch.equal(total, torch.nn.utils.get_total_norm(grads))
    for g, n in zip(grads, per):
        assert torch.allclose(n, torch.linalg.vector_norm(g).to(n))
    grads[2][1] = float('inf')
    per, _ = grad_norms(grads)
    assert int(first_true(~torch.isfinite(per))) == 2
    assert int(first_true(torch.zeros(3, dtype=torch.bool))) == -1
    assert int(first_true(torch.zeros(0, dtype=torch.bool))) == -1


def test_gradient_accumulation_keeps_the_loss_flag_until_the_step():
    model, wrapper = make(accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    train_step(model, wrapper, batch(0))
    train_step(model, wrapper, batch(1))
    before = state_of(model, wrapper)
    train_step(model, wrapper, batch(2), poison='nan')  # no step yet
    train_step(model, wrapper, batch(3))  # the step: skipped
    assert_bit_identical(before, state_of(model, wrapper))
    assert record(wrapper)['loss_nonfinite'] == 1


def test_the_guard_adds_no_host_sync():
    """torch.profiler counts .item()/bool()/nonzero; the guarded step has
    no more of them than the unguarded one (a sync only on the step that
    creates optimizer state, so both are measured after it)."""
    counts = {}
    for guard in (False, True):
        model, wrapper = make(guard=guard, clip_grad=dict(max_norm=1.0))
        train_step(model, wrapper, batch(0))

        def step():
            train_step(model, wrapper, batch(1))

        counts[guard] = count_ops(step)['syncs']
    # mmengine's clip pushes float(grad_norm) every step; ours does not.
    assert counts[True] <= counts[False]
    assert counts[True] == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_amp_fp16_nonfinite_loss_is_skipped_on_cuda():
    model = TinyNet().cuda()
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        loss_scale='dynamic')
    wrapper.enable_step_guard()
    x = batch(0).cuda()
    train_step(model, wrapper, x)
    before = state_of(model, wrapper)
    train_step(model, wrapper, batch(1).cuda(), poison='nan')
    assert_bit_identical(before, state_of(model, wrapper))
    rec = record(wrapper)
    assert rec['skipped'] == 1 and rec['loss_nonfinite'] == 1


def test_narrow_strided_convs_run_in_float32_under_cpu_autocast():
    conv = nn.Conv2d(4, 4, 3, stride=2, padding=1)
    plain = nn.Conv2d(4, 4, 3, padding=1)
    holder = nn.Sequential(conv, plain)
    assert guard_narrow_strided_convs(holder) == 1
    assert guard_narrow_strided_convs(holder) == 1  # no second hook
    assert len(conv._forward_pre_hooks) == 1
    with torch.autocast('cpu', dtype=torch.bfloat16):
        narrow = conv(torch.randn(1, 4, 1, 1))
        wide = conv(torch.randn(1, 4, 4, 4))
        after = torch.mm(torch.randn(2, 2), torch.randn(2, 2))
    assert narrow.dtype == torch.float32
    assert wide.dtype == torch.bfloat16
    assert after.dtype == torch.bfloat16  # autocast is back on
    # Outside autocast nothing changes.
    assert conv(torch.randn(1, 4, 1, 1)).dtype == torch.float32
    # Gradients of the narrow case are finite (the torch bug left garbage
    # in the padding taps on AVX512-BF16 / AMX CPUs).
    for _ in range(20):
        junk = [torch.full((4096, 64), float('nan')) for _ in range(4)]
        del junk
        conv.zero_grad()
        x = torch.randn(2, 4, 1, 1, requires_grad=True)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            y = conv(x)
        y.float().sum().backward()
        assert torch.isfinite(conv.weight.grad).all()
