"""Datasets, samplers, batching with prefetch to the device, transforms and dataset formats."""
from clt.data.dataloader import DataLoader, default_collate
from clt.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                              TensorDataset, random_split)
from clt.data.datasets import (CIFAR10, MNIST, ArrayDataset, CSVDataset, Digits, FashionMNIST,
                               ImageFolder, NPZDataset, download_and_verify, read_idx, write_idx)
from clt.data.sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                              SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)
from clt.data import transforms

__all__ = ["ArrayDataset", "BatchSampler", "CIFAR10", "CSVDataset", "ChainDataset",
           "ConcatDataset", "DataLoader", "Dataset", "Digits", "DistributedSampler",
           "FashionMNIST", "ImageFolder", "IterableDataset", "MNIST", "NPZDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "default_collate", "download_and_verify",
           "random_split", "read_idx", "transforms", "write_idx"]
