"""Shared settings of the model tests."""
import torch

# The models under test are tiny: one intra-op thread is fastest, and it
# keeps the suite from oversubscribing a small, shared CPU.
torch.set_num_threads(1)
