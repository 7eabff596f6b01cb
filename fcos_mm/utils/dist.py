"""Start a distributed run on GPUs (NCCL) or on CPUs only (gloo).

mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails on a
CPU-only torch, and its Runner wraps the model in DDP with
``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module. So
:func:`init_dist_env` defers to mmengine only where CUDA is available; without
it, it initialises a gloo group from what the launcher left in the
environment (:func:`launcher_env`), and the Runner, finding a group, skips its
own ``init_dist``. :func:`cpu_model_wrapper_cfg` is the DDP config without
``device_ids`` for that case.
"""
import os
import subprocess
from datetime import timedelta
from typing import Dict, Mapping, Optional

import torch
import torch.distributed as torch_dist

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
DEFAULT_PORT = '29500'
# (rank, local rank, world size) variables that srun and OpenMPI set
_RANK_VARIABLES = dict(
    slurm=('SLURM_PROCID', 'SLURM_LOCALID', 'SLURM_NTASKS'),
    mpi=('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK',
         'OMPI_COMM_WORLD_SIZE'))


def _unknown_launcher(launcher: str) -> ValueError:
    return ValueError(f'Unknown launcher {launcher!r}; expected one of '
                      f'{", ".join(LAUNCHERS)}.')


def _require(env: Mapping[str, str], launcher: str, *names: str) -> None:
    missing = [name for name in names if name not in env]
    if missing:
        raise KeyError(
            f'--launcher {launcher} needs the environment variable(s) '
            f'{", ".join(missing)}, which the launcher did not set. Start '
            f'the job with tools/dist_train.sh (torchrun), '
            f'tools/slurm_train.sh (srun) or mpirun, or use --launcher none.')


def _first_slurm_host(node_list: str) -> str:
    """The first host name of a SLURM node list such as ``node[01-04]``."""
    try:
        out = subprocess.run(['scontrol', 'show', 'hostnames', node_list],
                             capture_output=True,
                             text=True,
                             check=True).stdout
        return out.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        # Without scontrol, a plain name (no brackets) is its own first host.
        if '[' not in node_list:
            return node_list.split(',')[0]
        prefix, ranges = node_list.split('[', 1)
        first = ranges.split(',')[0].split('-')[0].rstrip(']')
        return prefix + first


def launcher_env(launcher: str,
                 env: Optional[Mapping[str, str]] = None,
                 port: Optional[int] = None) -> Dict[str, str]:
    """The torch.distributed variables for a process started by a launcher.

    Args:
        launcher (str): ``'pytorch'`` (torchrun), ``'slurm'`` (srun) or
            ``'mpi'`` (OpenMPI, with MASTER_ADDR exported).
        env (Mapping[str, str], optional): The environment to read. Defaults
            to ``os.environ``.
        port (int, optional): Master port for slurm and mpi. Defaults to
            MASTER_PORT, else 29500.

    Returns:
        dict[str, str]: RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
        MASTER_PORT.

    Raises:
        KeyError: A variable the launcher should have set is missing.
        ValueError: ``launcher`` is not one of the above.
    """
    env = os.environ if env is None else env
    if launcher == 'pytorch':
        names = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                 'MASTER_PORT')
        _require(env, launcher, *names)
        return {name: env[name] for name in names}
    if launcher not in _RANK_VARIABLES:
        raise _unknown_launcher(launcher)
    rank, local_rank, world_size = _RANK_VARIABLES[launcher]
    if launcher == 'slurm':
        _require(env, launcher, rank, world_size, 'SLURM_NODELIST')
        addr = env.get('MASTER_ADDR') or _first_slurm_host(
            env['SLURM_NODELIST'])
    else:
        _require(env, launcher, rank, world_size, 'MASTER_ADDR')
        addr = env['MASTER_ADDR']
    return dict(
        RANK=env[rank],
        LOCAL_RANK=env.get(local_rank, env[rank]),
        WORLD_SIZE=env[world_size],
        MASTER_ADDR=addr,
        MASTER_PORT=str(port or env.get('MASTER_PORT', DEFAULT_PORT)))


def init_dist_env(launcher: str,
                  backend: str = 'nccl',
                  **kwargs) -> Optional[str]:
    """Initialise the default process group for ``launcher``, unless one
    exists.

    Args:
        launcher (str): One of :data:`LAUNCHERS`.
        backend (str): The backend where CUDA is available (the config's
            ``env_cfg.dist_cfg.backend``). Without CUDA: gloo, since NCCL
            needs GPUs.
        **kwargs: Options of mmengine's ``init_dist``, also honoured
            without CUDA: ``timeout`` (seconds), ``port`` (slurm and mpi).

    Returns:
        str or None: The process group's backend, None for ``'none'``.
    """
    if launcher == 'none':
        return None
    if launcher not in LAUNCHERS:
        raise _unknown_launcher(launcher)
    if torch_dist.is_initialized():
        return torch_dist.get_backend()
    restarted = launcher == 'pytorch' and os.environ.get(
        'TORCHELASTIC_RESTART_COUNT', '0') != '0'
    if torch.cuda.is_available() and not restarted:
        from mmengine.dist import init_dist
        init_dist(launcher, backend=backend, **kwargs)
        return torch_dist.get_backend()
    if torch.cuda.is_available():  # as mmengine's init_dist does
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    else:
        backend = 'gloo'
        os.environ.update(launcher_env(launcher, port=kwargs.get('port')))
    # torch < 2.2 takes no timeout=None
    timeout = kwargs.get('timeout')
    group_kwargs = {} if timeout is None else dict(
        timeout=timedelta(seconds=timeout))
    if restarted:
        group_kwargs['store'] = restart_store(timeout)
    else:
        group_kwargs['init_method'] = 'env://'
    torch_dist.init_process_group(
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **group_kwargs)
    return backend


def restart_store(timeout: Optional[float] = None):
    """The store of a worker group torchrun restarted, under a prefix of
    its own.

    torchrun's static rendezvous (``--master_addr/--master_port``, as in
    ``tools/dist_train.sh``) keeps one TCPStore for all restarts, and
    ``env://`` adds no prefix per restart: the restarted ranks could read
    the addresses the dead ranks published (gloo: ``connectFullMesh failed
    ... Connection refused``; NCCL: a stale unique id), and the restart
    fails now and then. ``TORCHELASTIC_RESTART_COUNT`` names the round.
    """
    store = torch_dist.TCPStore(
        os.environ['MASTER_ADDR'],
        int(os.environ['MASTER_PORT']),
        int(os.environ['WORLD_SIZE']),
        # the agent hosts it, unless torchrun was told not to share one
        is_master=os.environ.get('TORCHELASTIC_USE_AGENT_STORE') != 'True'
        and os.environ['RANK'] == '0',
        timeout=timedelta(seconds=300 if timeout is None else timeout))
    return torch_dist.PrefixStore(
        f"fcos_mm/restart_{os.environ['TORCHELASTIC_RESTART_COUNT']}/", store)


def cpu_model_wrapper_cfg(find_unused_parameters: bool = False) -> dict:
    """The Runner's DDP wrapper config for a model on the CPU: its
    ``device_ids=None`` wins over the Runner's ``[LOCAL_RANK]``.

    Args:
        find_unused_parameters (bool): As for DDP.

    Returns:
        dict: A ``model_wrapper_cfg`` for mmengine's Runner.
    """
    return dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=find_unused_parameters)


def destroy_dist(wait_for_others: bool = True) -> None:
    """Destroy the process groups this process uses (a no-op without one).

    A process that exits with a live gloo / NCCL group leaves its threads
    to interpreter shutdown, which now and then aborts with ``terminate
    called without an active exception`` (SIGABRT) after all the work is
    done, and torchrun then reports the run as failed. Every tool that
    starts a group calls this on its way out.

    Args:
        wait_for_others (bool): Barrier first, so that no rank tears its
            connections down while another still talks to it. False on an
            error path (a dead peer would make the barrier hang).
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    if wait_for_others:
        try:
            torch_dist.barrier()
        except RuntimeError:  # a peer is gone: destroy anyway
            pass
    torch_dist.destroy_process_group()
